"""Fixtures of the differential suite (the processes: harness.py)."""

import pytest

from harness import HTMLServer, MOCKS, Upstreams, e2e

# The e2e suite's fixtures: a session's log directory, and the processes
# started, stopped at the end and their logs printed when a test failed.
log_dir, procs = e2e.log_dir, e2e.procs


@pytest.fixture(scope="session")
def upstreams(procs, log_dir):
    mocks = {}
    for role, flags in MOCKS.items():
        port = e2e.free_port()
        proc = e2e.Proc(f"mock-{role}", [str(e2e.LLMVOY), "mock", "--port", str(port), "--name", role, *flags], log_dir)
        procs.append(proc)
        mocks[role] = e2e.Mock(proc, port)
    for m in mocks.values():
        m.proc.wait_for("serving the OpenAI API")
    html = HTMLServer()
    yield Upstreams(mocks, html)
    html.stop()
