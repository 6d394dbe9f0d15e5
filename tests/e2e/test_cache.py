"""The response cache (litellm_settings.cache, cache_params), through real
Envoys and a real Redis: a repeated request is answered from the cache
without reaching the provider, on the replica that stored it and on
another sharing the Redis; a stream is replayed to the OpenAI SDK; the
per-request controls (no-cache, no-store, ttl, s-maxage, namespace) and
mode: default_off hold; a hit still needs the key's model access, costs
nothing and is a cache hit in the spend logs; /cache/ping and
/cache/delete; a Redis outage means misses, never errors."""

import time

import openai
import pytest

from conftest import MASTER_KEY
from test_keys import admin, generate, root, sdk
from test_metrics import eventually, value
from test_routing import config, deployment, fleet  # noqa: F401  (fleet is a fixture)

MSG = [{"role": "user", "content": "what is the cache?"}]


def cached_config(*deployments, cache_params=None, redis=None, **router):
    """config() with litellm_settings.cache on: `cache_params` as given, the
    Redis of `redis` when set."""
    params = dict(cache_params or {})
    if redis is not None:
        params.setdefault("type", "redis")
        params.update(host="127.0.0.1", port=redis.port)
    text = config(*deployments, **router) + "litellm_settings:\n  cache: true\n"
    if params:
        text += "  cache_params:\n" + "".join(f"    {k}: {v}\n" for k, v in params.items())
    return text


def client(gw, key=MASTER_KEY):
    return sdk(gw, key)


def ask(c, content=MSG[0]["content"], **extra):
    """A chat completion and its x-litellm-cache-key."""
    r = c.chat.completions.with_raw_response.create(model="g", messages=[{"role": "user", "content": content}],
                                                   extra_body=extra or None)
    return r.parse(), r.headers.get("x-litellm-cache-key")


def wait_stored(redis, key=None, timeout=5):
    """Waits for an answer to reach Redis (written in the background, as
    LiteLLM writes it): `key`, or any entry."""
    deadline = time.time() + timeout
    while True:
        n = redis.command("EXISTS", key) if key else redis.command("DBSIZE")
        if n:
            return
        assert time.time() < deadline, f"nothing stored under {key or 'any key'}"
        time.sleep(0.01)


def test_a_repeated_request_is_answered_from_redis_by_another_replica(fleet, redis_server):
    mock = fleet.mock("m")
    cfg = cached_config(deployment("g", "dep", mock), redis=redis_server, cache_params={"namespace": "team1"})
    a, b = fleet.gateway(cfg), fleet.gateway(cfg)
    first, key = ask(client(a))
    assert len(mock.requests()) == 1
    assert key and key.startswith("team1:") and len(key) == len("team1:") + 64, key
    wait_stored(redis_server, key)
    assert redis_server.command("PTTL", key) == -1, "no ttl set: LiteLLM's Redis entries do not expire"

    for gw in (b, a):
        again, hit_key = ask(client(gw))
        assert hit_key == key
        assert again.model_dump() == first.model_dump()
    assert len(mock.requests()) == 1, "answered from the cache, not by the provider"
    assert value(b, "llmvoy_cache_lookups_total", model_group="g", result="hit") == 1
    assert value(a, "llmvoy_cache_lookups_total", model_group="g", result="miss") == 1
    # A hit is its group's request, answered by no deployment.
    eventually(b, "llmvoy_requests_total", 1, model_group="g", deployment="none", **{"class": "2xx"})
    eventually(a, "llmvoy_requests_total", 1, model_group="g", deployment="none", **{"class": "2xx"})
    assert value(b, "llmvoy_requests_total", model_group="none") == 0

    # Another prompt, or another parameter of the key, is another entry.
    ask(client(b), content="something else")
    ask(client(b), temperature=0.5)
    assert len(mock.requests()) == 3


def test_per_request_controls(fleet, redis_server):
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(deployment("g", "dep", mock), redis=redis_server))
    c = client(gw)
    _, key = ask(c)
    wait_stored(redis_server, key)
    # no-cache: the provider answers (and its answer is kept again).
    _, again = ask(c, cache={"no-cache": True})
    assert again == key and len(mock.requests()) == 2
    ask(c)
    assert len(mock.requests()) == 2
    # no-store: answered by the provider and not kept.
    ask(c, content="not kept", cache={"no-store": True})
    ask(c, content="not kept")
    assert len(mock.requests()) == 4
    # namespace: another key.
    _, spaced = ask(c, cache={"namespace": "ns2"})
    assert spaced == "ns2:" + key and len(mock.requests()) == 5
    # ttl: kept for that long, in Redis too.
    _, short = ask(c, content="short-lived", cache={"ttl": 1})
    wait_stored(redis_server, short)
    assert 0 < redis_server.command("PTTL", short) <= 1000
    time.sleep(1.5)
    ask(c, content="short-lived")
    assert len(mock.requests()) == 7, "expired: the provider answered again"
    wait_stored(redis_server, short)
    # s-maxage: an entry older than that is not served.
    time.sleep(1.2)
    ask(c, content="short-lived", cache={"s-maxage": 1})
    assert len(mock.requests()) == 8
    ask(c, content="short-lived", cache={"s-maxage": 30})
    assert len(mock.requests()) == 8


def test_default_off_caches_only_what_asks(fleet):
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(deployment("g", "dep", mock), cache_params={"type": "local", "mode": "default_off"}))
    c = client(gw)
    for _ in range(2):
        _, key = ask(c)
        assert key is None
    assert len(mock.requests()) == 2
    for _ in range(2):
        _, key = ask(c, cache={"use-cache": True})
        assert key
    assert len(mock.requests()) == 3


def test_a_stream_is_replayed_from_the_cache(fleet, redis_server):
    mock = fleet.mock("m")
    a = fleet.gateway(cached_config(deployment("g", "dep", mock), redis=redis_server))
    b = fleet.gateway(cached_config(deployment("g", "dep", mock), redis=redis_server))

    def stream(gw):
        chunks = list(client(gw).chat.completions.create(model="g", messages=MSG, stream=True))
        return chunks, "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)

    chunks, text = stream(a)
    assert text and len(mock.requests()) == 1
    wait_stored(redis_server)
    replayed, again = stream(b)
    assert again == text
    assert [ch.model_dump() for ch in replayed] == [ch.model_dump() for ch in chunks]
    assert len(mock.requests()) == 1
    # A stream and a completion are different entries, as in LiteLLM
    # (stream is part of the key).
    ask(client(b))
    assert len(mock.requests()) == 2


def test_a_hit_needs_model_access_costs_nothing_and_is_logged_as_one(fleet):
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(deployment("g", "dep", mock), deployment("h", "other", mock),
                                     cache_params={"type": "local"}))
    ask(client(gw))
    assert len(mock.requests()) == 1
    other = generate(root(gw), models=["h"])
    with pytest.raises(openai.PermissionDeniedError):
        ask(client(gw, other["key"]))
    allowed = generate(root(gw), models=["g"])
    r = client(gw, allowed["key"]).chat.completions.with_raw_response.create(model="g", messages=MSG)
    assert r.headers["x-litellm-response-cost"] == "0"
    assert len(mock.requests()) == 1
    deadline = time.time() + 10
    while True:
        logs = admin(root(gw), "GET", "/spend/logs", params={"api_key": allowed["key"]}).json()
        if logs or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(logs) == 1, logs
    assert logs[0]["cache_hit"] == "True" and logs[0]["spend"] == 0 and logs[0]["model_group"] == "g"


def test_cache_ping_and_delete(fleet, redis_server):
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(deployment("g", "dep", mock), redis=redis_server))
    r = admin(root(gw), "GET", "/cache/ping")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "healthy" and r.json()["cache_type"] == "redis"
    assert "password" not in r.text
    key = generate(root(gw))["key"]
    assert root(gw).get("/cache/ping", headers={"authorization": f"Bearer {key}"}).status_code == 401

    _, k = ask(client(gw))
    wait_stored(redis_server, k)
    r = admin(root(gw), "POST", "/cache/delete", json={"keys": [k]})
    assert r.status_code == 200 and r.json() == {"status": "success"}
    ask(client(gw))
    assert len(mock.requests()) == 2, "deleted: the provider answered again"

    redis_server.stop()
    assert admin(root(gw), "GET", "/cache/ping").status_code == 503


def test_a_redis_outage_means_misses_not_errors(fleet, redis_server):
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(deployment("g", "dep", mock), redis=redis_server))
    proc = fleet.llmvoy
    c = client(gw)
    ask(c)
    wait_stored(redis_server)
    ask(c)
    assert len(mock.requests()) == 1

    redis_server.stop()
    for i in range(5):
        start = time.time()
        answer, _ = ask(c)
        assert answer.choices and time.time() - start < 1
    assert len(mock.requests()) == 6, "every request answered by the provider"
    proc.wait_for("Redis unreachable: the response cache misses", timeout=5)
    assert proc.output().count("Redis unreachable: the response cache misses") == 1, "said once"

    redis_server.start()  # a fresh, empty Redis
    time.sleep(1.2)  # past the pause after a failure
    ask(c)
    wait_stored(redis_server)
    ask(c)
    proc.wait_for("Redis reachable again: the response cache is back", timeout=5)
    assert len(mock.requests()) == 7, "cached again"


def anthropic_deployment(group, dep_id, mock):
    return "\n".join([f"  - model_name: {group}", "    litellm_params:", "      model: anthropic/claude-sonnet-4-5",
                      f"      api_base: http://127.0.0.1:{mock.port}", "      api_key: sk-ant-mock",
                      "    model_info:", f"      id: {dep_id}"])


def test_translated_answers_and_embeddings_are_kept_in_openai_format(fleet):
    """A deployment with its own API: the client's OpenAI-format answer is
    what is kept and served, for a completion and for a stream; embeddings
    are cached too, and text completions follow supported_call_types."""
    mock = fleet.mock("m")
    gw = fleet.gateway(cached_config(anthropic_deployment("g", "claude", mock), deployment("e", "emb", mock),
                                     cache_params={"type": "local", "supported_call_types": "[acompletion, aembedding]"}))
    c = client(gw)
    first, key = ask(c)
    again, hit = ask(c)
    assert key == hit and again.model_dump() == first.model_dump() and again.object == "chat.completion"
    chunks = [list(c.chat.completions.create(model="g", messages=MSG, stream=True)) for _ in range(2)]
    assert [ch.model_dump() for ch in chunks[0]] == [ch.model_dump() for ch in chunks[1]]
    assert len(mock.requests()) == 2, "one completion and one stream reached the provider"

    emb = [c.embeddings.with_raw_response.create(model="e", input=["a", "b"]) for _ in range(2)]
    assert emb[0].headers["x-litellm-cache-key"] == emb[1].headers["x-litellm-cache-key"]
    assert emb[0].parse().model_dump() == emb[1].parse().model_dump()
    assert len(mock.requests()) == 3

    # Text completions are not in supported_call_types: not cached.
    for _ in range(2):
        r = c.completions.with_raw_response.create(model="e", prompt="hi")
        assert "x-litellm-cache-key" not in r.headers
    assert len(mock.requests()) == 5
