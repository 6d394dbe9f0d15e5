"""Processes of the differential suite: the same recording mock providers
behind the real LiteLLM proxy (from its own venv, .venv-litellm) and behind
llmvoy (bin/llmvoy supervising a real Envoy), each started once per config
and reused by every case of that config. The process helpers are the e2e
suite's (tests/e2e/conftest.py), imported under another name rather than
copied, so this module never depends on which `conftest` Python has."""

import http.server
import importlib.util
import json
import os
import pathlib
import sys
import threading
import time
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
E2E = HERE.parent / "e2e"
sys.path.insert(0, str(E2E))  # e2e's conftest imports its servers module
_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

REPO = e2e.REPO
LITELLM = REPO / ".venv-litellm" / "bin" / "litellm"
MASTER_KEY = "sk-compat-master"

# The mocks every config can point at, by role: the name is what a recorded
# request is attributed to. Flags make a mock fail or stall on every request,
# so no case needs to steer a provider through client headers.
MOCKS = {
    "openai": [],
    "backup": [],
    "azure": [],
    "anthropic": [],
    "down": ["--status", "500"],
    "rejects": ["--status", "400"],
    "slow": ["--latency", "4s"],
}

# Environment both gateways start with: the provider variables LiteLLM's
# documented configs rely on, and LiteLLM's switches that keep it on
# loopback (no telemetry, the model cost map bundled in the package rather
# than fetched).
def gateway_env(ports):
    return dict(
        os.environ,
        OPENAI_API_KEY="sk-openai-env",
        AZURE_API_KEY="sk-azure-env",
        AZURE_API_BASE=f"http://127.0.0.1:{ports['azure']}",
        COMPAT_ANTHROPIC_KEY="sk-ant-file",
        LITELLM_TELEMETRY="False",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
        LITELLM_MODE="PRODUCTION",  # no .env file read from the working directory
        NO_PROXY="127.0.0.1,localhost",
    )


class HTMLErrors(http.server.BaseHTTPRequestHandler):
    """An upstream that fails as a load balancer in front of a provider does:
    a 502 with an HTML page. It records requests in the mock's format."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.recorded.append({
            "method": "POST", "path": self.path.split("?")[0],
            "query": self.path.partition("?")[2],
            "header": {k: [v] for k, v in self.headers.items()},
            "body": json.loads(body) if body else None,
        })
        page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    do_GET = do_POST

    def log_message(self, *args):
        pass


class HTMLServer:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HTMLErrors)
        self.httpd.recorded = []
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def requests(self):
        return list(self.httpd.recorded)

    def reset(self):
        self.httpd.recorded.clear()

    def stop(self):
        self.httpd.shutdown()


class Upstreams:
    """Every recording upstream by role, plus a port nothing listens on."""

    def __init__(self, mocks, html):
        self.by_role = dict(mocks, html=html)
        self.ports = {role: m.port for role, m in self.by_role.items()}
        self.ports["refused"] = e2e.free_port()

    def reset(self):
        for m in self.by_role.values():
            m.reset()

    def requests(self):
        """What every upstream received since the last reset, as (role, request)."""
        out = []
        for role, m in self.by_role.items():
            out += [(role, r) for r in m.requests()]
        return out


class Gateway:
    def __init__(self, name, proc, port):
        self.name, self.proc, self.port = name, proc, port
        self.root = f"http://127.0.0.1:{port}"


def wait_http(proc, url, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.p.returncode}:\n{proc.output()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{proc.name}: {url} not ready after {timeout}s:\n{proc.output()[-4000:]}")


def start_pair(name, config_text, upstreams, procs, log_dir):
    """LiteLLM and llmvoy on one config, both started before either is
    waited for (LiteLLM's start is the long one)."""
    if not LITELLM.exists():
        pytest.fail(f"{LITELLM} is missing: run `make litellm` first")
    if not e2e.LLMVOY.exists():
        pytest.fail(f"{e2e.LLMVOY} is missing: run `make build` first")
    cfg = log_dir / f"{name}.yaml"
    cfg.write_text(config_text.format(master=MASTER_KEY, **upstreams.ports))
    env = gateway_env(upstreams.ports)
    lport, vport = e2e.free_port(), e2e.free_port()
    litellm = e2e.Proc(f"{name}-litellm", [str(LITELLM), "--config", str(cfg), "--host", "127.0.0.1",
                                           "--port", str(lport)], log_dir, env=env)
    procs.append(litellm)
    llmvoy = e2e.Proc(f"{name}-llmvoy", [str(e2e.LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                         "--port", str(vport), "--data-dir", str(log_dir / f"{name}-data")],
                      log_dir, env=env)
    procs.append(llmvoy)
    llmvoy.wait_for("llmvoy is listening", timeout=60)
    wait_http(litellm, f"http://127.0.0.1:{lport}/health/liveliness")
    return Gateway("litellm", litellm, lport), Gateway("llmvoy", llmvoy, vport)
