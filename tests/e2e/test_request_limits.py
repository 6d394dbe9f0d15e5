"""A request's own num_retries and timeout, as LiteLLM takes them per
request (the body's num_retries, timeout and stream_timeout, or the
x-litellm-num-retries, x-litellm-timeout and x-litellm-stream-timeout
headers), through a real Envoy: on a group's route, and on the fallback
hop's, whose listener makes the attempts."""

import time

import pytest

from test_fallbacks import router_config
from test_routing import deployment, fleet  # noqa: F401  (fleet is a fixture)

HI = [{"role": "user", "content": "hi"}]


def chat_requests(mock):
    return [r for r in mock.requests() if r["path"] == "/v1/chat/completions"]


@pytest.mark.parametrize("how", ["body", "header"])
def test_num_retries_of_the_request(fleet, how):
    """The router retries nothing (num_retries: 0); a request asking for a
    retry gets one, on the other deployment, as LiteLLM's per-request
    num_retries does."""
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    client = fleet.gateway(router_config(deployment("gpt", "bad", bad, order=1), deployment("gpt", "good", good, order=2),
                                         router="  num_retries: 0\n  disable_cooldowns: true\n"))
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI})
    assert r.status_code == 500, r.text
    assert len(chat_requests(good)) == 0

    body, headers = {"model": "gpt", "messages": HI}, {}
    if how == "body":
        body["num_retries"] = 1
    else:
        headers["x-litellm-num-retries"] = "1"
    r = client.post("/chat/completions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-model-id"] == "good"
    [served] = chat_requests(good)
    assert "num_retries" not in served["body"], "LiteLLM's own field never reaches a provider"
    assert not [h for h in served["header"] if h.lower().startswith(("x-litellm-", "x-envoy-max", "x-llmvoy-"))], served["header"]


def test_num_retries_zero_and_bad_values(fleet):
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    client = fleet.gateway(router_config(deployment("gpt", "bad", bad, order=1), deployment("gpt", "good", good, order=2),
                                         router="  num_retries: 3\n  disable_cooldowns: true\n"))
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, "num_retries": 0})
    assert r.status_code == 500, "the request's 0 replaces the router's 3"
    assert len(chat_requests(bad)) == 1 and len(chat_requests(good)) == 0
    for body, headers, param in [({"num_retries": -1}, {}, "num_retries"), ({"num_retries": 1.5}, {}, "num_retries"),
                                 ({}, {"x-litellm-num-retries": "many"}, "num_retries"), ({"timeout": 0}, {}, "timeout"),
                                 ({"timeout": "soon"}, {}, "timeout")]:
        r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, **body}, headers=headers)
        assert r.status_code == 400, (body, headers, r.text)
        assert r.json()["error"]["param"] == param


@pytest.mark.parametrize("how", ["body", "header"])
def test_timeout_of_the_request(fleet, how):
    slow = fleet.mock("slow", latency="1500ms")
    client = fleet.gateway(router_config(deployment("gpt", "slow", slow), router="  num_retries: 0\n  disable_cooldowns: true\n"))
    body, headers = {"model": "gpt", "messages": HI}, {}
    if how == "body":
        body["timeout"] = 0.3
    else:
        headers["x-litellm-timeout"] = "0.3"
    start = time.monotonic()
    r = client.post("/chat/completions", json=body, headers=headers)
    assert r.status_code == 408, r.text
    assert time.monotonic() - start < 1.2, "the attempt gave up after the request's timeout"
    [seen] = chat_requests(slow)
    assert "timeout" not in seen["body"]


def test_stream_timeout_of_the_request(fleet):
    slow = fleet.mock("slow", latency="1500ms")
    client = fleet.gateway(router_config(deployment("gpt", "slow", slow), router="  num_retries: 0\n  disable_cooldowns: true\n"))
    start = time.monotonic()
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, "stream": True, "timeout": 30},
                    headers={"x-litellm-stream-timeout": "0.3"})
    assert r.status_code == 408, r.text
    assert time.monotonic() - start < 1.2, "a stream's stream_timeout goes before its timeout"


def test_limits_through_the_fallback_hop(fleet):
    """A group with a fallback makes its attempts on the hop's listener:
    the request's timeout and retries reach that listener's router, and the
    fallback serves once they are spent."""
    slow, other, backup = fleet.mock("slow", latency="1500ms"), fleet.mock("other", latency="1500ms"), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("gpt", "slow", slow, order=1), deployment("gpt", "other", other, order=2), deployment("backup", "b1", backup),
        router='  num_retries: 0\n  disable_cooldowns: true\n  fallbacks: [{"gpt": ["backup"]}]\n'))
    start = time.monotonic()
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, "timeout": 0.3, "num_retries": 1})
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-model-id"] == "b1"
    assert time.monotonic() - start < 1.4, "each attempt gave up after the request's timeout"
    assert len(chat_requests(slow)) == 1 and len(chat_requests(other)) == 1, "one retry, as asked, on the other deployment"
    for mock in (slow, other, backup):
        for req in chat_requests(mock):
            assert not [h for h in req["header"] if h.lower().startswith(("x-llmvoy-", "x-envoy-max", "x-envoy-upstream-rq"))], req["header"]


def test_limits_through_the_relay(fleet):
    """A stream of a group with stream continuation goes through llmvoy's
    relay, whose listener makes the attempts: the request's num_retries
    reaches that listener's router too."""
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    client = fleet.gateway(router_config(deployment("gpt", "bad", bad, order=1), deployment("gpt", "good", good, order=2),
                                         router="  num_retries: 0\n  disable_cooldowns: true\n  enable_stream_continuation: true\n"))
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, "stream": True})
    assert r.status_code == 500, r.text
    r = client.post("/chat/completions", json={"model": "gpt", "messages": HI, "stream": True, "num_retries": 1})
    assert r.status_code == 200, r.text
    assert "data: [DONE]" in r.text
    assert r.headers["x-litellm-attempted-retries"] == "1", "the relay listener's router retried"
    assert len(chat_requests(good)) == 1
    for req in chat_requests(good):
        assert not [h for h in req["header"] if h.lower().startswith(("x-llmvoy-", "x-envoy-max"))], req["header"]
