"""/metrics on the gateway port, through a real Envoy: the counters and
histograms llmvoy builds from Envoy's access logs (one entry per client
request, one per upstream attempt, streamed every 20 ms) move as the traffic
says they should, and Prometheus can scrape them without a key, as LiteLLM's.

Every assertion polls the exposition until it holds (the logs arrive a few
tens of milliseconds after the answers) and says the last value it saw.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import hashlib
import re
import time

import httpx
import openai

from conftest import MASTER_KEY
from test_routing import chat, configure, deployment, fleet  # noqa: F401  (fleet is a fixture)

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(client):
    """GET /metrics without a key: [(name, labels, value)]."""
    r = httpx.get(str(client.base_url.join("/metrics")), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    out = []
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        assert m, f"not Prometheus text: {line!r}"
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def value(client, name, **labels):
    """The sum of the series of `name` whose labels include `labels`."""
    return total(scrape(client), name, **labels)


def total(series, name, **labels):
    return sum(v for n, ls, v in series if n == name and all(ls.get(k) == w for k, w in labels.items()))


def eventually(client, name, want, timeout=10, **labels):
    """Polls until value(name, labels) == want (or satisfies want, a
    predicate); returns the value."""
    check = want if callable(want) else (lambda v: v == want)
    deadline = time.time() + timeout
    while True:
        got = value(client, name, **labels)
        if check(got):
            return got
        if time.time() > deadline:
            raise AssertionError(f"{name}{labels}: {got}, want {getattr(want, '__name__', want)}")
        time.sleep(0.05)


def eventually_all(client, check, what, timeout=10):
    """Polls until check(v) holds, where v(name, **labels) reads one scrape:
    for relations between series, which must hold at the same instant."""
    deadline = time.time() + timeout
    while True:
        series = scrape(client)
        if check(lambda name, **labels: total(series, name, **labels)):
            return
        if time.time() > deadline:
            mine = [s for s in series if s[0].startswith("llmvoy_")]
            raise AssertionError(f"timed out waiting for {what}; last scrape: {mine}")
        time.sleep(0.05)


def router_config(*deployments, router=""):
    return ("model_list:\n" + "\n".join(deployments) + "\n"
            + "router_settings:\n" + router
            + f"general_settings:\n  master_key: {MASTER_KEY}\n"
            # The tests steer the mocks with x-mock-* headers.
            + "  forward_client_headers_to_llm_api: true\n")


def test_requests_and_attempts_count_by_group_and_deployment(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(router_config(deployment("gpt", "a", a), deployment("embed", "b", b)))

    # Not model calls: probes, model listings (and the scrapes themselves).
    assert client.get("/models").status_code == 200
    assert httpx.get(str(client.base_url.join("/health/liveliness"))).status_code == 200
    # Answered by the gateway itself: counted under model_group "none".
    bad = httpx.post(str(client.base_url.join("/v1/chat/completions")), json={"model": "gpt", "messages": []},
                     headers={"authorization": "Bearer sk-wrong"})
    assert bad.status_code == 401
    n = 7
    for i in range(n):
        assert chat(client, "gpt", f"count-{i}").status == 200
    r = client.post("/embeddings", json={"model": "embed", "input": "x"})
    assert r.status_code == 200, r.text

    eventually(client, "llmvoy_requests_total", n, model_group="gpt", deployment="a", **{"class": "2xx"})
    eventually(client, "llmvoy_attempts_total", n, model_group="gpt", deployment="a", **{"class": "2xx"})
    eventually(client, "gen_ai_server_request_duration_seconds_count", n, model_group="gpt", gen_ai_operation_name="chat")
    eventually(client, "gen_ai_client_operation_duration_seconds_count", n, deployment="a", gen_ai_provider_name="openai")
    eventually(client, "llmvoy_requests_total", 1, model_group="embed", deployment="b", **{"class": "2xx"})
    eventually(client, "gen_ai_server_request_duration_seconds_count", 1, model_group="embed", gen_ai_operation_name="embeddings")
    eventually(client, "llmvoy_requests_total", 1, model_group="none", deployment="none", **{"class": "4xx"})

    # The probes went first, so their log entries came first: had they been
    # counted, they would show by now.
    assert value(client, "llmvoy_requests_total") == n + 2
    assert value(client, "llmvoy_retries_total") == 0
    text = httpx.get(str(client.base_url.join("/metrics"))).text
    assert MASTER_KEY not in text and "sk-mock" not in text and "sk-wrong" not in text


def test_a_500_storm_counts_errors_retries_and_a_cooldown(fleet):
    bad, good, solo = fleet.mock("bad", status=500), fleet.mock("good"), fleet.mock("solo", status=500)
    client = fleet.gateway(router_config(
        deployment("gpt", "bad", bad), deployment("gpt", "good", good), deployment("solo", "solo", solo),
        router="  num_retries: 1\n  allowed_fails: 1\n  cooldown_time: 30\n"))

    # Until `bad` cools down, a request that picks it first is retried on
    # `good`; every client sees a 200.
    sent, deadline = 0, time.time() + 20
    while value(client, "llmvoy_deployment_cooling_down", deployment="bad") != 1:
        assert time.time() < deadline, "bad never cooled down"
        r = chat(client, "gpt", f"storm-{sent}")
        assert (r.status, r.deployment) == (200, "good"), r
        sent += 1
    assert value(client, "llmvoy_cooldowns_total", model_group="gpt", deployment="bad") == 1
    assert value(client, "llmvoy_deployment_cooling_down", model_group="gpt", deployment="good") == 0
    # LiteLLM's names for the same: a cooldown, a complete outage.
    assert value(client, "litellm_deployment_cooled_down_total", model_id="bad", exception_status="500") == 1
    assert value(client, "litellm_deployment_state", model_id="bad", api_provider="openai") == 2
    assert value(client, "litellm_deployment_state", model_id="good") == 0

    # Every failed attempt on bad was retried on good, and good answered
    # every request. (Requests sent before the cooldown showed may still be
    # on their way through the log: compare within one scrape.)
    eventually_all(client, lambda v: (
        v("llmvoy_attempts_total", model_group="gpt", deployment="bad", **{"class": "5xx"}) >= 2
        and v("llmvoy_retries_total", model_group="gpt") == v("llmvoy_attempts_total", deployment="bad", **{"class": "5xx"})
        and v("gen_ai_client_operation_duration_seconds_count", deployment="bad", error_type="5xx")
        == v("llmvoy_attempts_total", deployment="bad", **{"class": "5xx"})
        and v("llmvoy_requests_total", model_group="gpt", deployment="good", **{"class": "2xx"}) == sent
        and v("llmvoy_requests_total", model_group="gpt") == sent
        and v("litellm_deployment_failure_responses_total", model_id="bad", exception_status="500",
              exception_class="Openai.InternalServerError")
        == v("llmvoy_attempts_total", deployment="bad", **{"class": "5xx"})
        and v("litellm_proxy_total_requests_metric_total", requested_model="gpt", status_code="200") == sent),
        "bad's 500s, each retried on good")

    # A group's only deployment never cools down: its 500s reach the
    # client.
    for i in range(3):
        assert chat(client, "solo", f"solo-{i}").status == 500
    eventually(client, "llmvoy_requests_total", 3, model_group="solo", deployment="solo", **{"class": "5xx"})
    eventually(client, "gen_ai_server_request_duration_seconds_count", 3, model_group="solo", error_type="5xx")
    assert value(client, "llmvoy_cooldowns_total", deployment="solo") == 0
    assert value(client, "llmvoy_deployment_cooling_down", deployment="solo") == 0


def test_a_fallback_is_counted_once_under_the_group_it_left(fleet):
    primary, backup = fleet.mock("primary", status=500), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("primary", "p1", primary), deployment("backup", "b1", backup),
        router='  num_retries: 0\n  disable_cooldowns: true\n  fallbacks: [{"primary": ["backup"]}]\n'))

    n = 3
    for i in range(n):
        r = chat(client, "primary", f"fall-{i}")
        assert (r.status, r.deployment) == (200, "b1"), r

    eventually(client, "llmvoy_fallbacks_total", n, model_group="primary", chain="generic")
    # The attempt behind each redirect, with the deployment's own status.
    eventually(client, "llmvoy_attempts_total", n, model_group="primary", deployment="p1", **{"class": "5xx"})
    # One request each, under the group that answered it.
    eventually(client, "llmvoy_requests_total", n, model_group="backup", deployment="b1", **{"class": "2xx"})
    assert value(client, "llmvoy_requests_total") == n
    assert value(client, "llmvoy_attempts_total", **{"class": "other"}) == 0, "a redirect is not an attempt's outcome"


def test_time_to_first_token_counts_streams(fleet):
    # The first token after 200 ms, the other four 100 ms apart.
    m = fleet.mock("m", latency="200ms", chunk_delay="100ms", chunks=5)
    client = fleet.gateway(router_config(deployment("gpt", "d1", m)))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)

    n = 3
    for i in range(n):
        stream = sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": f"s-{i}"}], stream=True)
        assert "mock m" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    # An answer that is not a stream has no first token to time.
    assert chat(client, "gpt", "plain").status == 200

    labels = dict(model_group="gpt", deployment="d1", gen_ai_operation_name="chat")
    eventually(client, "gen_ai_server_time_to_first_token_seconds_count", n, **labels)
    eventually(client, "gen_ai_server_request_duration_seconds_count", n + 1, model_group="gpt")
    ttft = value(client, "gen_ai_server_time_to_first_token_seconds_sum", **labels) / n
    # The whole stream takes 200 ms + 4 × 100 ms; its first token, 200 ms.
    assert 0.2 <= ttft < 0.5, ttft
    assert value(client, "gen_ai_server_time_to_first_token_seconds_bucket", le="0.1", **labels) == 0
    assert value(client, "gen_ai_server_time_to_first_token_seconds_bucket", le="+Inf", **labels) == n


def test_agent_clients_and_azure_paths_are_counted(fleet):
    # Claude Code's and Codex's APIs, and the Azure SDKs' paths, are model
    # calls like chat completions.
    a = fleet.mock("a")
    client = fleet.gateway(router_config(deployment("gpt", "a", a)))
    r = client.post("/messages", json={"model": "gpt", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    r = client.post("/responses", json={"model": "gpt", "input": "hi"})
    assert r.status_code == 200, r.text
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    r = httpx.post(root + "/openai/deployments/gpt/chat/completions?api-version=2024-10-21",
                   headers={"api-key": MASTER_KEY}, json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    eventually(client, "llmvoy_requests_total", 3, model_group="gpt", deployment="a", **{"class": "2xx"})
    eventually(client, "gen_ai_server_request_duration_seconds_count", 3, model_group="gpt", gen_ai_operation_name="chat")


def test_litellm_names_count_requests_deployments_keys_and_spend(fleet):
    """LiteLLM's metric names, for its dashboards: the same traffic under
    litellm_*, with LiteLLM's labels, a key by its hash and never itself."""
    a = fleet.mock("a")
    client = fleet.gateway(router_config(deployment("gpt", "a", a)))
    r = httpx.post(str(client.base_url).rstrip("/").removesuffix("/v1") + "/key/generate",
                   headers={"authorization": f"Bearer {MASTER_KEY}"}, json={"key_alias": "dashboards"})
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    hashed = hashlib.sha256(key.encode()).hexdigest()
    assert r.json()["token"] == hashed, "LiteLLM's hash_token"

    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=key, max_retries=0)
    sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "with a key"}])
    stream = sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "streamed"}], stream=True)
    assert "mock a" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert chat(client, "gpt", "master key").status == 200
    bad = httpx.post(str(client.base_url.join("/v1/chat/completions")), json={"model": "gpt", "messages": []},
                     headers={"authorization": "Bearer sk-wrong"})
    assert bad.status_code == 401

    routed = dict(requested_model="gpt", model_id="a", route="/v1/chat/completions")
    eventually(client, "litellm_proxy_total_requests_metric_total", 3, status_code="200", **routed)
    eventually(client, "litellm_proxy_failed_requests_metric_total", 1, exception_status="401",
               exception_class="AuthenticationError", requested_model="None", model_id="None")
    eventually(client, "litellm_request_total_latency_metric_count", 3, model="a-model", **{k: routed[k] for k in ("requested_model", "model_id")})
    eventually(client, "litellm_llm_api_time_to_first_token_metric_count", 1, model_id="a")
    deployment_labels = dict(requested_model="gpt", litellm_model_name="openai/a-model", model_id="a",
                             api_base=f"http://127.0.0.1:{a.port}/v1", api_provider="openai")
    eventually(client, "litellm_deployment_success_responses_total", 3, **deployment_labels)
    eventually(client, "litellm_deployment_total_requests_total", 3, **deployment_labels)
    eventually(client, "litellm_llm_api_latency_metric_count", 3, model="a-model", model_id="a")
    assert value(client, "litellm_deployment_state", model_id="a") == 0

    # Tokens and spend: the answers charged to the key, under its hash.
    charged = dict(hashed_api_key=hashed, api_key_alias="dashboards", model="a-model", model_id="a")
    eventually(client, "litellm_requests_metric_total", 2, **charged)
    series = scrape(client)
    tokens = total(series, "litellm_total_tokens_metric_total", requested_model="gpt", **charged)
    assert tokens > 0 and tokens == (total(series, "litellm_input_tokens_metric_total", **charged)
                                     + total(series, "litellm_output_tokens_metric_total", **charged))
    assert total(series, "litellm_spend_metric_total", **charged) >= 0
    # Labels llmvoy cannot know are LiteLLM's None, the end user included.
    assert {ls.get("end_user") for n, ls, _ in series if n.startswith("litellm_") and "end_user" in ls} == {"None"}

    text = httpx.get(str(client.base_url.join("/metrics"))).text
    for secret in (key, MASTER_KEY, "sk-mock", "sk-wrong"):
        assert secret not in text
