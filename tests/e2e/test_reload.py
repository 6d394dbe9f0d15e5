"""Config reload under load: routing follows the new file without dropping a
request in flight, and a broken file is refused while the old config keeps
serving. A file that parses but cannot be served is refused as a whole: the
gateway's answers stay what they were.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import concurrent.futures
import contextlib
import threading
import time

from test_fallbacks import router_config, wait_until
from test_routing import chat, chat_attempts, deployment, fleet  # noqa: F401  (fleet is a fixture)


@contextlib.contextmanager
def under_load(client, group, tag, workers=8):
    """`workers` clients sending chats to group as fast as they are answered while
    the block runs; yields the list their results go to."""
    results, stop = [], threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            results.append(chat(client, group, f"{tag}{worker}-{i}"))
            i += 1

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        running = [pool.submit(load, w) for w in range(workers)]
        try:
            yield results
        finally:
            stop.set()
            for r in running:
                r.result()


def test_reload_under_load_loses_no_request(fleet):
    a, b, c = fleet.mock("a", latency="20ms"), fleet.mock("b", latency="20ms"), fleet.mock("c", latency="20ms")
    first = router_config(deployment("gpt", "a", a), deployment("gpt", "b", b))
    client = fleet.gateway(first)
    path = fleet.tmp_path / "config.yaml"

    with under_load(client, "gpt", "w") as results:
        time.sleep(1)
        # b leaves, c joins, while requests are in flight.
        path.write_text(router_config(deployment("gpt", "a", a), deployment("gpt", "c", c)))
        wait_until(lambda: fleet.llmvoy.output().count("config reloaded") == 1, what="the first reload")
        time.sleep(1.5)
        # A broken file is refused; the last good config keeps serving.
        path.write_text("model_list: [\n")
        wait_until(lambda: "config reload rejected" in fleet.llmvoy.output(), what="the refused reload")
        time.sleep(1)

    failed = [r for r in results if r.status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed during reloads, e.g. {failed[:3]}"
    assert len(results) > 200
    # After the reload, traffic goes to a and c only.
    late = [r.deployment for r in results[-60:]]
    assert "b" not in late and "c" in late, late


def many_orders(group, n):
    """A group of n deployments with n distinct `order`s: valid LiteLLM, but
    Envoy has 129 priorities (0-128), so llmvoy cannot build its endpoints.
    Nothing listens on their ports; no request is ever sent there."""
    return "\n".join(
        f"  - model_name: {group}\n    litellm_params:\n      model: openai/m{i}\n"
        f"      api_base: http://127.0.0.1:{20000 + i}/v1\n      api_key: sk-mock\n      order: {i}\n"
        f"    model_info:\n      id: {group}-{i}"
        for i in range(1, n + 1))


def answers(client, tag):
    """What the gateway says: its model list, and who answers a few chats to
    the served group and to a group it does not serve."""
    models = client.get("/models")
    assert models.status_code == 200, models.text
    chats = [chat(client, "gpt", f"{tag}-{i}") for i in range(6)]
    unknown = chat(client, "many", f"{tag}-many")
    return sorted(m["id"] for m in models.json()["data"]), chats, unknown.status


def test_a_config_that_parses_but_cannot_be_served_changes_nothing(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(router_config(deployment("gpt", "a", a)))
    path = fleet.tmp_path / "config.yaml"
    models, chats, unknown = answers(client, "before")
    assert models == ["gpt"]
    assert all((r.status, r.deployment, r.mock) == (200, "a", "a") for r in chats), chats
    assert unknown == 400

    # gpt moves to b and a group llmvoy cannot serve joins: had any part of
    # the gateway taken this config, /v1/models would list "many", gpt would
    # answer from b, or "many" would be routed instead of refused.
    path.write_text(router_config(deployment("gpt", "b", b), many_orders("many", 130)))
    wait_until(lambda: "config reload rejected" in fleet.llmvoy.output(), what="the refused reload")
    out = fleet.llmvoy.output()
    assert "Priority" in out.split("config reload rejected", 1)[1].splitlines()[0], out
    assert "config reloaded" not in out

    models_after, chats_after, unknown_after = answers(client, "after")
    assert models_after == models
    assert all((r.status, r.deployment, r.mock) == (200, "a", "a") for r in chats_after), chats_after
    assert unknown_after == unknown
    assert chat_attempts(b) == [], "b is not in the served config"

    # The next good file is taken as usual.
    path.write_text(router_config(deployment("gpt", "b", b)))
    wait_until(lambda: "config reloaded" in fleet.llmvoy.output(), what="the next reload")
    wait_until(lambda: chat(client, "gpt", "later").deployment == "b", what="gpt served by b")


def test_reload_storm_under_load_loses_no_request(fleet):
    """A valid and an invalid config alternating every 200 ms while 8
    clients send requests: every request is answered, every valid file is
    taken and every invalid one refused, for 3 seconds."""
    a, b = fleet.mock("a", latency="5ms"), fleet.mock("b", latency="5ms")
    valid = [router_config(deployment("gpt", "a", a), deployment("gpt", "b", b)),
             router_config(deployment("gpt", "a", a))]
    client = fleet.gateway(valid[0], args=("--reload-interval", "50ms"))
    path = fleet.tmp_path / "config.yaml"

    with under_load(client, "gpt", "storm") as results:
        deadline = time.monotonic() + 3
        n = 0
        while time.monotonic() < deadline:
            # valid, invalid, the other valid one, invalid, ...
            path.write_text(valid[(n // 2) % 2] if n % 2 == 0 else "model_list: [\n")
            n += 1
            time.sleep(0.2)

    failed = [r for r in results if r.status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed during the storm, e.g. {failed[:3]}"
    assert len(results) > 100
    out = fleet.llmvoy.output()
    assert out.count("config reloaded") >= 3 and out.count("config reload rejected") >= 3, out[-2000:]
