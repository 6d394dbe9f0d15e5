"""Two gateway replicas (each llmvoy with its own Envoy) on one config whose
router_settings.redis_* point at a throwaway Redis (servers.py): a
deployment's rpm and a key's rpm hold for their combined traffic, where each
replica alone allows the whole limit (the control test shows it); with Redis
gone the replicas keep serving, counting on their own from the last totals
they saw, and say so in their logs and in llmvoy_redis_up; with Redis back
they share again."""

import time

import openai

from test_keys import generate, root, sdk
from test_metrics import eventually, value
from test_routing import config, deployment, fleet  # noqa: F401  (fleet is a fixture)


def replicas(fleet, *deployments, redis=None, **router):
    """Two gateways on one config (and one key store); with `redis`, it is
    their router_settings.redis_*."""
    if redis is not None:
        router.update(redis_host="127.0.0.1", redis_port=redis.port)
    cfg = config(*deployments, **router)
    a = fleet.gateway(cfg)
    a_proc = fleet.llmvoy
    b = fleet.gateway(cfg)
    return (a, a_proc), (b, fleet.llmvoy)


def with_rpm(entry, rpm):
    return entry.replace("    model_info:", f"      rpm: {rpm}\n    model_info:")


def chat(client, model="g"):
    r = client.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
    return r.status_code


def paced(clients, model="g"):
    """One request through each client in turn, 0.2 s apart: Envoy reports
    attempts every 20 ms, so each is counted before the next."""
    codes = []
    for c in clients:
        codes.append(chat(c, model))
        time.sleep(0.2)
    return codes


def away_from_minute_end(need=15):
    """rpm counts reset when the minute ends: start with `need` seconds of
    the minute left."""
    if time.time() % 60 > 60 - need:
        time.sleep(60 - time.time() % 60 + 0.5)


def minute_counter(redis, dep_id):
    """The replicas' shared request count of a deployment this minute, as
    docs/operations.md names it."""
    v = redis.command("GET", f"llmvoy:deployment:{dep_id}:rpm:{int(time.time() // 60)}")
    return int(v) if v is not None else 0


def test_deployment_rpm_holds_across_replicas(fleet, redis_server):
    mock = fleet.mock("m")
    (a, _), (b, _) = replicas(fleet, with_rpm(deployment("g", "dep", mock), 4), redis=redis_server,
                              routing_strategy="usage-based-routing-v2")
    away_from_minute_end()
    # Two requests through each replica: the deployment's rpm of 4 is used.
    assert paced([a, b, a, b]) == [200] * 4
    assert minute_counter(redis_server, "dep") == 4
    time.sleep(1.5)  # each replica reads the shared totals every second
    # Alone, each replica would allow two more (see the control below);
    # together they are done.
    assert paced([a, b, a, b]) == [429] * 4
    r = a.post("/chat/completions", json={"model": "g", "messages": [{"role": "user", "content": "hi"}]})
    assert "No deployments available" in r.json()["error"]["message"]
    assert minute_counter(redis_server, "dep") == 4, "turned away before any attempt: not counted"
    assert len(mock.requests()) == 4


def test_without_redis_each_replica_allows_the_rpm_on_its_own(fleet):
    """The control of the test above: the same traffic, no Redis."""
    mock = fleet.mock("m")
    (a, _), (b, _) = replicas(fleet, with_rpm(deployment("g", "dep", mock), 4),
                              routing_strategy="usage-based-routing-v2")
    away_from_minute_end()
    assert paced([a, b, a, b]) == [200] * 4
    time.sleep(1.5)
    assert paced([a, b, a, b]) == [200] * 4
    assert paced([a, b]) == [429] * 2
    assert len(mock.requests()) == 8


def cooldown_fleet(fleet, redis=None):
    """Two replicas on a group whose order-1 deployment answers 500 (each
    request then retries on order 2 and succeeds): one failure each is
    within allowed_fails 1 for a replica alone, two together are not."""
    bad, good = fleet.mock("bad", status=500), fleet.mock("good")
    (a, _), (b, _) = replicas(fleet, deployment("g", "bad", bad, order=1), deployment("g", "good", good, order=2),
                              redis=redis, num_retries=1, allowed_fails=1, cooldown_time=60)
    return bad, a, b


def test_cooldowns_hold_across_replicas(fleet, redis_server):
    bad, a, b = cooldown_fleet(fleet, redis=redis_server)
    away_from_minute_end()
    # One failure of `bad` through each replica: together they pass
    # allowed_fails, and whichever replica saw the second one cools it down.
    assert paced([a, b]) == [200, 200]
    assert len(bad.requests()) == 2
    # The end of the cooldown, in Unix milliseconds, in the cooling set.
    until = redis_server.command("HGET", "llmvoy:cooldowns", "bad")
    assert until is not None and 50 < int(until) / 1000 - time.time() <= 60, until
    time.sleep(2.5)  # each replica reads the cooling set every second, then tells its Envoy
    # Both replicas keep it out of rotation: no more attempts on it.
    assert paced([a, b, a, b]) == [200] * 4
    assert len(bad.requests()) == 2
    assert value(a, "llmvoy_deployment_cooling_down", deployment="bad") == 1
    assert value(b, "llmvoy_deployment_cooling_down", deployment="bad") == 1


def test_without_redis_each_replica_cools_down_on_its_own(fleet):
    """The control of the test above: the same traffic, no Redis."""
    bad, a, b = cooldown_fleet(fleet)
    away_from_minute_end()
    assert paced([a, b]) == [200, 200]
    time.sleep(2.5)
    assert paced([a, b]) == [200, 200]
    assert len(bad.requests()) == 4, "one failure each: neither replica cooled it down"


def test_deployment_limits_survive_a_redis_outage(fleet, redis_server):
    limited, free = fleet.mock("limited"), fleet.mock("free")
    (a, a_proc), (b, b_proc) = replicas(
        fleet, with_rpm(deployment("g", "lim", limited), 6), with_rpm(deployment("h", "free", free), 1000),
        redis=redis_server, routing_strategy="usage-based-routing-v2")
    away_from_minute_end(25)
    assert paced([a, b]) == [200, 200]
    assert minute_counter(redis_server, "lim") == 2
    assert value(a, "llmvoy_redis_up") == 1 and value(b, "llmvoy_redis_up") == 1
    time.sleep(1.5)  # both replicas have read the total: 2

    redis_server.stop()
    # No request is needed to notice: each replica probes Redis every second.
    for client, proc in ((a, a_proc), (b, b_proc)):
        eventually(client, "llmvoy_redis_up", 0, timeout=5)
        proc.wait_for("Redis unreachable", timeout=5)
    # Traffic keeps flowing, and each replica holds the rpm for its own
    # traffic from the total it last saw: 4 more each (not 6, as a replica
    # that forgot would allow, nor 2, as shared counting would).
    for client in (a, b):
        codes = paced([client] * 7)
        assert codes == [200] * 4 + [429] * 3, codes
        assert paced([client] * 3, model="h") == [200] * 3
    for proc in (a_proc, b_proc):
        assert proc.output().count("Redis unreachable") == 1, "said once"

    redis_server.start()  # a fresh, empty Redis
    for client, proc in ((a, a_proc), (b, b_proc)):
        eventually(client, "llmvoy_redis_up", 1, timeout=5)
        proc.wait_for("Redis reachable again", timeout=5)
    # Sharing resumes: both replicas' requests are counted in Redis again.
    assert paced([a, b, a, b], model="h") == [200] * 4
    assert minute_counter(redis_server, "free") == 4


def test_key_rpm_holds_across_replicas_and_survives_a_redis_outage(fleet, redis_server):
    mock = fleet.mock("m")
    (a, a_proc), (b, b_proc) = replicas(fleet, deployment("g", "dep", mock), redis=redis_server)
    away_from_minute_end(20)
    k = generate(root(a), rpm_limit=3)
    ka, kb = sdk(root(a), k["key"]), sdk(root(b), k["key"])
    msg = [{"role": "user", "content": "hi"}]

    def refused(client):
        try:
            client.chat.completions.create(model="g", messages=msg)
        except openai.RateLimitError as e:
            assert "rpm_limit 3" in str(e)
            return True
        return False

    # The key made on replica A works on B: one key store.
    for client in (ka, kb, ka):
        assert client.chat.completions.create(model="g", messages=msg).choices
    assert refused(kb) and refused(ka), "a fourth request in the minute passed rpm_limit 3"
    assert value(a, "llmvoy_redis_up") == 1 and value(b, "llmvoy_redis_up") == 1

    # Redis goes away: traffic keeps flowing, without waiting for Redis on
    # the request path...
    redis_server.stop()
    fresh = generate(root(a), rpm_limit=100)
    for client in (sdk(root(a), fresh["key"]), sdk(root(b), fresh["key"])):
        for _ in range(3):
            start = time.time()
            assert client.chat.completions.create(model="g", messages=msg).choices
            assert time.time() - start < 1
    # ...and a key at its limit stays there: each replica counts on from
    # the total it last saw.
    assert refused(ka) and refused(kb)
    for client, proc in ((a, a_proc), (b, b_proc)):
        assert value(client, "llmvoy_redis_up") == 0
        proc.wait_for("Redis unreachable", timeout=5)

    redis_server.start()
    for client, proc in ((a, a_proc), (b, b_proc)):
        eventually(client, "llmvoy_redis_up", 1, timeout=5)
        proc.wait_for("Redis reachable again", timeout=5)
    sdk(root(a), fresh["key"]).chat.completions.create(model="g", messages=msg)


def test_changed_redis_settings_need_a_restart(fleet, redis_server):
    mock = fleet.mock("m")
    client = fleet.gateway(config(deployment("g", "dep", mock), redis_host="127.0.0.1", redis_port=redis_server.port))
    path = fleet.tmp_path / "config.yaml"
    path.write_text(path.read_text().replace(f"redis_port: {redis_server.port}", "redis_port: 1"))
    fleet.llmvoy.wait_for("router_settings.redis_* changed: restart llmvoy to apply it", timeout=10)
    # Still counting in the Redis it started with.
    assert chat(client) == 200
    assert value(client, "llmvoy_redis_up") == 1


def test_key_budget_holds_across_replicas(fleet, redis_server):
    """A key's spend in its budget period is counted in Redis as each answer
    is priced, so a replica refuses the key at once after another replica
    spent its budget (the key store alone would tell it only after the next
    write and cache refresh)."""
    from test_keys import priced
    mock = fleet.mock("m")
    (a, _), (b, _) = replicas(fleet, priced("g", "dep", mock), redis=redis_server)
    msg = [{"role": "user", "content": "hi"}]
    probe = generate(root(a))
    r = sdk(root(a), probe["key"]).chat.completions.with_raw_response.create(model="g", messages=msg)
    cost = float(r.headers["x-llmvoy-response-cost"])
    assert cost > 0
    # Room for one answer and a half: the second one spends it.
    k = generate(root(a), max_budget=cost * 1.5, budget_duration="1d")
    kb, ka = sdk(root(b), k["key"]), sdk(root(a), k["key"])
    kb.chat.completions.create(model="g", messages=msg)  # B has the key cached now
    ka.chat.completions.create(model="g", messages=msg)
    try:
        kb.chat.completions.create(model="g", messages=msg)
        raise AssertionError("replica B let the key spend past its budget")
    except openai.RateLimitError as e:
        assert e.body["type"] == "budget_exceeded"


def test_latency_based_routing_uses_every_replicas_latencies(fleet, redis_server):
    # Replica a measures both deployments; replica b, which never called the
    # slow one, routes around it from a's latencies.
    slow, fast = fleet.mock("slow", latency="300ms"), fleet.mock("fast")
    (a, _), (b, _) = replicas(fleet, deployment("g", "slow", slow), deployment("g", "fast", fast),
                              redis=redis_server, routing_strategy="latency-based-routing")
    away_from_minute_end(20)
    for _ in range(6):
        assert chat(a) == 200
    assert slow.requests() and fast.requests(), "round robin met both before any was measured"
    n = redis_server.command("GET", f"llmvoy:deployment:slow:latency-n:{int(time.time() // 60)}")
    assert n is not None and int(n) >= 1
    time.sleep(2.5)  # b reads the shared latencies every second, then tells its Envoy
    before = len(slow.requests())
    for _ in range(8):
        assert chat(b) == 200
    assert len(slow.requests()) == before, "b sent nothing to the slow deployment"
