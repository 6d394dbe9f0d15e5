"""The foundation's promise, checked with the official OpenAI SDK through a real
Envoy: chat completions (plain and streamed), model listing, OpenAI-shaped
errors, authentication, and what the provider actually receives."""

import json
import time

import httpx
import openai
import pytest

from conftest import MASTER_KEY


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def chat(client, model="gpt-4o-mini", **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello llmvoy"}], **kw)


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello llmvoy"}])
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert "hello llmvoy" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    served_by = raw.headers["x-llmvoy-model-id"]
    assert served_by in {"deployment-a", "deployment-b"}
    assert raw.headers["x-litellm-model-id"] == served_by
    # The mock names itself; the header must name the same deployment.
    expected_mock = {"deployment-a": "mock-a", "deployment-b": "mock-b"}[served_by]
    assert completion.system_fingerprint == f"mock:{expected_mock}"


def test_traffic_reaches_both_deployments(client):
    seen = set()
    for _ in range(40):
        seen.add(chat(client).system_fingerprint)
        if len(seen) == 2:
            break
    assert seen == {"mock:mock-a", "mock:mock-b"}


def test_deployments_sharing_an_address_both_serve_with_their_own_key(client, mock_a):
    mock_a.reset()
    served = set()
    for _ in range(20):
        raw = client.chat.completions.with_raw_response.create(
            model="shared", messages=[{"role": "user", "content": "hi"}])
        served.add(raw.headers["x-llmvoy-model-id"])
    assert served == {"shared-1", "shared-2"}
    sent = {(body(r)["model"], header(r, "Authorization")) for r in mock_a.requests()}
    assert sent == {("shared-1", "Bearer sk-shared-1"), ("shared-2", "Bearer sk-shared-2")}


def test_streaming_chunks_arrive_as_sent(client):
    # 6 chunks, 300 ms apart: the stream lasts ~1.5 s at the mock. If anything
    # on the path buffered it, the first chunk would arrive at the end.
    start = time.monotonic()
    stream = chat(client, stream=True, stream_options={"include_usage": True},
                  extra_headers={"x-mock-chunks": "6", "x-mock-chunk-delay-ms": "300"})
    arrivals, text, usage = [], "", None
    for chunk in stream:
        arrivals.append(time.monotonic() - start)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert "hello llmvoy" in text
    assert usage is not None and usage.total_tokens > 0
    first, last = arrivals[0], arrivals[-1]
    assert last >= 1.4, f"stream ended after {last:.2f}s; the mock was told to take ~1.5s"
    assert first < last - 1.0, f"first chunk at {first:.2f}s, last at {last:.2f}s: the stream was buffered"


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["gpt-4o-mini", "only-b", "shared"]
    assert client.models.retrieve("only-b").id == "only-b"


def test_unknown_model_is_openai_400(client):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, model="gpt-5-turbo-nonexistent")
    err = exc.value
    assert err.status_code == 400
    body = err.response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    assert "gpt-5-turbo-nonexistent" in body["error"]["message"]
    assert "gpt-4o-mini" in body["error"]["message"] and "only-b" in body["error"]["message"]
    assert body["error"]["param"] == "model"


def test_malformed_json_is_400(gateway):
    r = httpx.post(gateway.base_url + "/chat/completions", content=b'{"model": "gpt-4o-mini", "messages": [',
                   headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("key", [None, "sk-wrong", MASTER_KEY + "x", MASTER_KEY[:-1]])
def test_missing_or_wrong_master_key_is_401(gateway, key):
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(gateway.base_url + "/chat/completions", headers=headers,
                   json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "auth_error"
    r = httpx.get(gateway.base_url + "/models", headers=headers)
    assert r.status_code == 401


def test_sdk_raises_authentication_error(gateway):
    bad = openai.OpenAI(base_url=gateway.base_url, api_key="sk-not-the-master-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        chat(bad)


def test_upstream_sees_deployment_model_and_key_never_the_clients(client, mock_a, mock_b):
    mock_a.reset()
    mock_b.reset()
    for _ in range(20):
        chat(client)
    chat(client, model="only-b")
    a, b = mock_a.requests(), mock_b.requests()
    assert a and b, "both deployments should have served"
    for req in a:
        assert req["path"] == "/v1/chat/completions"
        assert header(req, "Authorization") == "Bearer sk-deployment-a"
        assert body(req)["model"] == "gpt-4o-mini-2024-07-18"
    models_b = {body(req)["model"] for req in b}
    assert models_b == {"meta-llama/Llama-3.1-8B-Instruct", "llama3.2"}
    for req in b:
        if body(req)["model"] == "llama3.2":
            assert header(req, "Authorization") is None, "a deployment without a key sends none"
        else:
            assert header(req, "Authorization") == "Bearer sk-deployment-b"
    for req in a + b:
        assert MASTER_KEY not in json.dumps(req), "the client's gateway key reached a provider"
        # A length, not a chunked body: some providers' front ends refuse
        # those (the mock's Go server drops Content-Length from a chunked one).
        assert int(header(req, "Content-Length")) > 0


def test_body_near_the_limit_reaches_the_provider_whole(client, mock_a, mock_b):
    # The gateway reads it in one message and hands it back rewritten in
    # another: nothing of it may be cut on the way.
    mock_a.reset()
    mock_b.reset()
    content = "b" * (24 << 20)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert completion.choices[0].finish_reason == "stop"
    a, b = mock_a.requests(), mock_b.requests()
    (req,) = a + b
    # Each deployment of the group gets its own model.
    assert body(req)["model"] == ("gpt-4o-mini-2024-07-18" if a else "meta-llama/Llama-3.1-8B-Instruct")
    assert body(req)["messages"][0]["content"] == content
    assert int(header(req, "Content-Length")) > len(content)


def test_body_over_the_limit_is_openai_413(client, mock_a, mock_b):
    mock_a.reset()
    mock_b.reset()
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a" * (33 << 20)}])
    assert e.value.status_code == 413
    assert e.value.body["type"] == "invalid_request_error"
    assert "the limit is 32 MiB" in e.value.body["message"]
    assert not mock_a.requests() and not mock_b.requests()


def test_gateway_key_in_other_headers_is_not_forwarded(gateway, mock_b):
    mock_b.reset()
    r = httpx.post(gateway.base_url + "/chat/completions",
                   headers={"api-key": MASTER_KEY, "x-api-key": MASTER_KEY},
                   json={"model": "only-b", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    (req,) = mock_b.requests()
    assert MASTER_KEY not in json.dumps(req)


def test_health_endpoints(gateway):
    r = httpx.get(gateway.root + "/health/liveliness")
    assert r.status_code == 200 and r.json() == "I'm alive!"
    r = httpx.get(gateway.root + "/health/readiness")
    assert r.status_code == 200 and r.json()["status"] == "healthy"
    assert httpx.get(gateway.root + "/health").status_code == 401
    r = httpx.get(gateway.root + "/health", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200
    report = r.json()
    assert report["healthy_count"] == 5 and report["unhealthy_count"] == 0
    assert "sk-deployment" not in r.text


def test_unknown_path_is_openai_404(gateway):
    r = httpx.get(gateway.root + "/v1/nope", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_client_cannot_pick_a_cluster_by_header(gateway):
    # The route header is the gateway's: a client's copy is overwritten.
    r = httpx.post(gateway.base_url + "/chat/completions",
                   headers={"authorization": f"Bearer {MASTER_KEY}", "x-llmvoy-route": "group_only-b"},
                   json={"model": "gpt-4o-mini-unknown", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def body(req):
    return req["body"]


def test_azure_openai_sdk(gateway, mock_a, mock_b):
    """The official AzureOpenAI client, as teams point it at LiteLLM: the
    gateway key in api-key, the model group in the path
    (/openai/deployments/{model}/chat/completions?api-version=...); the
    provider gets its own path and key, never the gateway key (and the
    client's query only because this gateway forwards client headers)."""
    mock_a.reset()
    mock_b.reset()
    azure = openai.AzureOpenAI(azure_endpoint=gateway.root, api_key=MASTER_KEY, api_version="2024-10-21",
                               max_retries=0, timeout=30)
    completion = azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi azure"}])
    assert "hi azure" in completion.choices[0].message.content
    stream = azure.chat.completions.create(model="gpt-4o-mini", stream=True,
                                           messages=[{"role": "user", "content": "stream azure"}])
    assert "stream azure" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    reqs = mock_a.requests() + mock_b.requests()
    assert len(reqs) == 2
    for req in reqs:
        assert req["path"] == "/v1/chat/completions"
        assert req.get("query") == "api-version=2024-10-21", req
        assert MASTER_KEY not in json.dumps(req)
