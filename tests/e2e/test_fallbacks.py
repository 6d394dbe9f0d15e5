"""LiteLLM's cooldowns, fallbacks and aliases through a real Envoy: a failing
deployment cools down (Go counts failures from Envoy's upstream access log and
serves the deployment as unhealthy over EDS) and comes back after
cooldown_time; a group whose deployments are all cooling down answers a 429
with Retry-After; after the last retry a request falls back to the next group
of its chain (an Envoy internal redirect), context-window errors to their own
chain; aliases route like their group.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import concurrent.futures
import socket
import time
import types

import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_keys import admin, generate, root
from test_metrics import eventually, value
from test_routing import chat, chat_attempts, configure, deployment, fleet  # noqa: F401  (fleet is a fixture)


def router_config(*deployments, router=""):
    return ("model_list:\n" + "\n".join(deployments) + "\n"
            + "router_settings:\n" + router
            + f"general_settings:\n  master_key: {MASTER_KEY}\n"
            # The tests steer the mocks with x-mock-* headers.
            + "  forward_client_headers_to_llm_api: true\n")


def wait_until(check, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_failing_deployment_cools_down_and_comes_back(fleet):
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    client = fleet.gateway(router_config(
        deployment("gpt", "bad", bad), deployment("gpt", "good", good),
        router="  num_retries: 1\n  allowed_fails: 2\n  cooldown_time: 3\n"))

    # Every request succeeds (a 500 on `bad` is retried on `good`) until
    # `bad` has failed more than allowed_fails times: then it cools down.
    for i in range(12):
        r = chat(client, "gpt", f"warm-{i}")
        assert (r.status, r.deployment) == (200, "good"), r
    wait_until(lambda: "deployment cooling down" in fleet.llmvoy.output(), what="the cooldown log line")
    assert len(chat_attempts(bad)) >= 3, "bad was tried more than allowed_fails times"

    # While it cools down it gets no traffic at all.
    time.sleep(0.3)  # EDS reaches Envoy
    before = len(chat_attempts(bad))
    for i in range(20):
        assert chat(client, "gpt", f"cool-{i}").status == 200
    assert len(chat_attempts(bad)) == before, "a cooling deployment got traffic"

    # Healthy again: after cooldown_time it is back in rotation.
    configure(bad, status=0)
    wait_until(lambda: "back in rotation" in fleet.llmvoy.output(), timeout=10, what="the end of the cooldown")
    time.sleep(0.3)
    results = [chat(client, "gpt", f"back-{i}") for i in range(30)]
    assert all(r.status == 200 for r in results)
    assert sum(r.deployment == "bad" for r in results) >= 5, "traffic returns after cooldown_time"


def test_all_deployments_cooling_down_is_a_429_with_retry_after(fleet):
    # Two deployments: like LiteLLM, llmvoy never cools down the only
    # deployment of a group.
    one, two = fleet.mock("one", status=503), fleet.mock("two", status=500)
    client = fleet.gateway(router_config(
        deployment("gpt", "one", one), deployment("gpt", "two", two),
        router="  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 30\n"))

    first = client.post("/chat/completions", json={"model": "gpt", "messages": [{"role": "user", "content": "x"}]})
    assert first.status_code in (500, 503), first.text  # the deployments' own error
    wait_until(lambda: fleet.llmvoy.output().count("deployment cooling down") == 2, what="both cooldowns")

    r = client.post("/chat/completions", json={"model": "gpt", "messages": [{"role": "user", "content": "y"}]})
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 30
    err = r.json()["error"]
    assert "No deployments available" in err["message"] and "[one two]" in err["message"]
    assert len(chat_attempts(one)) + len(chat_attempts(two)) == 2, "no request reached a cooling deployment"

    # The OpenAI SDK sees a RateLimitError (with retries off, at once).
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "z"}])


def test_fallback_after_retries_are_exhausted(fleet):
    primary, backup = fleet.mock("primary", status=500), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("primary", "p1", primary), deployment("backup", "b1", backup),
        router='  num_retries: 2\n  disable_cooldowns: true\n  fallbacks: [{"primary": ["backup"]}]\n'))

    r = chat(client, "primary", "fall-1")
    assert (r.status, r.deployment, r.mock) == (200, "b1", "backup"), r
    # num_retries + 1 attempts in the group first, then the fallback.
    assert len(chat_attempts(primary)) == 3
    [attempt] = chat_attempts(backup)
    assert attempt["body"]["model"] == "b1-model", "the request is rewritten for the fallback's deployment"
    assert not {k.lower() for k in attempt["header"]} & {"x-llmvoy-fallback", "x-envoy-attempt-count"}

    # Streaming falls back before the first byte reaches the client.
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    stream = sdk.chat.completions.create(model="primary", messages=[{"role": "user", "content": "s"}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "mock backup" in text

    # Without a fallback left, the client gets the group's error.
    configure(backup, status=500)
    r = client.post("/chat/completions", json={"model": "primary", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 500, r.text


def test_context_window_errors_take_their_own_chain(fleet):
    small, big, other = fleet.mock("small", context_window=10), fleet.mock("big"), fleet.mock("other")
    client = fleet.gateway(router_config(
        deployment("small", "s1", small), deployment("big", "g1", big), deployment("other", "o1", other),
        router=('  disable_cooldowns: true\n'
                '  fallbacks: [{"small": ["other"]}]\n'
                '  context_window_fallbacks: [{"small": ["big"]}]\n')))

    short = chat(client, "small", "hi")
    assert short.deployment == "s1"
    long = chat(client, "small", "word " * 200)
    assert (long.status, long.deployment) == (200, "g1"), long
    # A 400 is not retried, and it does not count against the deployment.
    assert len([a for a in chat_attempts(small) if "word" in a["body"]["messages"][0]["content"]]) == 1
    assert not chat_attempts(other)


def test_context_window_errors_without_their_own_chain_take_the_generic_one(fleet):
    # No context_window_fallbacks: LiteLLM's Router "defaults to fallbacks".
    small, other = fleet.mock("small", context_window=10), fleet.mock("other")
    client = fleet.gateway(router_config(
        deployment("small", "s1", small), deployment("other", "o1", other),
        router='  disable_cooldowns: true\n  fallbacks: [{"small": ["other"]}]\n'))

    long = chat(client, "small", "word " * 200)
    assert (long.status, long.deployment) == (200, "o1"), long
    assert len(chat_attempts(small)) == 1


def test_model_group_alias(fleet):
    m = fleet.mock("m")
    client = fleet.gateway(router_config(
        deployment("gpt-4o", "d1", m),
        router='  model_group_alias: {"gpt-4": "gpt-4o", "internal": {"model": "gpt-4o", "hidden": true}}\n'))

    for name in ("gpt-4", "internal"):
        r = chat(client, name, "alias")
        assert (r.status, r.deployment) == (200, "d1"), r
    models = {m["id"] for m in client.get("/models").json()["data"]}
    assert models == {"gpt-4o", "gpt-4"}, "hidden aliases are not listed"
    assert client.get("/models/gpt-4").status_code == 200


def test_client_cannot_forge_a_fallback(fleet):
    primary, backup = fleet.mock("primary"), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("primary", "p1", primary), deployment("backup", "b1", backup),
        router='  fallbacks: [{"primary": ["backup"]}]\n'))
    r = client.post("/chat/completions", json={"model": "primary", "messages": [{"role": "user", "content": "x"}]},
                    headers={"x-llmvoy-fallback": "forged;generic;1;primary"})
    assert (r.status_code, r.headers["x-llmvoy-model-id"]) == (200, "p1")


def test_retry_policy_per_error_class(fleet):
    limited, fine = fleet.mock("limited", status=429), fleet.mock("fine")
    client = fleet.gateway(router_config(
        deployment("gpt", "limited", limited), deployment("gpt", "fine", fine),
        router=('  num_retries: 2\n  disable_cooldowns: true\n'
                '  retry_policy: {"RateLimitErrorRetries": 0}\n')))

    results = [chat(client, "gpt", f"rl-{i}") for i in range(20)]
    # Round robin: about half land on the rate-limited deployment first, and
    # with RateLimitErrorRetries 0 they are not retried.
    assert 5 <= sum(r.status == 429 for r in results) <= 15, results
    assert len(chat_attempts(limited)) == sum(r.status == 429 for r in results)

    # Server errors still get num_retries.
    configure(limited, status=500)
    assert all(chat(client, "gpt", f"se-{i}").status == 200 for i in range(10))


def test_stream_cut_after_it_started_is_an_error_not_a_silent_end(fleet):
    # Once bytes reached the client, nothing is retried or replayed: the cut
    # must reach the client as an error, never as a normal end of stream.
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(router_config(deployment("gpt", "a", a), deployment("gpt", "b", b),
                                         router="  num_retries: 2\n"))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    stream = sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True,
                                         extra_headers={"x-mock-chunks": "6", "x-mock-fail-stream-after": "2"})
    text = ""
    with pytest.raises(Exception) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert text, "the chunks before the cut arrived"
    assert isinstance(info.value, (httpx.HTTPError, openai.APIError)), repr(info.value)
    # One attempt only: a started stream is never retried.
    assert len(chat_attempts(a)) + len(chat_attempts(b)) == 1


def test_timeout_is_per_attempt_and_retried_elsewhere(fleet):
    slow, fast = fleet.mock("slow", latency="3s"), fleet.mock("fast")
    client = fleet.gateway(router_config(
        deployment("gpt", "slow", slow).replace("api_key: sk-mock", "api_key: sk-mock\n      timeout: 0.5"),
        deployment("gpt", "fast", fast).replace("api_key: sk-mock", "api_key: sk-mock\n      timeout: 0.5"),
        router="  num_retries: 1\n  disable_cooldowns: true\n"))
    start = time.monotonic()
    results = [chat(client, "gpt", f"t-{i}") for i in range(4)]
    assert all((r.status, r.deployment) == (200, "fast") for r in results), results
    # Requests that met the slow deployment first waited one timeout, not 3 s.
    assert time.monotonic() - start < 2.8


def test_content_policy_errors_take_their_own_chain(fleet):
    # Azure's content filter (a 400 the Azure translator turns into OpenAI's
    # content_policy_violation) sends the request down content_policy_fallbacks.
    azure, other, generic = fleet.mock("azure"), fleet.mock("other"), fleet.mock("generic")
    client = fleet.gateway(router_config(
        f"""  - model_name: filtered
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: http://127.0.0.1:{azure.port}/
      api_key: az-key
      api_version: "2024-10-21"
    model_info:
      id: az1""",
        deployment("lenient", "l1", other), deployment("generic", "g1", generic),
        router=('  disable_cooldowns: true\n'
                '  fallbacks: [{"filtered": ["generic"]}]\n'
                '  content_policy_fallbacks: [{"filtered": ["lenient"]}]\n')))

    ok = chat(client, "filtered", "hello")
    assert (ok.status, ok.deployment) == (200, "az1")
    r = client.post("/chat/completions", json={"model": "filtered", "messages": [{"role": "user", "content": "x"}]},
                    headers={"x-mock-content-filter": "1"})
    assert (r.status_code, r.headers["x-llmvoy-model-id"]) == (200, "l1"), r.text
    assert not chat_attempts(generic)


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_from_anthropic_to_openai(fleet, stream):
    # One chain across providers: each attempt is translated for the
    # deployment Envoy picked, Anthropic's Messages API first, then OpenAI's.
    claude, gpt = fleet.mock("claude", status=529), fleet.mock("gpt")
    client = fleet.gateway(router_config(
        f"""  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20241022
      api_base: http://127.0.0.1:{claude.port}
      api_key: sk-ant-test
    model_info:
      id: claude-1""",
        deployment("gpt", "gpt-1", gpt),
        router='  num_retries: 1\n  disable_cooldowns: true\n  fallbacks: [{"claude": ["gpt"]}]\n'))

    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    if stream:
        chunks = list(sdk.chat.completions.create(model="claude", messages=messages, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = sdk.chat.completions.create(model="claude", messages=messages).choices[0].message.content
    assert "mock gpt" in text
    tried = [r for r in claude.requests() if r["path"] == "/v1/messages"]
    assert len(tried) == 2, "num_retries + 1 attempts on Anthropic's API first"
    [served] = chat_attempts(gpt)
    assert served["body"]["model"] == "gpt-1-model" and served["body"]["messages"][0]["role"] == "system"


@pytest.mark.parametrize("retries", [0, 1])
def test_stream_timeout_is_the_per_attempt_timeout_of_streams(fleet, retries):
    slow = fleet.mock("slow", latency="1500ms")
    client = fleet.gateway(router_config(
        deployment("gpt", "slow", slow).replace("api_key: sk-mock", "api_key: sk-mock\n      timeout: 5\n      stream_timeout: 0.4"),
        router=f"  num_retries: {retries}\n  disable_cooldowns: true\n"))
    start = time.monotonic()
    r = client.post("/chat/completions", json={"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 408, r.text  # LiteLLM's litellm.Timeout
    assert time.monotonic() - start < 1.4, "each attempt gave up after stream_timeout"
    # A request that does not stream has litellm_params.timeout.
    assert chat(client, "gpt", "not streaming").status == 200


def test_chain_through_a_group_the_gateway_rewrites(fleet):
    """A chain of three groups whose middle one is OpenAI-compatible with one
    upstream model and no chain of its own (the gateway writes such a
    group's model into the body): the third pass still routes by the
    client's model, not by the body the second pass rewrote."""
    first, middle, last = fleet.mock("first", status=500), fleet.mock("middle", status=500), fleet.mock("last")
    client = fleet.gateway(router_config(
        deployment("first", "f1", first), deployment("middle", "m1", middle), deployment("last", "l1", last),
        router='  num_retries: 0\n  disable_cooldowns: true\n  fallbacks: [{"first": ["middle", "last"]}]\n'))
    r = chat(client, "first", "chain-3")
    assert (r.status, r.deployment, r.mock) == (200, "l1", "last"), r
    assert chat_attempts(middle)[0]["body"]["model"] == "m1-model"
    assert chat_attempts(last)[0]["body"]["model"] == "l1-model"


# --- failures without an answer: the fallback hop --------------------------------


def refusing():
    """A stand-in for a mock whose port refuses connections: a loopback port
    bound and closed again, so nothing listens there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return types.SimpleNamespace(port=s.getsockname()[1])


def dead_with_backup(fleet):
    """Group "dead", whose only deployment refuses connections, falls back
    to "backup" (a mock) after one retry."""
    backup = fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("dead", "d1", refusing()), deployment("backup", "b1", backup),
        router='  num_retries: 1\n  fallbacks: [{"dead": ["backup"]}]\n'))
    return backup, client


def test_refused_connections_fall_back_after_the_last_retry(fleet):
    """A group whose only deployment refuses connections: Envoy makes no
    upstream answer to redirect on, so the request goes through the fallback
    hop, whose error reply after the last retry becomes the redirect. Every
    request is answered by the backup, once, and charged once."""
    backup, client = dead_with_backup(fleet)
    c = root(client)
    key = generate(c)["key"]

    def call(i):
        r = c.post("/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                   json={"model": "dead", "messages": [{"role": "user", "content": f"refused-{i}"}]})
        return r.status_code, r.headers.get("x-llmvoy-model-id"), r.headers.get("x-mock-name"), r.text

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        results = list(pool.map(call, range(20)))
    assert [r[:3] for r in results] == [(200, "b1", "backup")] * 20, results
    served = sorted(a["body"]["messages"][0]["content"] for a in chat_attempts(backup))
    assert served == sorted(f"refused-{i}" for i in range(20)), "each request reached the backup exactly once"
    # num_retries + 1 attempts on the group first (the only deployment, twice).
    assert fleet.envoy_stats("upstream_cx_connect_fail").get("upstream_cx_connect_fail", 40) >= 40
    logs = admin(c, "GET", "/spend/logs", params={"api_key": key}).json()
    assert len(logs) == 20 and len({l["request_id"] for l in logs}) == 20, logs
    assert {l["model_id"] for l in logs} == {"b1"}
    wait_until(lambda: "no_answer=true" in fleet.llmvoy.output(), what="the fallback's log line")
    # Counted once each: the fallback under the group it left, the request
    # under the group that answered it (the hop's own attempt is not one).
    eventually(c, "llmvoy_fallbacks_total", 20, model_group="dead", chain="generic")
    eventually(c, "llmvoy_requests_total", 20, model_group="backup", deployment="b1", **{"class": "2xx"})
    assert value(c, "llmvoy_requests_total") == 20
    assert value(c, "llmvoy_attempts_total", model_group="dead", deployment="d1") == 40


def test_timed_out_attempts_fall_back(fleet):
    """A deployment that hangs past its timeout on every attempt: the
    backup answers, after num_retries + 1 timeouts, not after the hang.
    Streams too, with their stream_timeout."""
    slow, backup = fleet.mock("slow", latency="5s"), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("slow", "s1", slow).replace("api_key: sk-mock", "api_key: sk-mock\n      timeout: 0.4\n      stream_timeout: 0.3"),
        deployment("backup", "b1", backup),
        router='  num_retries: 1\n  disable_cooldowns: true\n  fallbacks: [{"slow": ["backup"]}]\n'))
    start = time.monotonic()
    r = chat(client, "slow", "hang-1")
    assert (r.status, r.deployment, r.mock) == (200, "b1", "backup"), r
    assert time.monotonic() - start < 3, "two timeouts, then the backup"
    assert len([a for a in chat_attempts(slow) if a["body"]["messages"][0]["content"] == "hang-1"]) == 2

    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    start = time.monotonic()
    stream = sdk.chat.completions.create(model="slow", messages=[{"role": "user", "content": "hang-s"}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "mock backup" in text
    assert time.monotonic() - start < 3, "each stream attempt gave up after stream_timeout"


def test_refused_connections_without_a_fallback_are_the_clients_500(fleet):
    """LiteLLM's behaviour, unchanged: a group without fallbacks, and the
    last group of a chain, answer the refused connection's error, in
    OpenAI's shape, naming nothing of Envoy."""
    client = fleet.gateway(router_config(
        deployment("alone", "a1", refusing()),
        deployment("first", "f1", refusing()), deployment("last", "l1", refusing()),
        router='  num_retries: 1\n  fallbacks: [{"first": ["last"]}]\n'))
    for group in ["alone"] * 20 + ["first"] * 3:
        r = client.post("/chat/completions", json={"model": group, "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 500, (group, r.status_code, r.text)
        assert r.json()["error"]["message"] == "could not get a response from the model deployment", r.text
        assert r.json()["error"]["code"] == "500", "OpenAI's code is a string"
        assert r.json()["error"]["type"] == "internal_server_error"
        assert "location" not in r.headers
        assert not [h for h in r.headers if h.lower().startswith("x-llmvoy-fallback")]
        assert "envoy" not in r.text.lower()
    # A Messages client gets Envoy's reply in Anthropic's shape (the
    # listener's local_reply_config, matched on the client path).
    r = client.post("/messages?beta=true", json={"model": "alone", "max_tokens": 8,
                                                   "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 500, r.text
    assert r.json() == {"type": "error", "error": {"type": "api_error",
                                                   "message": "could not get a response from the model deployment"}}


@pytest.mark.parametrize("path,body,text_of,upstream", [
    ("/v1/messages?beta=true",
     {"model": "dead", "max_tokens": 64, "messages": [{"role": "user", "content": "agent-refused"}]},
     lambda j: j["content"][0]["text"], "/v1/chat/completions"),
    ("/v1/responses",
     {"model": "dead", "input": "agent-refused", "store": False},
     lambda j: j["output"][0]["content"][0]["text"], "/v1/responses"),
], ids=["messages", "responses"])
def test_agent_clients_fall_back_after_refused_connections(fleet, path, body, text_of, upstream):
    """Claude Code's and Codex's APIs take the same fallback hop: the backup
    (an OpenAI deployment: Messages bridged to chat, Responses passed
    through) answers in the client's API."""
    backup, client = dead_with_backup(fleet)
    r = root(client).post(path, json=body, headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200, r.text
    assert r.headers.get("x-llmvoy-model-id") == "b1"
    assert "agent-refused" in text_of(r.json()) and "backup" in text_of(r.json())
    assert [req["path"] for req in backup.requests()] == [upstream]


def test_only_deployment_is_retried_after_its_retry_after(fleet):
    """A group's only deployment answering 429 with Retry-After: 1 is retried
    a second later each time, as LiteLLM waits when no other deployment is
    healthy (before: three attempts within 50 ms). In a group of two, the
    retry goes to the other deployment at once."""
    solo, a, b = (fleet.mock(n, status=429, retry_after="1s") for n in ("solo", "pair-a", "pair-b"))
    client = fleet.gateway(router_config(
        deployment("solo", "s1", solo), deployment("pair", "p1", a), deployment("pair", "p2", b),
        router="  num_retries: 2\n  disable_cooldowns: true\n"))

    start = time.monotonic()
    r = chat(client, "solo", "retry-after-solo")
    took = time.monotonic() - start
    assert r.status == 429
    assert len(chat_attempts(solo)) == 3
    assert 2.0 <= took < 6, f"two waits of Retry-After: 1 s, took {took:.2f} s"

    start = time.monotonic()
    r = chat(client, "pair", "retry-after-pair")
    took = time.monotonic() - start
    assert r.status == 429
    assert len(chat_attempts(a)) + len(chat_attempts(b)) == 3
    assert took < 1.0, f"a retry on another deployment does not wait, took {took:.2f} s"


def test_a_fallbacks_responses_answer_is_kept_for_its_caller(fleet):
    """The answer the fallback group gives a Responses client is kept (store
    is the API's default) for the virtual key that asked, which can continue
    from it; the master key does not find it."""
    backup, client = dead_with_backup(fleet)
    c = root(client)
    key = generate(c)["key"]
    as_key = {"authorization": f"Bearer {key}"}
    first = c.post("/v1/responses", json={"model": "dead", "input": "kept through a fallback"}, headers=as_key)
    assert first.status_code == 200, first.text
    rid = first.json()["id"]
    assert c.get(f"/v1/responses/{rid}", headers=as_key).json()["id"] == rid
    assert c.get(f"/v1/responses/{rid}", headers={"authorization": f"Bearer {MASTER_KEY}"}).status_code == 404
    second = c.post("/v1/responses", json={"model": "dead", "input": "and then", "previous_response_id": rid}, headers=as_key)
    assert second.status_code == 200, second.text
    assert "kept through a fallback" in str(backup.requests()[-1]["body"])


def test_fallback_to_one_deployment_by_its_id(fleet):
    """LiteLLM's reliability example: a fallback may name one deployment by
    its model_info.id, and then that deployment serves, not the others of
    its group; after an error answer (the upstream processor's redirect)
    and after refused connections (the hop's)."""
    bad, pick, other = fleet.mock("bad", status=500), fleet.mock("pick"), fleet.mock("other")
    client = fleet.gateway(router_config(
        deployment("gpt-4", "g1", bad), deployment("gone", "x1", refusing()),
        deployment("backup", "other", other, order=1), deployment("backup", "my-specific-model-id", pick, order=2),
        router='  num_retries: 0\n  disable_cooldowns: true\n'
               '  fallbacks: [{"gpt-4": ["my-specific-model-id"]}, {"gone": ["my-specific-model-id"]}]\n'))
    for model in ["gpt-4", "gone"] * 3:
        r = client.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, (model, r.text)
        assert r.headers["x-litellm-model-id"] == "my-specific-model-id", model
        assert r.headers["x-litellm-attempted-fallbacks"] == "1"
    assert chat_attempts(other) == [], "the fallback named one deployment, not its group"
    assert len(chat_attempts(pick)) == 6
    # Its group still balances over both (order 1 first).
    r = client.post("/chat/completions", json={"model": "backup", "messages": [{"role": "user", "content": "hi"}]})
    assert r.headers["x-litellm-model-id"] == "other"
    models = client.get("/models").json()["data"]
    assert "my-specific-model-id" not in {m["id"] for m in models}, "not a group /v1/models lists"
