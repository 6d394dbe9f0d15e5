"""Fixtures for llmvoy's end-to-end tests: the real llmvoy binary supervising a
real Envoy, mock providers speaking OpenAI's wire format, and the official
OpenAI Python SDK as the client. Every process listens on a random loopback
port and is stopped at the end; its log is printed when a test failed."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from servers import postgres_database, postgres_server, redis_server  # noqa: F401  (fixtures)

REPO = pathlib.Path(__file__).resolve().parents[2]
LLMVOY = REPO / "bin" / "llmvoy"
MASTER_KEY = "sk-e2e-master"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose combined output goes to a log file."""

    def __init__(self, name, args, log_dir, env=None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def wait_for(self, text, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.output():
                return
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.p.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: no {text!r} after {timeout}s:\n{self.output()}")

    def stop(self, timeout=20):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


class Mock:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port
        self.base = f"http://127.0.0.1:{port}"

    def requests(self):
        with urllib.request.urlopen(self.base + "/mock/requests") as r:
            return json.load(r)

    def reset(self):
        req = urllib.request.Request(self.base + "/mock/requests", method="DELETE")
        urllib.request.urlopen(req).close()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def procs(request):
    started = []
    yield started
    for p in started:
        p.stop()
    if request.session.testsfailed:
        for p in started:
            print(f"\n===== {p.name} log =====\n{p.output()}")


def start_mock(name, procs, log_dir):
    if not LLMVOY.exists():
        pytest.fail(f"{LLMVOY} is missing: run `make build` first")
    port = free_port()
    proc = Proc(name, [str(LLMVOY), "mock", "--port", str(port), "--name", name], log_dir)
    procs.append(proc)
    proc.wait_for("serving the OpenAI API")
    return Mock(proc, port)


@pytest.fixture(scope="session")
def mock_a(procs, log_dir):
    return start_mock("mock-a", procs, log_dir)


@pytest.fixture(scope="session")
def mock_b(procs, log_dir):
    return start_mock("mock-b", procs, log_dir)


GATEWAY_CONFIG = """
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini-2024-07-18
      api_base: http://127.0.0.1:{a}/v1
      api_key: os.environ/E2E_DEPLOYMENT_A_KEY
    model_info:
      id: deployment-a
  - model_name: gpt-4o-mini
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://127.0.0.1:{b}/v1
      api_key: sk-deployment-b
    model_info:
      id: deployment-b
  - model_name: only-b
    litellm_params:
      model: ollama/llama3.2
      api_base: http://127.0.0.1:{b}/v1
    model_info:
      id: deployment-b-nokey
  # Two keys on one provider address: Envoy would merge them into one host;
  # llmvoy must keep them apart.
  - model_name: shared
    litellm_params:
      model: openai/shared-1
      api_base: http://127.0.0.1:{a}/v1
      api_key: sk-shared-1
    model_info:
      id: shared-1
  - model_name: shared
    litellm_params:
      model: openai/shared-2
      api_base: http://127.0.0.1:{a}/v1
      api_key: sk-shared-2
    model_info:
      id: shared-2
general_settings:
  master_key: {master}
  # The tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""


@pytest.fixture(scope="session")
def gateway(procs, log_dir, mock_a, mock_b, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("gateway") / "config.yaml"
    cfg.write_text(GATEWAY_CONFIG.format(a=mock_a.port, b=mock_b.port, master=MASTER_KEY))
    port = free_port()
    # The first deployment's key comes from the environment (os.environ/).
    env = dict(os.environ, E2E_DEPLOYMENT_A_KEY="sk-deployment-a")
    proc = Proc("llmvoy", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                           "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


class Gateway:
    def __init__(self, proc, port, config_path):
        self.proc, self.port, self.config_path = proc, port, config_path
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.root = f"http://127.0.0.1:{port}"
