"""LiteLLM's response headers and CORS through a real Envoy: the headers
LiteLLM's proxy sets on an answer (model group, call id, retries, api base,
duration) and browser clients on any origin (preflight answered without a
key, the answer's headers readable), as LiteLLM's proxy allows them."""

import http.server
import json
import threading
import uuid

import httpx

from conftest import MASTER_KEY
from test_fallbacks import refusing, router_config
from test_routing import deployment, fleet  # noqa: F401  (fleet is a fixture)


def test_answers_carry_litellm_headers(fleet):
    a = fleet.mock("a")
    client = fleet.gateway(router_config(deployment("gpt", "a1", a), router="  num_retries: 3\n"))
    r = client.post("/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                    json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    h = r.headers
    assert h["x-litellm-model-group"] == "gpt"
    assert h["x-litellm-model-id"] == h["x-llmvoy-model-id"] == "a1"
    assert h["x-litellm-max-retries"] == "3"
    assert h["x-litellm-model-api-base"] == f"http://127.0.0.1:{a.port}/v1"
    uuid.UUID(h["x-litellm-call-id"])  # Envoy's request id: the key of llmvoy's logs
    assert float(h["x-litellm-response-duration-ms"]) >= 0
    # Each request its own id.
    again = client.post("/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                        json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert again.headers["x-litellm-call-id"] != h["x-litellm-call-id"]


def test_browser_clients_on_any_origin(fleet):
    a = fleet.mock("a")
    client = fleet.gateway(router_config(deployment("gpt", "a1", a)))
    origin = "https://app.example"
    # The preflight carries no key and is answered at once.
    bare = httpx.Client(base_url=str(client.base_url), timeout=30)  # no key of its own
    pre = bare.request("OPTIONS", "/chat/completions", headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os"})
    assert pre.status_code == 200, pre.text
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in pre.headers["access-control-allow-headers"].split(",")}
    assert {"*", "authorization", "content-type"} <= allowed
    assert "access-control-allow-credentials" not in pre.headers
    assert a.requests() == [], "a preflight reaches no deployment"

    r = client.post("/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}", "origin": origin},
                    json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == origin
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-litellm-model-group", "x-llmvoy-model-id", "x-litellm-call-id"} <= exposed

    # An origin is no credential: without a key, the browser reads the 401.
    r = bare.post("/chat/completions", headers={"origin": origin},
                    json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == origin
    assert len(a.requests()) == 1


def test_attempted_retries_and_fallbacks(fleet):
    """LiteLLM's x-litellm-attempted-retries (the retries of the group that
    answered) and x-litellm-attempted-fallbacks (the steps of the chain
    taken): on a group's route, after the upstream processor's fallback
    redirect, and through the fallback hop (a refused connection)."""
    bad, good, backup = fleet.mock("bad", status=500), fleet.mock("good"), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("gpt", "bad", bad, order=1), deployment("gpt", "good", good, order=2),
        deployment("broken", "b1", bad), deployment("gone", "g1", refusing()), deployment("backup", "k1", backup),
        router='  num_retries: 1\n  disable_cooldowns: true\n  fallbacks: [{"broken": ["backup"]}, {"gone": ["backup"]}]\n'))

    def ask(model):
        r = client.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, (model, r.text)
        return r.headers["x-litellm-model-id"], r.headers["x-litellm-attempted-retries"], r.headers["x-litellm-attempted-fallbacks"]

    assert ask("backup") == ("k1", "0", "0")
    assert ask("gpt") == ("good", "1", "0"), "one retry, on the group's route"
    assert ask("broken") == ("k1", "0", "1"), "the upstream processor's redirect to the chain's next group"
    assert ask("gone") == ("k1", "0", "1"), "the hop's redirect after refused connections"


class CookieUpstream(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream behind a CDN that sets cookies."""

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", "__cf_bm=abc; path=/; HttpOnly")
        self.send_header("x-ratelimit-remaining-requests", "99")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_provider_cookies_never_reach_clients(fleet):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CookieUpstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = fleet.gateway(f"""model_list:
  - model_name: gpt
    litellm_params:
      model: openai/m
      api_base: http://127.0.0.1:{server.server_address[1]}/v1
      api_key: sk-x
general_settings:
  master_key: {MASTER_KEY}
""")
        r = client.post("/chat/completions", json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        assert "set-cookie" not in r.headers, "a provider's CDN cookie is not the gateway's"
        assert r.headers["x-ratelimit-remaining-requests"] == "99", "its other headers pass on"
    finally:
        server.shutdown()
