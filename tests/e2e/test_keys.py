"""Virtual keys and spend through a real Envoy, with the official OpenAI SDK
as the app and the master key as the admin: LiteLLM's /key/* endpoints, model
restriction, budgets, rpm/tpm limits, spend that matches the mock's usage,
cost headers, the JSON access log, and spend that survives a crash up to the
documented window. Runs on the embedded SQLite store and on a real
PostgreSQL server (`postgres_url` from servers.py)."""

import json
import os
import signal
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import MASTER_KEY
from servers import Postgres, _as_postgres
from test_metrics import value
from test_routing import config, configure, deployment, fleet  # noqa: F401  (fleet is a fixture)

# The mock answers every chat completion with this usage (mock/chat.go) and
# the deployments below price tokens so the cost is exact.
PROMPT_COST, COMPLETION_COST = 0.000002, 0.000008


def priced(group, dep_id, mock):
    return deployment(group, dep_id, mock) + (
        f"\n      input_cost_per_token: {PROMPT_COST}\n      output_cost_per_token: {COMPLETION_COST}")


def admin(client, method, path, **kw):
    r = client.request(method, path, headers={"authorization": f"Bearer {MASTER_KEY}"}, **kw)
    return r


def generate(client, **fields):
    r = admin(client, "POST", "/key/generate", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


def sdk(client, key):
    return openai.OpenAI(base_url=str(client.base_url), api_key=key, max_retries=0)


def root(client):
    return httpx.Client(base_url=str(client.base_url).rstrip("/").removesuffix("/v1"), timeout=30)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request):
    """The database_url of the test's store: "" for the SQLite file under
    the test's data directory, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_database")


def start(fleet, store="", args=()):
    mock = fleet.mock("m")
    cfg = config(priced("gpt-4o", "dep-a", mock), priced("claude", "dep-b", mock))
    if store:
        cfg = cfg.replace("general_settings:\n", f"general_settings:\n  database_url: {store}\n")
    client = fleet.gateway(cfg, args=args)
    return mock, root(client)


def test_key_lifecycle_and_model_restriction(fleet, store):
    _, c = start(fleet, store)
    k = generate(c, key_alias="app-1", models=["gpt-4o"], metadata={"team": "ml"}, duration="1h")
    assert k["key"].startswith("sk-") and k["key_alias"] == "app-1" and k["models"] == ["gpt-4o"]
    assert k["token"] == k["token_id"] and k["key"] not in json.dumps({kk: v for kk, v in k.items() if kk != "key"})

    client = sdk(c, k["key"])
    assert [m.id for m in client.models.list()] == ["gpt-4o"], "a key lists the models it may call"
    r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert r.http_request.headers["authorization"] == f"Bearer {k['key']}"
    assert r.parse().choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert "not allowed to access model" in str(e.value) and e.value.body["type"] == "key_model_access_denied"

    info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
    assert info["key_alias"] == "app-1" and info["metadata"] == {"team": "ml"} and info["expires"]
    # A key reads its own info; not others', and no admin endpoint.
    own = c.get("/key/info", headers={"authorization": f"Bearer {k['key']}"})
    assert own.status_code == 200 and own.json()["info"]["token"] == k["token"]
    assert c.get("/key/list", headers={"authorization": f"Bearer {k['key']}"}).status_code == 401

    up = admin(c, "POST", "/key/update", json={"key": k["key"], "models": ["gpt-4o", "claude"]})
    assert up.status_code == 200 and up.json()["models"] == ["gpt-4o", "claude"]
    assert client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}]).choices

    listed = admin(c, "GET", "/key/list").json()
    assert listed["keys"] == [k["token"]] and listed["total_count"] == 1

    assert admin(c, "POST", "/key/update", json={"key": "sk-nope", "models": []}).status_code == 404
    assert admin(c, "POST", "/key/generate", json={"key_alias": "app-1"}).status_code == 400  # alias taken
    bad = admin(c, "POST", "/key/generate", json={"rpm_limit": "ten"})
    assert bad.status_code == 400 and "rpm_limit" in bad.json()["error"]["message"]
    assert admin(c, "POST", "/key/generate", json={"team_id": "t1"}).status_code == 400  # would be ignored

    d = admin(c, "POST", "/key/delete", json={"keys": [k["key"]]})
    assert d.status_code == 200 and d.json()["deleted_keys"] == [k["key"]]
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_blocked_and_expired_keys_are_refused(fleet, store):
    _, c = start(fleet, store)
    k = generate(c, duration="2s")
    blocked = generate(c)
    assert admin(c, "POST", "/key/block", json={"key": blocked["key"]}).status_code == 200
    with pytest.raises(openai.AuthenticationError) as e:
        sdk(c, blocked["key"]).models.list()
    assert "blocked" in str(e.value)
    assert sdk(c, k["key"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    time.sleep(2.2)
    with pytest.raises(openai.AuthenticationError) as e:
        sdk(c, k["key"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "Expired Key" in str(e.value)


def test_spend_matches_the_mock_usage(fleet, store, tmp_path):
    mock, c = start(fleet, store, args=("--access-log", str(tmp_path / "access.log")))
    k = generate(c, key_alias="spender")
    client = sdk(c, k["key"])
    costs, usages = [], []
    for i in range(3):
        r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": f"q{i}"}])
        u = r.parse().usage
        usages.append(u)
        want = u.prompt_tokens * PROMPT_COST + u.completion_tokens * COMPLETION_COST
        assert float(r.headers["x-litellm-response-cost"]) == pytest.approx(want)
        assert r.headers["x-llmvoy-response-cost"] == r.headers["x-litellm-response-cost"]
        costs.append(want)
    # A stream asks for usage; its spend is recorded, without a header.
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "s"}], stream=True,
                                            stream_options={"include_usage": True})
    su = [ch.usage for ch in stream if ch.usage][-1]
    costs.append(su.prompt_tokens * PROMPT_COST + su.completion_tokens * COMPLETION_COST)

    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    assert len(logs) == 4
    assert sum(l["spend"] for l in logs) == pytest.approx(sum(costs))
    assert {l["model_group"] for l in logs} == {"gpt-4o"} and {l["model_id"] for l in logs} == {"dep-a"}
    assert all(l["api_key"] == k["token"] and l["key_alias"] == "spender" for l in logs)
    assert sorted(l["prompt_tokens"] for l in logs[1:]) == sorted(u.prompt_tokens for u in usages)
    assert "messages" not in logs[0]  # prompts are not stored unless asked
    info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
    assert info["spend"] == pytest.approx(sum(costs))
    assert value(c, "llmvoy_spend_usd_total", model_group="gpt-4o", deployment="dep-a") == pytest.approx(sum(costs))
    assert value(c, "llmvoy_tokens_total", model_group="gpt-4o", type="input") == sum(l["prompt_tokens"] for l in logs)
    g = admin(c, "GET", "/global/spend").json()
    assert g["spend"] == pytest.approx(sum(costs))
    assert g["totals"][0]["model_id"] == "dep-a" and g["totals"][0]["requests"] == 4

    # The access log: a JSON line per request, with the key's alias and the
    # cost, never the prompt.
    deadline = time.time() + 5
    while True:
        lines = [json.loads(l) for l in (tmp_path / "access.log").read_text().splitlines() if l]
        chats = [l for l in lines if l["path"].endswith("/chat/completions")]
        if len(chats) >= 4 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(chats) == 4, lines
    assert all(l["key_alias"] == "spender" and l["status"] == 200 and l["model_group"] == "gpt-4o"
               and l["deployment"] == "dep-a" and l["attempts"] == 1 for l in chats)
    assert sum(l["cost"] for l in chats) == pytest.approx(sum(costs))
    assert "q0" not in (tmp_path / "access.log").read_text()


def test_budget_exhaustion_is_a_429(fleet, store):
    _, c = start(fleet, store)
    # One answer costs more than this: the next request is refused.
    k = generate(c, max_budget=0.0000001, budget_duration="1h")
    client = sdk(c, k["key"])
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "Budget has been exceeded" in str(e.value) and e.value.body["type"] == "budget_exceeded"
    assert 3000 < int(e.value.response.headers["retry-after"]) <= 3600
    # Raising the budget lets it through again.
    admin(c, "POST", "/key/update", json={"key": k["key"], "max_budget": 10})
    assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices


def test_key_rpm_and_parallel_limits(fleet):
    mock, c = start(fleet)
    k = generate(c, rpm_limit=3)
    client = sdk(c, k["key"])
    ok = refused = 0
    for _ in range(5):
        try:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            ok += 1
        except openai.RateLimitError as e:
            refused += 1
            assert "rpm_limit 3" in str(e) and 0 < int(e.response.headers["retry-after"]) <= 60
    # The minute may roll over between two requests, so at least 3 pass.
    assert ok >= 3 and ok + refused == 5
    if ok == 3:
        assert refused == 2

    # max_parallel_requests 1: a second request while a slow one is in
    # flight is refused; once it ended, requests pass again.
    configure(mock, latency="1500ms")
    p = generate(c, max_parallel_requests=1)
    first = threading.Thread(target=lambda: sdk(c, p["key"]).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "slow"}]))
    first.start()
    time.sleep(0.5)
    with pytest.raises(openai.RateLimitError) as e:
        sdk(c, p["key"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "max_parallel_requests 1" in str(e.value)
    first.join()
    configure(mock, latency="0s")
    time.sleep(0.2)  # the access log tells llmvoy the request ended
    assert sdk(c, p["key"]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_spend_survives_a_crash_after_the_write_window(fleet, tmp_path):
    """Spend is written every second: killed with SIGKILL 1.5 s after the
    last answer, the gateway lost nothing; restarted on the same store, the
    spend is all there."""
    mock, c = start(fleet)
    k = generate(c)
    client = sdk(c, k["key"])
    for i in range(5):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"c{i}"}])
    time.sleep(1.5)
    fleet.llmvoy.p.send_signal(signal.SIGKILL)
    fleet.llmvoy.p.wait()
    cfg = (fleet.tmp_path / "config.yaml").read_text()
    c2 = root(fleet.gateway(cfg))
    logs = admin(c2, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    assert len(logs) == 5
    assert admin(c2, "GET", "/key/info", params={"key": k["key"]}).json()["info"]["spend"] > 0


def test_spend_survives_postgres_down_and_back(fleet):
    """PostgreSQL stopped for longer than the key cache's TTL (5 s) under a
    key already used: every request is still answered, from the cached key;
    the spend writer keeps what it cannot write and writes it when the
    server is back on the same data directory and port: N+M logs, each
    request once, and the key's spend is their sum."""
    pg = Postgres()  # the test's own server: the session's is shared
    try:
        url = pg.create_database()
        db = url.rsplit("/", 1)[1].split("?")[0]

        def stored():
            """What PostgreSQL itself holds: (logs, distinct ids, sum of spend, key spend)."""
            out = subprocess.run([f"{pg.bin}/psql", pg.url(db), "-Atc",
                                  "SELECT count(*), count(DISTINCT request_id), coalesce(sum(spend), 0),"
                                  " (SELECT sum(spend) FROM llmvoy_keys) FROM llmvoy_spend_logs"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            n, distinct, total, key = out.split("|")
            return int(n), int(distinct), float(total), float(key or 0)

        def pg_ctl(*args):
            subprocess.run(_as_postgres([f"{pg.bin}/pg_ctl", "-D", pg.data, *args]), check=True, capture_output=True)

        _, c = start(fleet, url)
        k = generate(c, key_alias="outage")
        client = sdk(c, k["key"])
        N, M = 10, 10
        costs = []

        def ask(tag):
            u = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": tag}]).usage
            costs.append(u.prompt_tokens * PROMPT_COST + u.completion_tokens * COMPLETION_COST)

        for i in range(N):
            ask(f"before-{i}")
        before = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
        assert len(before) == N and sum(l["spend"] for l in before) == pytest.approx(sum(costs[:N]))

        # Down: PostgreSQL's fast shutdown ends its connections (llmvoy's
        # pooled ones included) and stops listening.
        t0 = time.monotonic()
        pg_ctl("-m", "fast", "-w", "stop")
        down_at = time.monotonic()
        answered, slowest = 0, 0.0
        for i in range(M):
            if i == M // 2:
                time.sleep(5.5)  # past the key cache's TTL: the key is still served from it
            s = time.monotonic()
            ask(f"during-{i}")
            slowest = max(slowest, time.monotonic() - s)
            answered += 1
        assert answered == M
        assert "spend not written; will try again" in fleet.llmvoy.output(), "the writer did not try while the store was down"
        # What reads the store itself (not the request path) fails meanwhile.
        during = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]})
        assert during.status_code >= 500, during.text

        # Back: the same data directory and port.
        pg_ctl("-w", "-l", os.path.join(pg.dir, "log"), "-o",
               f"-p {pg.port} -k {pg.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        up_at = time.monotonic()
        down_for = up_at - down_at
        deadline = up_at + 15
        while stored()[0] < N + M and time.monotonic() < deadline:
            time.sleep(0.1)
        written_after = time.monotonic() - up_at
        time.sleep(2.5)  # two more write intervals: a replayed batch would show now
        n, distinct, total, key_spend = stored()
        print(f"\n{N} requests before; PostgreSQL down {down_for:.1f} s: {answered}/{M} answered 200, slowest "
              f"{slowest * 1000:.0f} ms; /spend/logs while down: {during.status_code} {during.text.strip()}; back up: all written "
              f"{written_after:.2f} s later; stored: {n} logs, {distinct} distinct request ids, spend {total:.8f}, "
              f"key spend {key_spend:.8f}, sum of answers {sum(costs):.8f} (stop took {down_at - t0:.2f} s)")
        assert (n, distinct) == (N + M, N + M), "spend lost or doubled"
        assert total == pytest.approx(sum(costs)) and key_spend == pytest.approx(sum(costs))

        logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
        assert len(logs) == N + M and len({l["request_id"] for l in logs}) == N + M
        assert {l["request_id"] for l in before} <= {l["request_id"] for l in logs}
        assert sum(l["spend"] for l in logs) == pytest.approx(sum(costs))
        info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
        assert info["spend"] == pytest.approx(sum(costs))
        g = admin(c, "GET", "/global/spend").json()
        assert g["totals"][0]["requests"] == N + M and g["spend"] == pytest.approx(sum(costs))
    finally:
        fleet.close()  # llmvoy first, while its store is still there
        pg.stop()
