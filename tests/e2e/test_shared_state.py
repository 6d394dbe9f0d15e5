"""Two gateway replicas sharing Redis (router_settings.redis_*) and one key
store: a deployment's rpm and a key's rpm hold for their combined traffic,
where each replica alone would allow the whole limit; with Redis gone the
replicas keep serving, counting on their own, and say so in their logs and
in llmvoy_redis_up; with Redis back they share again."""

import time

import openai

from test_keys import generate, root, sdk
from test_metrics import value
from test_routing import config, deployment, fleet  # noqa: F401  (fleet is a fixture)


def replicas(fleet, redis, *deployments, **router):
    cfg = config(*deployments, redis_host="127.0.0.1", redis_port=redis.port, **router)
    a = fleet.gateway(cfg)
    a_proc = fleet.llmvoy
    b = fleet.gateway(cfg)
    return (a, a_proc), (b, fleet.llmvoy)


def chat(client):
    r = client.post("/chat/completions", json={"model": "g", "messages": [{"role": "user", "content": "hi"}]})
    return r.status_code


def away_from_minute_end():
    """rpm counts reset when the minute ends: start well inside one."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.5)


def test_deployment_rpm_holds_across_replicas(fleet, redis_server):
    mock = fleet.mock("m")
    dep = deployment("g", "dep", mock).replace("    model_info:", "      rpm: 4\n    model_info:")
    (a, _), (b, _) = replicas(fleet, redis_server, dep, routing_strategy="usage-based-routing-v2")
    away_from_minute_end()
    # Two requests through each replica: the deployment's rpm of 4 is used.
    for client in (a, b, a, b):
        assert chat(client) == 200
        time.sleep(0.2)
    time.sleep(1.5)  # each replica reads the shared totals every second
    # Alone, each replica would allow two more; together they are done.
    codes = [chat(c) for c in (a, b, a, b)]
    assert codes == [429, 429, 429, 429], codes
    r = a.post("/chat/completions", json={"model": "g", "messages": [{"role": "user", "content": "hi"}]})
    assert "No deployments available" in r.json()["error"]["message"]


def test_key_rpm_holds_across_replicas_and_survives_a_redis_outage(fleet, redis_server):
    mock = fleet.mock("m")
    (a, a_proc), (b, _) = replicas(fleet, redis_server, deployment("g", "dep", mock))
    away_from_minute_end()
    k = generate(root(a), rpm_limit=3)
    ka, kb = sdk(root(a), k["key"]), sdk(root(b), k["key"])
    msg = [{"role": "user", "content": "hi"}]
    # The key made on replica A works on B: one key store.
    for client in (ka, kb, ka):
        assert client.chat.completions.create(model="g", messages=msg).choices
    for client in (kb, ka):
        try:
            client.chat.completions.create(model="g", messages=msg)
            raise AssertionError("a fourth request in the minute passed rpm_limit 3")
        except openai.RateLimitError as e:
            assert "rpm_limit 3" in str(e)
    assert value(a, "llmvoy_redis_up") == 1

    # Redis goes away: traffic keeps flowing (counted per replica now: a
    # fresh count, so the key has its 3 requests again on each).
    redis_server.stop()
    fresh = generate(root(a), rpm_limit=100)
    for client in (sdk(root(a), fresh["key"]), sdk(root(b), fresh["key"])):
        assert client.chat.completions.create(model="g", messages=msg).choices
    assert value(a, "llmvoy_redis_up") == 0
    a_proc.wait_for("Redis unreachable")

    redis_server.start()
    time.sleep(1.2)  # the next call after a second tries Redis again
    sdk(root(a), fresh["key"]).chat.completions.create(model="g", messages=msg)
    assert value(a, "llmvoy_redis_up") == 1
    a_proc.wait_for("Redis reachable again")
