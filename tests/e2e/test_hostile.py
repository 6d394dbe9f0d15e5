"""A hostile client against a real Envoy and llmvoy (#15): what it sends in
headers steers nothing and reaches no provider, a request id it chooses is
not the request's identity, it cannot upload a body without a key, cannot
learn about models its key may not use, cannot reach /health with a virtual
key, and no bad input crashes anything or stops the next request. The
control ports are covered by controlplane_test.go and the deploy tests.

Uses the per-test gateway and mocks of test_routing.py (`fleet`), with
configs that do NOT forward client headers (the default)."""

import json
import os
import socket
import subprocess
import time

import httpx
import pytest

from conftest import LLMVOY, MASTER_KEY
from test_keys import COMPLETION_COST, PROMPT_COST, admin, generate, root
from test_routing import deployment, fleet  # noqa: F401  (fleet is a fixture)


def config(*deployments, router="", general=""):
    text = "model_list:\n" + "\n".join(deployments) + "\n"
    if router:
        text += "router_settings:\n" + router
    return text + f"general_settings:\n  master_key: {MASTER_KEY}\n" + general


def keyed(group, dep_id, mock, key):
    """A deployment with a key of its own: its group takes the upstream
    processor's path (a direct group shares one key)."""
    return deployment(group, dep_id, mock).replace("api_key: sk-mock", f"api_key: {key}")


def priced(group, dep_id, mock):
    return deployment(group, dep_id, mock) + (
        f"\n      input_cost_per_token: {PROMPT_COST}\n      output_cost_per_token: {COMPLETION_COST}")


def chat_requests(mock):
    return [r for r in mock.requests() if r["path"].endswith("/chat/completions")]


# What a hostile or merely chatty client sends besides its key.
HOSTILE_HEADERS = {
    "cookie": "session=secret",
    "openai-organization": "org-someone-else",
    "openai-project": "proj-someone-else",
    "x-forwarded-for": "6.6.6.6",
    "x-real-ip": "6.6.6.6",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "x-custom-thing": "1",
    "x-stainless-lang": "python",
    "user-agent": "hostile/1.0",
    "x-request-id": "client-chosen-id",
    "x-llmvoy-client-path": "/v1/embeddings",
    "x-llmvoy-key": "0" * 64,
    "x-llmvoy-body-model": "forged-model",
    "x-llmvoy-fallback": "generic;1;9999999999;;forged;gpt",
    "x-llmvoy-route": "group_other",
    "x-envoy-upstream-rq-timeout-ms": "1",
    # Read as x-llmvoy-key or x-api-key by servers that fold "_" into "-".
    "x-llmvoy_key": "0" * 64,
    "x-api_key": "sk-not-yours",
}


# The x-llmvoy-* response headers that are documented for clients (the
# LiteLLM x-litellm-* ones mirrored); every other one is internal.
PUBLIC_HEADERS = {"x-llmvoy-model-id", "x-llmvoy-response-cost"}


def provider_headers(request):
    return {k.lower(): v for k, v in request["header"].items()}


def test_client_headers_steer_nothing_and_reach_no_provider(fleet):
    """On every path a request takes (a direct group, a group with a key per
    deployment, a virtual key), the provider gets what its API needs and
    nothing the client made up; the client gets no internal header back."""
    m = fleet.mock("m")
    client = fleet.gateway(config(
        deployment("direct", "d1", m),
        keyed("keyed", "k1", m, "sk-k1"), keyed("keyed", "k2", m, "sk-k2"),
        keyed("other", "o1", m, "sk-o1")))
    c = root(client)
    vkey = generate(c)["key"]
    for model, key in [("direct", MASTER_KEY), ("keyed", MASTER_KEY), ("keyed", vkey), ("direct", vkey)]:
        m.reset()
        r = c.post("/v1/chat/completions?key=AIza-not-yours&api-version=evil",
                   headers={**HOSTILE_HEADERS, "authorization": f"Bearer {key}"},
                   json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, (model, r.text)
        leaked = [h for h in r.headers if h.lower().startswith("x-llmvoy-") and h.lower() not in PUBLIC_HEADERS]
        assert not leaked, f"internal headers returned to the client: {leaked}"
        (got,) = chat_requests(m)
        # The client's path header chose nothing: chat went to chat.
        assert got["path"] == "/v1/chat/completions"
        # The client's query string is not passed on either.
        assert got.get("query", "") == "", got["query"]
        h = provider_headers(got)
        internal = [k for k in h if k.startswith("x-llmvoy-") or k.startswith("x-envoy-")]
        assert not internal, f"{model}: internal headers reached the provider: {internal}"
        for name in ("cookie", "openai-organization", "openai-project", "x-forwarded-for", "x-real-ip",
                     "traceparent", "x-custom-thing", "x-stainless-lang", "user-agent"):
            assert name not in h, f"{model}: the client's {name} reached the provider"
        assert h["authorization"][0] in ("Bearer sk-mock", "Bearer sk-k1", "Bearer sk-k2")
        # The request id is Envoy's, not the client's.
        assert h["x-request-id"] != ["client-chosen-id"] and len(h["x-request-id"][0]) >= 32


def test_forwarding_client_headers_is_opt_in_and_still_safe(fleet):
    m = fleet.mock("m")
    client = fleet.gateway(config(
        deployment("fwd", "f1", m), deployment("plain", "p1", m),
        general="",
    ).replace("model_list:", "litellm_settings:\n  model_group_settings:\n"
                               "    forward_client_headers_to_llm_api: [fwd]\nmodel_list:", 1))
    c = root(client)
    for model, forwarded in [("fwd", True), ("plain", False)]:
        m.reset()
        r = c.post("/v1/chat/completions", headers={**HOSTILE_HEADERS, "authorization": f"Bearer {MASTER_KEY}",
                                                    "anthropic-beta": "b1"},
                   json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        h = provider_headers(chat_requests(m)[0])
        assert ("x-custom-thing" in h and "anthropic-beta" in h) == forwarded, (model, h)
        # Never: llmvoy's, Envoy's, the SDK's telemetry, cookies, the
        # client's address claims, the billing account.
        for name in ("cookie", "openai-organization", "x-forwarded-for", "x-stainless-lang", "x-llmvoy_key", "x-api_key"):
            assert name not in h, (model, name)
        assert not [k for k in h if k.startswith("x-llmvoy-") or k.startswith("x-envoy-")], (model, h)


def test_a_reused_request_id_is_charged_every_time(fleet):
    m = fleet.mock("m")
    c = root(fleet.gateway(config(priced("gpt-4o", "dep-a", m))))
    k = generate(c)
    costs = []
    for _ in range(5):
        r = c.post("/v1/chat/completions", headers={"authorization": f"Bearer {k['key']}", "x-request-id": "same-id"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        costs.append(float(r.headers["x-litellm-response-cost"]))
    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    assert len(logs) == 5 and len({l["request_id"] for l in logs}) == 5
    assert "same-id" not in {l["request_id"] for l in logs}
    info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
    assert info["spend"] == pytest.approx(sum(costs))


def test_a_master_key_from_an_unset_variable_refuses_to_start(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: openai/m, api_base: 'http://127.0.0.1:9/v1'}\n"
                   "general_settings:\n  master_key: os.environ/LLMVOY_E2E_UNSET_MASTER_KEY\n")
    env = {k: v for k, v in os.environ.items() if k != "LLMVOY_E2E_UNSET_MASTER_KEY"}
    for cmd in (["validate", "--config", str(cfg)],
                ["run", "--config", str(cfg), "--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path)]):
        p = subprocess.run([str(LLMVOY), *cmd], capture_output=True, text=True, timeout=30, env=env)
        assert p.returncode == 1, (cmd, p.stdout, p.stderr)
        assert "general_settings.master_key" in p.stdout + p.stderr and "LLMVOY_E2E_UNSET_MASTER_KEY" in p.stdout + p.stderr


def raw_post_headers(port, headers):
    """Sends only the headers of a POST and returns the status line and the
    time the answer took; the body is never sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        start = time.time()
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0].decode(), time.time() - start, data


def test_an_unauthenticated_upload_is_refused_before_its_body(fleet):
    m = fleet.mock("m")
    client = fleet.gateway(config(deployment("gpt-4o", "a", m)))
    port = client.base_url.port
    for auth in ({}, {"authorization": "Bearer sk-wrong"}):
        status, took, data = raw_post_headers(port, {"content-length": str(30 << 20), **auth})
        assert status == "HTTP/1.1 401 Unauthorized", data
        assert took < 5
        assert b'"auth_error"' in data or b"401" in data
    # An authenticated body past the limit is refused whole, in OpenAI's shape.
    r = root(client).post("/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                          content=b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + b"a" * (33 << 20) + b'"}]}')
    assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error", r.text[:300]
    assert not chat_requests(m)


def test_fallback_state_is_never_returned_to_a_client(fleet):
    """A chain longer than max_fallbacks: the last redirect is not followed
    by Envoy, and what reaches the client carries no signed state."""
    bad = fleet.mock("bad", status=500)
    c = root(fleet.gateway(config(
        deployment("a", "a1", bad), deployment("b", "b1", bad), deployment("c", "c1", bad),
        router='  num_retries: 0\n  disable_cooldowns: true\n  max_fallbacks: 1\n  fallbacks: [{"a": ["b", "c"]}]\n')))
    r = c.post("/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
               json={"model": "a", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code >= 300
    assert not [h for h in r.headers if h.lower().startswith("x-llmvoy-") and h.lower() not in PUBLIC_HEADERS], r.headers
    # A header a client makes up gives it nothing: authentication still holds.
    r = c.post("/v1/chat/completions", headers={"x-llmvoy-fallback": "generic;1;9999999999;;" + "0" * 64 + ";a"},
               json={"model": "a", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401


def test_a_restricted_key_sees_only_its_own_world(fleet):
    m = fleet.mock("m")
    c = root(fleet.gateway(config(
        deployment("mine", "m1", m), deployment("secret-group", "s1", m),
        router='  model_group_alias: {"hidden-alias": {"model": "mine", "hidden": true}}\n')))
    k = generate(c, models=["mine"])["key"]
    auth = {"authorization": f"Bearer {k}"}
    r = c.post("/v1/chat/completions", headers=auth, json={"model": "nope", "messages": []})
    assert r.status_code in (400, 403) and "secret-group" not in r.text, r.text
    # A group the key may not use looks exactly like one that does not exist.
    forbidden, missing = c.get("/v1/models/secret-group", headers=auth), c.get("/v1/models/no-such-group", headers=auth)
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.text.replace("secret-group", "X") == missing.text.replace("no-such-group", "X")
    assert c.get("/v1/models/mine", headers=auth).status_code == 200
    master = {"authorization": f"Bearer {MASTER_KEY}"}
    assert c.get("/v1/models/hidden-alias", headers=master).status_code == 404, "a hidden alias stays hidden"
    # /health calls every deployment with its credentials: the master key's.
    assert c.get("/health", headers=auth).status_code == 401
    assert c.get("/health", headers=master).status_code == 200


def test_envoy_internals_never_reach_a_client(fleet):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there: connections are refused
    c = root(fleet.gateway(
        "model_list:\n  - model_name: dead\n    litellm_params:\n"
        f"      model: openai/dead\n      api_base: http://127.0.0.1:{port}/v1\n      api_key: sk-x\n"
        f"router_settings:\n  num_retries: 0\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"))
    r = c.post("/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
               json={"model": "dead", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code in (500, 503), r.text
    body = r.json()["error"]["message"]
    for internal in ("upstream_reset", "connection_failure", "delayed_connect_error", "envoy", "{"):
        assert internal not in body, body


BAD_BODIES = {
    "empty": b"",
    "null": b"null",
    "truncated": b'{"model": "gpt-4o", "messages": [{"role": "us',
    "an array": b"[]",
    "a string": b'"gpt-4o"',
    "model of the wrong type": b'{"model": 5, "messages": []}',
    "messages of the wrong type": b'{"model": "gpt-4o", "messages": "hi"}',
    "invalid UTF-8": b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "CRLF in the model": b'{"model": "gpt-4o\\r\\nx-evil: 1", "messages": []}',
    "a 100 KB model name": b'{"model": "' + b"m" * 100_000 + b'", "messages": []}',
    "10,000-deep nesting": b'{"model": "gpt-4o", "messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_input_gets_a_4xx_and_the_next_request_succeeds(fleet, name):
    m = fleet.mock("m")
    c = root(fleet.gateway(config(deployment("gpt-4o", "a", m))))
    auth = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}
    r = c.post("/v1/chat/completions", headers=auth, content=BAD_BODIES[name])
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["message"] and err["type"], err
    assert len(r.content) < 20_000, "an error does not echo a huge input back"
    ok = c.post("/v1/chat/completions", headers=auth, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert ok.status_code == 200, ok.text


def test_a_retried_request_is_charged_once(fleet):
    """Every attempt of a request knows its virtual key (and the path the
    client called) without any header reaching the provider: a request that
    fails on one deployment and succeeds on the next is charged, once."""
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    c = root(fleet.gateway(config(
        priced("gpt-4o", "bad", bad), priced("gpt-4o", "good", good),
        router="  num_retries: 2\n  disable_cooldowns: true\n")))
    k = generate(c)
    for i in range(8):
        r = c.post("/v1/chat/completions", headers={"authorization": f"Bearer {k['key']}"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"q{i}"}]})
        assert r.status_code == 200 and r.headers["x-llmvoy-model-id"] == "good", r.text
    assert chat_requests(bad), "some requests were retried"
    for request in chat_requests(bad) + chat_requests(good):
        assert request["path"] == "/v1/chat/completions"
        assert not [h for h in provider_headers(request) if h.startswith("x-llmvoy-")]
    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    assert len(logs) == 8 and all(l["spend"] > 0 for l in logs), logs


def test_a_fallback_carries_nothing_of_the_client_or_of_llmvoy(fleet):
    """After an internal redirect (a fallback), the next group's provider gets
    the same allowlist: not the client's headers, not the signed fallback
    state, not Envoy's x-envoy-original-url, not the failed deployment's key."""
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    c = root(fleet.gateway(config(
        keyed("primary", "p1", bad, "sk-primary"), keyed("backup", "b1", good, "sk-backup"),
        router='  num_retries: 0\n  disable_cooldowns: true\n  fallbacks: [{"primary": ["backup"]}]\n')))
    k = generate(c)["key"]
    r = c.post("/v1/chat/completions?x=1", headers={**HOSTILE_HEADERS, "authorization": f"Bearer {k}"},
               json={"model": "primary", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200 and r.headers["x-llmvoy-model-id"] == "b1", r.text
    assert chat_requests(bad), "the primary was tried first"
    # The primary is reached through the fallback hop (an internal
    # listener): the signed next step and the redirect's location stay in
    # Envoy, and the hop adds nothing of its own.
    hb = provider_headers(chat_requests(bad)[0])
    assert not [k for k in hb if k.startswith("x-llmvoy-") or k.startswith("x-envoy-")], hb
    for name in ("cookie", "x-forwarded-for", "x-custom-thing", "user-agent"):
        assert name not in hb, name
    assert hb["authorization"] == ["Bearer sk-primary"]
    (got,) = chat_requests(good)
    assert got["path"] == "/v1/chat/completions" and got.get("query", "") == ""
    h = provider_headers(got)
    assert not [k for k in h if k.startswith("x-llmvoy-") or k.startswith("x-envoy-")], h
    assert h["authorization"] == ["Bearer sk-backup"], "the backup's key, not the primary's or the client's"
    for name in ("cookie", "openai-organization", "x-forwarded-for", "x-custom-thing", "user-agent"):
        assert name not in h, name
    logs = admin(c, "GET", "/spend/logs", params={"api_key": k}).json()
    assert len(logs) == 1 and logs[0]["model_id"] == "b1", logs
