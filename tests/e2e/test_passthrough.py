"""LiteLLM's provider pass-through routes through a real Envoy: /anthropic,
/gemini, /openai, /azure and /bedrock take the provider's own SDK (or its
wire format) with the gateway's key, and the provider gets the request as
written with the route's deployment's credential instead: never the
caller's. A virtual key is charged from the answer's usage."""

import json
import time

import anthropic
import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_keys import admin, generate
from test_metrics import eventually, value
from test_routing import fleet  # noqa: F401 (the fixture)

ANTHROPIC_KEY = "sk-ant-deployment-key"
GEMINI_KEY = "gemini-deployment-key"
OPENAI_KEY = "sk-openai-deployment-key"
AZURE_KEY = "azure-deployment-key"
AWS_KEY_ID, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # the mock's
PROMPT_COST, COMPLETION_COST = 0.000003, 0.000015
NOVA = "amazon.nova-lite-v1:0"


def pass_through_config(port):
    price = f"input_cost_per_token: {PROMPT_COST}\n      output_cost_per_token: {COMPLETION_COST}"
    return f"""
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:{port}
      api_key: {ANTHROPIC_KEY}
      use_in_pass_through: true
      {price}
  - model_name: flash
    litellm_params:
      model: gemini/gemini-2.0-flash
      api_base: http://127.0.0.1:{port}
      api_key: {GEMINI_KEY}
      use_in_pass_through: true
      {price}
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:{port}/v1
      api_key: {OPENAI_KEY}
      use_in_pass_through: true
      {price}
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: http://127.0.0.1:{port}
      api_key: {AZURE_KEY}
      api_version: "2024-10-21"
      use_in_pass_through: true
  - model_name: nova
    litellm_params:
      model: bedrock/{NOVA}
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: {AWS_KEY_ID}
      aws_secret_access_key: {AWS_SECRET}
      aws_region_name: us-east-1
      use_in_pass_through: true
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture
def gw(fleet):
    mock = fleet.mock("provider")
    client = fleet.gateway(pass_through_config(mock.port))
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    return mock, root, fleet


def headers_of(req):
    return {k.lower(): v[0] for k, v in req["header"].items()}


def sent(mock, path_part):
    reqs = [r for r in mock.requests() if path_part in r["path"]]
    assert reqs, f"the provider got no request to {path_part}: {[r['path'] for r in mock.requests()]}"
    return reqs


def assert_caller_key_never_sent(mock, *keys):
    for r in mock.requests():
        raw = json.dumps(r)
        for k in keys:
            assert k not in raw, f"the caller's key reached the provider: {r['path']}"
        assert not any(h.lower().startswith("x-llmvoy-") for h in r["header"])


def one_group_gateway(fleet, mock, settings="", env=None):
    """A gateway with one OpenAI group on `mock` and `settings` under
    general_settings; returns its root URL."""
    client = fleet.gateway(f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:{mock.port}/v1
      api_key: sk-x
general_settings:
  master_key: {MASTER_KEY}
{settings}""", env=env)
    return str(client.base_url).rstrip("/").removesuffix("/v1")


def test_anthropic_sdk(gw):
    mock, root, _ = gw
    client = anthropic.Anthropic(base_url=f"{root}/anthropic", api_key=MASTER_KEY, max_retries=0)
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hello"}])
    assert msg.content[0].text and msg.usage.output_tokens > 0
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "stream"}]) as s:
        text = "".join(s.text_stream)
    assert text
    reqs = sent(mock, "/v1/messages")
    assert [r["path"] for r in reqs] == ["/v1/messages", "/v1/messages"]
    h = headers_of(reqs[0])
    assert h["x-api-key"] == ANTHROPIC_KEY and "anthropic-version" in h and "authorization" not in h
    # The body goes as the client wrote it: the model is the client's.
    assert reqs[0]["body"]["model"] == "claude-sonnet-4-5"
    assert_caller_key_never_sent(mock, MASTER_KEY)


def test_openai_sdk_at_either_base(gw):
    mock, root, _ = gw
    for base in (f"{root}/openai", f"{root}/openai/v1"):
        client = openai.OpenAI(base_url=base, api_key=MASTER_KEY, max_retries=0)
        r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content
    # A request without a body: the provider's own listing, not the gateway's.
    assert [m.id for m in client.models.list()] != ["gpt"]
    assert [r["path"] for r in mock.requests() if r["method"] == "GET"] == ["/v1/models"]
    reqs = sent(mock, "/chat/completions")
    assert [r["path"] for r in reqs] == ["/v1/chat/completions"] * 2
    assert {headers_of(r)["authorization"] for r in reqs} == {f"Bearer {OPENAI_KEY}"}
    assert {r["body"]["model"] for r in reqs} == {"gpt-4o-mini"}, "not the deployment's model: the request's"
    assert_caller_key_never_sent(mock, MASTER_KEY)


def test_gemini_generate_and_stream_with_header_or_query_key(gw):
    mock, root, _ = gw
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    with httpx.Client(base_url=f"{root}/gemini", timeout=30) as c:
        r = c.post("/v1beta/models/gemini-2.0-flash:generateContent", json=body, headers={"x-goog-api-key": MASTER_KEY})
        assert r.status_code == 200, r.text
        assert r.json()["usageMetadata"]["promptTokenCount"] > 0
        # What Gemini CLI sends: an SSE stream, the key in the query here.
        with c.stream("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
                      params={"alt": "sse", "key": MASTER_KEY}, json=body) as s:
            assert s.status_code == 200
            events = [line for line in s.iter_lines() if line.startswith("data:")]
        assert len(events) >= 2 and "candidates" in events[0]
    reqs = sent(mock, ":")
    assert [r["path"] for r in reqs] == ["/v1beta/models/gemini-2.0-flash:generateContent",
                                         "/v1beta/models/gemini-2.0-flash:streamGenerateContent"]
    assert reqs[1]["query"] == "alt=sse", "the caller's ?key= is not passed on"
    assert {headers_of(r)["x-goog-api-key"] for r in reqs} == {GEMINI_KEY}
    assert_caller_key_never_sent(mock, MASTER_KEY)


def test_azure_path_and_api_version(gw):
    mock, root, _ = gw
    az = openai.AzureOpenAI(azure_endpoint=f"{root}/azure", api_key=MASTER_KEY, api_version="2024-10-21", max_retries=0)
    assert az.chat.completions.create(model="gpt-4o-eu", messages=[{"role": "user", "content": "hi"}]).choices
    with httpx.Client(base_url=f"{root}/azure", timeout=30) as c:
        # No api-version: the deployment's.
        r = c.post("/openai/deployments/gpt-4o-eu/chat/completions", headers={"api-key": MASTER_KEY},
                   json={"model": "gpt-4o-eu", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
    reqs = sent(mock, "/openai/deployments/")
    assert {r["path"] for r in reqs} == {"/openai/deployments/gpt-4o-eu/chat/completions"}
    assert [r["query"] for r in reqs] == ["api-version=2024-10-21"] * 2
    assert {headers_of(r)["api-key"] for r in reqs} == {AZURE_KEY}
    assert_caller_key_never_sent(mock, MASTER_KEY)


def test_bedrock_is_signed_anew(gw):
    """The mock checks the SigV4 signature as AWS does: a request the gateway
    did not sign for the deployment would be refused with 403."""
    mock, root, _ = gw
    body = {"messages": [{"role": "user", "content": [{"text": "hello"}]}], "inferenceConfig": {"maxTokens": 50}}
    with httpx.Client(base_url=f"{root}/bedrock", timeout=30) as c:
        r = c.post(f"/model/{NOVA}/converse", json=body, headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["inputTokens"] > 0
    h = headers_of(sent(mock, "/converse")[0])
    assert h["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert_caller_key_never_sent(mock, MASTER_KEY)


def test_wrong_key_gets_401_in_the_providers_shape(gw):
    mock, root, _ = gw
    client = anthropic.Anthropic(base_url=f"{root}/anthropic", api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "authentication_error"
    o = openai.OpenAI(base_url=f"{root}/openai", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        o.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with httpx.Client(base_url=root, timeout=30) as c:
        r = c.post("/gemini/v1beta/models/gemini-2.0-flash:generateContent", params={"key": "wrong"},
                   json={"contents": [{"parts": [{"text": "x"}]}]})
        assert r.status_code == 401
        assert r.json()["error"]["status"] == "UNAUTHENTICATED" and r.json()["error"]["code"] == 401
        r = c.post(f"/bedrock/model/{NOVA}/converse", json={"messages": []})
        assert r.status_code == 401 and "message" in r.json() and r.headers["x-amzn-errortype"]
    assert mock.requests() == [], "a refused request reaches no provider"


def test_virtual_key_is_charged_from_the_answers_usage(gw):
    mock, root, fleet = gw
    with httpx.Client(base_url=root, timeout=30) as c:
        k = generate(c, key_alias="native-sdks")
        limited = generate(c, key_alias="gpt-only", models=["gpt"])
    client = anthropic.Anthropic(base_url=f"{root}/anthropic", api_key=k["key"], max_retries=0)
    msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "price me"}])
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "and me"}]) as s:
        final = s.get_final_message()
    body = {"contents": [{"role": "user", "parts": [{"text": "gemini too"}]}]}
    with httpx.Client(base_url=f"{root}/gemini", timeout=30) as c:
        with c.stream("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent", params={"alt": "sse"},
                      json=body, headers={"x-goog-api-key": k["key"]}) as s:
            last = [json.loads(line[5:]) for line in s.iter_lines() if line.startswith("data:")][-1]
    gu = last["usageMetadata"]
    want = [
        msg.usage.input_tokens * PROMPT_COST + msg.usage.output_tokens * COMPLETION_COST,
        final.usage.input_tokens * PROMPT_COST + final.usage.output_tokens * COMPLETION_COST,
        gu["promptTokenCount"] * PROMPT_COST + gu["candidatesTokenCount"] * COMPLETION_COST,
    ]
    # A key limited to a group may call its deployment's model, and no other.
    lim = openai.OpenAI(base_url=f"{root}/openai", api_key=limited["key"], max_retries=0)
    assert lim.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ok"}]).choices
    with pytest.raises(openai.PermissionDeniedError):
        lim.chat.completions.create(model="o3", messages=[{"role": "user", "content": "no"}])

    with httpx.Client(base_url=root, timeout=30) as c:
        deadline = time.time() + 10
        while True:  # spend is written in batches, every second
            logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
            if len(logs) >= 3 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert len(logs) == 3, logs
        assert {l["call_type"] for l in logs} == {"pass_through_endpoint"}
        assert sorted(l["model"] for l in logs) == ["anthropic/claude-sonnet-4-5"] * 2 + ["gemini/gemini-2.0-flash"]
        assert sum(l["spend"] for l in logs) == pytest.approx(sum(want))
        info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
        assert info["spend"] == pytest.approx(sum(want))
    # Metrics as for any route: under the deployment's group.
    c = httpx.Client(base_url=root, timeout=30)
    assert value(c, "llmvoy_spend_usd_total", model_group="claude") == pytest.approx(sum(want[:2]))
    assert value(c, "llmvoy_spend_usd_total", model_group="flash") == pytest.approx(want[2])
    eventually(c, "llmvoy_requests_total", lambda v: v >= 2, model_group="claude", **{"class": "2xx"})


def test_bedrock_answers_are_charged_streams_included(gw):
    mock, root, _ = gw
    with httpx.Client(base_url=root, timeout=30) as c:
        k = generate(c, key_alias="boto")
        body = {"messages": [{"role": "user", "content": [{"text": "count me"}]}], "inferenceConfig": {"maxTokens": 50}}
        # An AWS SDK keeps Authorization for its own signature: the gateway
        # key goes in x-litellm-api-key.
        auth = {"x-litellm-api-key": k["key"], "authorization": "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/..."}
        r = c.post(f"/bedrock/model/{NOVA}/converse", json=body, headers=auth)
        assert r.status_code == 200, r.text
        usage = r.json()["usage"]
        with c.stream("POST", f"/bedrock/model/{NOVA}/converse-stream", json=body, headers=auth) as s:
            assert s.status_code == 200 and s.headers["content-type"].startswith("application/vnd.amazon.eventstream")
            assert len(s.read()) > 0
        deadline = time.time() + 10
        while True:
            logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
            if len(logs) >= 2 or time.time() > deadline:
                break
            time.sleep(0.2)
    assert len(logs) == 2, logs
    by_tokens = sorted((l["prompt_tokens"], l["completion_tokens"]) for l in logs)
    assert (usage["inputTokens"], usage["outputTokens"]) in by_tokens
    assert all(p > 0 and c > 0 for p, c in by_tokens), "the stream's metadata event is read too"
    assert "AKIDCLIENT" not in json.dumps(mock.requests()), "the client's own signature is not passed on"


def test_credential_from_the_environment(fleet):
    """No deployment marked use_in_pass_through: LiteLLM's variables
    (ANTHROPIC_API_KEY, ANTHROPIC_API_BASE) name the provider; a route
    without any answers 503."""
    mock = fleet.mock("anthropic")
    root = one_group_gateway(fleet, mock, env={"ANTHROPIC_API_KEY": "sk-ant-from-env",
                                               "ANTHROPIC_API_BASE": f"http://127.0.0.1:{mock.port}"})
    a = anthropic.Anthropic(base_url=f"{root}/anthropic", api_key=MASTER_KEY, max_retries=0)
    assert a.messages.create(model="claude-3-5-haiku-latest", max_tokens=16, messages=[{"role": "user", "content": "hi"}]).content
    assert headers_of(sent(mock, "/v1/messages")[0])["x-api-key"] == "sk-ant-from-env"
    with httpx.Client(base_url=root, timeout=30) as c:
        r = c.post("/gemini/v1beta/models/gemini-2.0-flash:generateContent", headers={"x-goog-api-key": MASTER_KEY},
                   json={"contents": [{"parts": [{"text": "x"}]}]})
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"
    assert "sk-ant-from-env" not in fleet.llmvoy.output()


def test_general_settings_pass_through_endpoints(fleet):
    """LiteLLM's pass_through_endpoints: path, target, headers (with an
    os.environ/ reference inside the value), forward_headers and
    include_subpath; the caller still needs a gateway key."""
    mock = fleet.mock("target")
    root = one_group_gateway(fleet, mock, f"""  pass_through_endpoints:
    - path: /custom/chat
      target: http://127.0.0.1:{mock.port}/v1/chat/completions
      headers:
        Authorization: "Bearer os.environ/CUSTOM_TARGET_KEY"
    - path: /mockapi
      target: http://127.0.0.1:{mock.port}/v1
      include_subpath: true
      forward_headers: true
""", env={"CUSTOM_TARGET_KEY": "target-secret"})
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=root, timeout=30) as c:
        auth = {"authorization": f"Bearer {MASTER_KEY}", "x-team": "blue"}
        r = c.post("/custom/chat", json=chat, headers=auth)
        assert r.status_code == 200, r.text
        assert c.post("/custom/chat/more", json=chat, headers=auth).status_code == 404, "no include_subpath"
        r = c.post("/mockapi/embeddings", json={"model": "text-embedding-3-small", "input": "x"}, headers=auth)
        assert r.status_code == 200, r.text
        assert c.post("/custom/chat", json=chat, headers={"authorization": "Bearer sk-wrong"}).status_code == 401
    first, second = [r for r in mock.requests()]
    assert (first["path"], second["path"]) == ("/v1/chat/completions", "/v1/embeddings")
    h1, h2 = headers_of(first), headers_of(second)
    assert h1["authorization"] == "Bearer target-secret" and "x-team" not in h1, "forward_headers off: only the endpoint's"
    assert "authorization" not in h2 and h2["x-team"] == "blue", "forward_headers on: the client's, but its key"
    assert_caller_key_never_sent(mock, MASTER_KEY)
    assert "target-secret" not in fleet.llmvoy.output()


def test_envoys_own_errors_on_the_anthropic_route_are_anthropics(fleet):
    """A provider that cannot be reached on /anthropic: Envoy's error reply
    in Anthropic's shape, which the Anthropic SDK reads."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    client = fleet.gateway(pass_through_config(port))
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    sdk = anthropic.Anthropic(base_url=root + "/anthropic", api_key=MASTER_KEY, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as e:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 500
    assert e.value.body == {"type": "error", "error": {"type": "api_error",
                                                       "message": "could not get a response from the model deployment"}}
