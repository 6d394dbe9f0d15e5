"""Config reload under load: routing follows the new file without dropping a
request in flight, and a broken file is refused while the old config keeps
serving.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import concurrent.futures
import threading
import time

from test_fallbacks import router_config, wait_until
from test_routing import chat, deployment, fleet  # noqa: F401  (fleet is a fixture)


def test_reload_under_load_loses_no_request(fleet):
    a, b, c = fleet.mock("a", latency="20ms"), fleet.mock("b", latency="20ms"), fleet.mock("c", latency="20ms")
    first = router_config(deployment("gpt", "a", a), deployment("gpt", "b", b))
    client = fleet.gateway(first)
    path = fleet.tmp_path / "config.yaml"

    results, stop = [], threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            results.append(chat(client, "gpt", f"w{worker}-{i}"))
            i += 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        workers = [pool.submit(load, w) for w in range(8)]
        time.sleep(1)
        # b leaves, c joins, while requests are in flight.
        path.write_text(router_config(deployment("gpt", "a", a), deployment("gpt", "c", c)))
        wait_until(lambda: fleet.llmvoy.output().count("config reloaded") == 1, what="the first reload")
        time.sleep(1.5)
        # A broken file is refused; the last good config keeps serving.
        path.write_text("model_list: [\n")
        wait_until(lambda: "config reload rejected" in fleet.llmvoy.output(), what="the refused reload")
        time.sleep(1)
        stop.set()
        for w in workers:
            w.result()

    failed = [r for r in results if r.status != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed during reloads, e.g. {failed[:3]}"
    assert len(results) > 200
    # After the reload, traffic goes to a and c only.
    late = [r.deployment for r in results[-60:]]
    assert "b" not in late and "c" in late, late
