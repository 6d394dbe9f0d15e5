"""llmvoy as a process: it drains in-flight requests on SIGTERM, restarts
Envoy when it dies, follows config file changes and refuses a broken
file without dropping the config it serves."""

import os
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


def test_envoy_killed_under_load_fails_only_the_requests_it_could_not_serve(lone_gateway):
    # 8 clients for 4 s; Envoy is killed 1 s in. A request may fail only if
    # it was sent before the new Envoy served its first answer after the
    # kill (in flight on the dead one, or refused while nothing listened),
    # and only as a connection error or a 5xx; every answer is its own.
    envoys = supervised_envoys(lone_gateway)
    assert len(envoys) == 1, envoys
    client = lone_gateway.client.with_options(timeout=5.0)
    results, lock = [], threading.Lock()  # (sent, answered, outcome)
    start = time.monotonic()
    stop = start + 4.0

    def load(worker):
        n = 0
        while time.monotonic() < stop:
            n += 1
            ask = f"worker {worker} request {n}"
            sent = time.monotonic()
            try:
                reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ask}])
                outcome = "ok" if ask in (reply.choices[0].message.content or "") else f"wrong answer: {reply}"
            except (openai.APIConnectionError, openai.InternalServerError) as e:
                outcome = f"failed: {type(e).__name__}: {e}"
            except Exception as e:  # anything else is an answer the client must not get
                outcome = f"wrong answer: {type(e).__name__}: {e}"
            with lock:
                results.append((sent, time.monotonic(), outcome))
            if outcome != "ok":
                time.sleep(0.01)  # no busy loop against a closed port while the new Envoy starts

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(int(envoys[0]), signal.SIGKILL)
    killed = time.monotonic()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "a client is still waiting"

    wrong = [r for r in results if r[2].startswith("wrong answer")]
    failed = [r for r in results if r[2].startswith("failed")]
    back = min((answered for sent, answered, outcome in results if outcome == "ok" and sent >= killed), default=None)
    gap = None if back is None else back - killed
    late = [r for r in failed if back is None or r[0] >= back]
    before = sum(1 for sent, _, outcome in results if outcome == "ok" and sent < killed)
    after = sum(1 for sent, _, outcome in results if outcome == "ok" and back is not None and sent >= back)
    in_flight = sum(1 for r in failed if r[0] < killed)
    summary = (f"gap {gap if gap is None else f'{gap:.3f}'} s, {len(failed)} of {len(results)} requests failed "
               f"({in_flight} in flight at the kill, {len(failed) - in_flight - len(late)} sent before Envoy "
               f"served again, {len(late)} after), "
               f"{before} answered before the kill, {after} after the restart")
    print(summary)
    for sent, answered, outcome in failed[:20]:
        print(f"  sent {sent - killed:+.3f} s, done {answered - killed:+.3f} s after the kill: {outcome}")
    assert lone_gateway.p.poll() is None, f"llmvoy exited with {lone_gateway.p.returncode}; {summary}"
    assert not wrong, f"wrong answers: {wrong[:5]}; {summary}"
    assert gap is not None and gap < 5, f"not serving 5 s after Envoy was killed: {summary}"
    assert not late, f"requests sent after Envoy served again failed: {late[:5]}; {summary}"
    assert before >= 8 and after >= 8, f"the load did not run on both sides of the kill: {summary}"
    metrics = httpx.get(f"http://127.0.0.1:{lone_gateway.port}/metrics").text
    assert "llmvoy_envoy_restarts_total 1\n" in metrics, f"{summary}\n{metrics}"


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
