"""LiteLLM's Prometheus metric names, scraped from llmvoy's /metrics by a
real Prometheus server (Debian's package), answered by the PromQL queries
LiteLLM's Grafana dashboards are built on: requests by model, request
latency histograms, a deployment's state, spend and tokens of a virtual
key."""

import json
import shutil
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Proc, free_port
from test_fallbacks import router_config
from test_keys import generate, root
from test_routing import deployment, fleet  # noqa: F401  (fleet is a fixture)


def promql(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in body["data"]["result"]}


def wait_for(port, query, check, timeout=30):
    deadline, got = time.time() + timeout, None
    while time.time() < deadline:
        try:
            got = promql(port, query)
        except OSError:  # Prometheus is still starting
            got = None
        if got is not None and check(got):
            return got
        time.sleep(0.5)
    pytest.fail(f"{query}: {got}")


def test_litellm_metric_names_scraped_by_prometheus(fleet, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is not installed: run `make servers`")
    a = fleet.mock("a")
    cfg = router_config(deployment("gpt", "a1", a)).replace("api_key: sk-mock", "api_key: sk-mock\n      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002", 1)
    client = fleet.gateway(cfg)
    key = generate(root(client), key_alias="dashboards")["key"]
    for i in range(5):
        r = client.post("/chat/completions", headers={"authorization": f"Bearer {key}"},
                        json={"model": "gpt", "messages": [{"role": "user", "content": f"scrape-{i}"}]})
        assert r.status_code == 200, r.text

    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: llmvoy
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{client.base_url.port}"]
""")
    prom = Proc(f"{fleet.name}-prometheus", [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                             f"--web.listen-address=127.0.0.1:{port}"], fleet.log_dir)
    fleet.procs.append(prom)  # stopped with the fleet

    wait_for(port, 'up{job="llmvoy"}', lambda r: list(r.values()) == [1.0])
    requests = wait_for(port, 'sum by (requested_model, status_code) (litellm_proxy_total_requests_metric_total)',
                        lambda r: r.get('{"requested_model": "gpt", "status_code": "200"}') == 5)
    assert requests == {'{"requested_model": "gpt", "status_code": "200"}': 5.0}
    wait_for(port, 'sum(litellm_request_total_latency_metric_count{requested_model="gpt"})', lambda r: list(r.values()) == [5.0])
    wait_for(port, 'histogram_quantile(0.5, sum by (le) (litellm_request_total_latency_metric_bucket{requested_model="gpt"}))',
             lambda r: len(r) == 1 and 0 < list(r.values())[0] < 5)
    assert list(promql(port, 'litellm_deployment_state{model_id="a1"}').values()) == [0.0], "healthy"
    wait_for(port, 'sum by (api_key_alias) (litellm_spend_metric_total)',
             lambda r: r.get('{"api_key_alias": "dashboards"}', 0) > 0)
    wait_for(port, 'sum(litellm_total_tokens_metric_total{api_key_alias="dashboards"})', lambda r: bool(r) and list(r.values())[0] > 0)
