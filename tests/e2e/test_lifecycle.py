"""llmvoy as a process: it drains in-flight requests on SIGTERM, restarts
Envoy when it dies, follows config file changes and refuses a broken
file without dropping the config it serves."""

import signal
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Proc, free_port

CONFIG = """
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{a}/v1
{extra}
general_settings:
  master_key: {master}
  # The tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""

ADDED_GROUP = """
  - model_name: added-later
    litellm_params:
      model: openai/added-later
      api_base: http://127.0.0.1:{a}/v1
"""


@pytest.fixture
def lone_gateway(mock_a, log_dir, tmp_path, request):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG.format(a=mock_a.port, master=MASTER_KEY, extra=""))
    port = free_port()
    proc = Proc(f"llmvoy-{request.node.name}", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                                 "--port", str(port), "--drain-timeout", "10s"], log_dir)
    try:
        proc.wait_for("llmvoy is listening")
    except Exception:
        proc.stop()
        raise
    proc.cfg, proc.port = cfg, port
    proc.client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0)
    yield proc
    proc.stop()
    print(f"===== {proc.name} log =====\n{proc.output()}")  # shown by pytest only on failure


def test_sigterm_drains_in_flight_stream(lone_gateway):
    result = {}

    def stream():
        text = ""
        for chunk in lone_gateway.client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "drain me"}], stream=True,
                extra_headers={"x-mock-chunks": "8", "x-mock-chunk-delay-ms": "250"}):
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.choices and chunk.choices[0].finish_reason:
                result["finish"] = chunk.choices[0].finish_reason
        result["text"] = text

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.6)  # the stream is under way
    lone_gateway.p.send_signal(signal.SIGTERM)
    t.join(20)
    assert result.get("finish") == "stop", f"stream cut by shutdown: {result}\n{lone_gateway.output()}"
    assert "drain me" in result["text"]
    assert lone_gateway.p.wait(20) == 0, lone_gateway.output()
    assert "stopped" in lone_gateway.output()
    # Nothing listens any more.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{lone_gateway.port}/health/liveliness")


def supervised_envoys(gateway):
    children = subprocess.run(["pgrep", "-P", str(gateway.p.pid)], capture_output=True, text=True).stdout.split()
    return [pid for pid in children if "envoy" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")]


def test_a_killed_envoy_is_restarted_and_serves_again_within_5s(lone_gateway):
    envoys = supervised_envoys(lone_gateway)
    assert len(envoys) == 1, envoys
    subprocess.run(["kill", "-KILL", envoys[0]], check=True)
    killed = time.monotonic()
    reply = None
    while time.monotonic() - killed < 5:
        try:
            reply = lone_gateway.client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "back?"}])
            break
        except (openai.APIConnectionError, openai.InternalServerError):
            time.sleep(0.05)
    assert reply is not None, f"not serving 5 s after Envoy was killed\n{lone_gateway.output()}"
    assert "back?" in reply.choices[0].message.content
    assert lone_gateway.p.poll() is None, "llmvoy keeps running"
    new = supervised_envoys(lone_gateway)
    assert len(new) == 1 and new != envoys, (envoys, new)
    out = lone_gateway.output()
    assert "envoy stopped; restarting it" in out and "killed" in out, out
    metrics = httpx.get(f"http://127.0.0.1:{lone_gateway.port}/metrics").text
    assert "llmvoy_envoy_restarts_total 1" in metrics, metrics


def test_config_reload_follows_the_file_and_rejects_a_broken_one(lone_gateway, mock_a):
    client = lone_gateway.client
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]

    extra = ADDED_GROUP.format(a=mock_a.port)
    lone_gateway.cfg.write_text(CONFIG.format(a=mock_a.port, master=MASTER_KEY, extra=extra))
    wait_until(lambda: "added-later" in [m.id for m in client.models.list()])
    reply = client.chat.completions.create(model="added-later", messages=[{"role": "user", "content": "new"}])
    assert reply.model == "added-later"

    lone_gateway.cfg.write_text("model_list: [this is: not valid")
    wait_until(lambda: "config reload rejected" in lone_gateway.output())
    assert "added-later" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(model="added-later", messages=[{"role": "user", "content": "still"}])
    assert reply.choices[0].message.content


def test_invalid_config_at_start_exits_1(tmp_path, log_dir):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model_list:\n  - model_name: x\n    litellm_params: {model: openai/x, weight: heavy}\n")
    r = subprocess.run([str(LLMVOY), "run", "--config", str(cfg), "--port", str(free_port())],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "bad.yaml" in r.stderr and "weight" in r.stderr


def wait_until(cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
