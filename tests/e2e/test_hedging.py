"""Hedged requests (router_settings.model_group_hedging) through a real
Envoy: an attempt that has not begun to answer within the group's delay is
raced by a second attempt on another deployment (Envoy's
hedge_on_per_try_timeout); the first answer wins and the other attempt is
reset. The client gets the fast deployment's answer after about the delay,
not after the slow one's latency; a virtual key is charged once per request;
the race's loser does not count against the slow deployment's cooldown.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import time

import openai

from test_fallbacks import router_config
from test_keys import admin, generate, priced, root, sdk
from test_metrics import eventually, value
from test_routing import chat_attempts, fleet  # noqa: F401  (fleet is a fixture)

SLOW = 3.0  # seconds the slow deployment takes to begin its answer
DELAY = 0.3  # the hedge delay


def hedged_gateway(fleet, hedging=True):
    slow, fast = fleet.mock("slow", latency=f"{SLOW}s"), fleet.mock("fast")
    router = "  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 60\n"
    if hedging:
        router += f"  model_group_hedging:\n    gpt:\n      delay: {DELAY}\n"
    client = fleet.gateway(router_config(priced("gpt", "slow", slow), priced("gpt", "fast", fast), router=router))
    return slow, fast, root(client)


def timed_chats(client, n, stream=False):
    """n chat completions one after another: (seconds, deployment) each."""
    out = []
    for i in range(n):
        start = time.monotonic()
        kw = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
        r = client.chat.completions.with_raw_response.create(
            model="gpt", messages=[{"role": "user", "content": f"hedge-{stream}-{i}"}], **kw)
        body = r.parse()
        if stream:
            assert "".join(c.choices[0].delta.content or "" for c in body if c.choices)
        else:
            assert body.choices[0].message.content
        out.append((time.monotonic() - start, r.headers["x-llmvoy-model-id"]))
    return out


def test_a_slow_attempt_is_raced_and_the_fast_answer_wins(fleet):
    slow, fast, c = hedged_gateway(fleet)
    k = generate(c, key_alias="hedged")
    client = sdk(c, k["key"])
    results = timed_chats(client, 6) + timed_chats(client, 4, stream=True)

    # Every answer is the fast deployment's, and none waited for the slow
    # one: round robin sent about half of them to it first, each of those
    # answered after the delay (the slack is the noisy 2-core machine's).
    assert all(dep == "fast" for _, dep in results), results
    assert max(s for s, _ in results) < SLOW / 2, results
    raced = len(chat_attempts(slow))
    assert raced >= 2, "round robin sent some requests to the slow deployment first"
    assert sum(s >= DELAY for s, _ in results) >= raced, results
    assert len(chat_attempts(fast)) == len(results)

    # Charged once per client request: the loser never began its answer.
    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    assert len(logs) == len(results) and len({l["request_id"] for l in logs}) == len(results), logs
    assert {l["model_id"] for l in logs} == {"fast"}

    # Each race is counted; the lost races are not failures of the slow
    # deployment (allowed_fails: 0 would cool it down at its first).
    eventually(c, "llmvoy_hedged_attempts_total", raced, model_group="gpt")
    assert value(c, "llmvoy_attempts_total", model_group="gpt", deployment="slow", **{"class": "hedged"}) == raced
    assert "deployment cooling down" not in fleet.llmvoy.output()


def test_without_hedging_the_slow_deployment_shows(fleet):
    slow, _, c = hedged_gateway(fleet, hedging=False)
    client = sdk(c, generate(c)["key"])
    # Round robin reaches the slow deployment within a few requests; its
    # answer then takes all of its latency.
    for _ in range(6):
        [(took, dep)] = timed_chats(client, 1)
        if dep == "slow":
            break
    assert dep == "slow" and took >= SLOW * 0.9, (took, dep)
    assert len(chat_attempts(slow)) == 1


def test_the_first_answer_wins_whichever_attempt_gives_it(fleet):
    # The raced attempt may still answer first: `steady` begins its answers
    # after 0.5 s, past the delay, `slow` after 3 s. Whichever went first,
    # steady's answer wins and slow's attempt is reset (before its own
    # delay passed, when steady went first); neither is a failure.
    steady, slow = fleet.mock("steady", latency="0.5s"), fleet.mock("slow", latency=f"{SLOW}s")
    c = root(fleet.gateway(router_config(
        priced("gpt", "steady", steady), priced("gpt", "slow", slow),
        router=f"  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 60\n  model_group_hedging: {{gpt: {{delay: {DELAY}}}}}\n")))
    k = generate(c)
    results = timed_chats(sdk(c, k["key"]), 4)
    assert all(dep == "steady" for _, dep in results), results
    assert max(s for s, _ in results) < SLOW / 2, results
    assert len(admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()) == len(results)
    # Each request had an attempt past the delay (the one that went first);
    # each of slow's attempts lost its race.
    eventually(c, "llmvoy_hedged_attempts_total", lambda v: v >= len(results), model_group="gpt")
    eventually(c, "llmvoy_attempts_total", len(chat_attempts(slow)), model_group="gpt", deployment="slow", **{"class": "hedged"})
    assert value(c, "llmvoy_attempts_total", model_group="gpt", deployment="steady", **{"class": "2xx"}) == len(results)
    assert "deployment cooling down" not in fleet.llmvoy.output()


def test_a_group_with_a_fallback_hedges_through_the_hop(fleet):
    # With a fallback chain the group's attempts are made behind the
    # fallback hop's listener, whose route hedges the same way; streams
    # included (the delay replaces their stream_timeout).
    slow, fast, backup = fleet.mock("slow", latency=f"{SLOW}s"), fleet.mock("fast"), fleet.mock("backup")
    c = root(fleet.gateway(router_config(
        priced("gpt", "slow", slow).replace("api_key: sk-mock", "api_key: sk-mock\n      stream_timeout: 5"),
        priced("gpt", "fast", fast).replace("api_key: sk-mock", "api_key: sk-mock\n      stream_timeout: 5"),
        priced("backup", "backup", backup),
        router=(f"  num_retries: 1\n  fallbacks: [{{\"gpt\": [\"backup\"]}}]\n"
                f"  model_group_hedging: {{gpt: {{delay: {DELAY}}}}}\n"))))
    results = timed_chats(sdk(c, generate(c)["key"]), 4) + timed_chats(sdk(c, generate(c)["key"]), 4, stream=True)
    assert all(dep == "fast" for _, dep in results), results
    assert max(s for s, _ in results) < SLOW / 2, results
    assert len(chat_attempts(slow)) >= 2 and not chat_attempts(backup)


def test_a_p95_delay_is_measured_from_the_groups_answers(fleet):
    # delay: p95 hedges after 1 s until llmvoy has measured 20 answers of
    # the group, then after the 95th percentile of their times to first
    # byte: here the fast deployment's few milliseconds (the slow one's
    # attempts lose their races and are never measured).
    slow, fast = fleet.mock("slow", latency=f"{SLOW}s"), fleet.mock("fast")
    c = root(fleet.gateway(router_config(
        priced("gpt", "slow", slow), priced("gpt", "fast", fast),
        router="  num_retries: 1\n  model_group_hedging: {gpt: {delay: p95}}\n")))
    client = sdk(c, generate(c)["key"])
    before = timed_chats(client, 24)
    assert all(dep == "fast" for _, dep in before), before
    assert max(s for s, _ in before) >= 0.9, "the slow deployment's first attempts were raced after 1 s"
    time.sleep(2.5)  # the router's decision (every second) reaches Envoy's routes
    after = timed_chats(client, 10)
    assert all(dep == "fast" for _, dep in after), after
    assert len(chat_attempts(slow)) >= 14, "round robin kept sending first attempts to the slow deployment"
    assert max(s for s, _ in after) < 0.5, after
