"""The agent CLIs people point at gateways, run for real through llmvoy and a
real Envoy, offline (agents.py: pinned by `make clients`, no telemetry, no
update checks, loopback only), against test_messages_api's config:

  Claude Code (`claude -p`, Messages API, streamed) against the chat-only
  group (bridged to chat completions) and the Anthropic group (native);
  Codex (`codex exec`, Responses API, streamed) against the chat-only group
  (bridged) and the OpenAI group (native).

For each: a plain prompt, answered by the group's mock (its name in the
final text), and a shell-tool round trip: the prompt's MOCK_TOOL_CALL line
makes the mock call the CLI's shell tool, the CLI runs `echo llmvoy-tool-ok`,
sends the output back, and the mock's final answer quotes it."""

import pytest

from agents import CLAUDE_SHELL, CODEX_SHELL, claude_result, run_claude, run_codex, tool_call_prompt
from conftest import MASTER_KEY
from test_messages_api import ANTHROPIC_ONLY, DEPLOYMENT_KEYS, keys_anywhere, mock_name, start_agent_fleet
from test_responses_api import RESPONSES_ONLY_ANYWHERE, RESPONSES_ONLY_TOP, values_anywhere

TIMEOUT = 60  # one CLI run; against the mocks it takes a second or two
TOOL_OUTPUT = "llmvoy-tool-ok"

CLAUDE_UPSTREAM_PATH = {"chat-only": "/v1/chat/completions", "claude": "/v1/messages"}
CODEX_UPSTREAM_PATH = {"chat-only": "/v1/chat/completions", "gpt": "/v1/responses"}


@pytest.fixture(scope="module")
def fleet(procs, log_dir, tmp_path_factory):
    return start_agent_fleet("cli-", procs, log_dir, tmp_path_factory)


def transcript(run):
    return f"exit {run.returncode}\n--- stdout ---\n{run.stdout}\n--- stderr ---\n{run.stderr}"


def upstream_paths(fleet, group):
    return [r["path"] for r in fleet.requests(group)]


# --- Claude Code -------------------------------------------------------------


def claude(fleet, group, prompt, **kw):
    fleet.reset()
    run = run_claude(fleet.gateway.root, MASTER_KEY, group, prompt, timeout=TIMEOUT, **kw)
    assert run.returncode == 0, transcript(run)
    result = claude_result(run.stdout)
    assert result["is_error"] is False, transcript(run)
    return result, run


@pytest.mark.parametrize("group", ["chat-only", "claude"])
def test_claude_code_prompt(fleet, group):
    result, run = claude(fleet, group, "Say hello to llmvoy.")
    # The prompt turn starts with Claude Code's own <system-reminder> text,
    # which the mock quotes first: its name is what proves the path.
    assert result["result"].startswith(f"Hello from mock {mock_name(fleet, group)}! You said: "), transcript(run)
    paths = upstream_paths(fleet, group)
    assert paths and set(paths) == {CLAUDE_UPSTREAM_PATH[group]}, paths
    for req in fleet.requests(group):
        headers = {k.lower(): v for k, v in req["header"].items()}
        if group == "claude":
            # Native: Claude Code's betas reach Anthropic, with the deployment's key.
            assert "claude-code-20250219" in headers["anthropic-beta"][0]
            assert headers["x-api-key"] == [DEPLOYMENT_KEYS[group]]
        else:
            leaked = ANTHROPIC_ONLY & set(keys_anywhere(req["body"]))
            assert not leaked, f"Claude Code's Anthropic-only fields reached a chat server: {leaked}"
            assert "anthropic-beta" not in headers


def test_claude_code_bearer_token_native(fleet):
    # ANTHROPIC_AUTH_TOKEN: the gateway key as Authorization: Bearer only.
    # The Anthropic mock refuses a request without x-api-key, so this passes
    # only if the gateway sends the deployment's key the Anthropic way.
    result, run = claude(fleet, "claude", "Bearer, please.", bearer=True)
    assert result["result"].startswith(f"Hello from mock {mock_name(fleet, 'claude')}! You said: "), transcript(run)


@pytest.mark.parametrize("group", ["chat-only", "claude"])
def test_claude_code_bash_round_trip(fleet, group):
    prompt = tool_call_prompt(CLAUDE_SHELL, {"command": f"echo {TOOL_OUTPUT}"})
    result, run = claude(fleet, group, prompt)
    # The mock quotes the tool result: the command's output came back.
    assert result["result"].startswith(f"Hello from mock {mock_name(fleet, group)}! You said: "), transcript(run)
    assert TOOL_OUTPUT in result["result"], transcript(run)
    assert result["num_turns"] >= 2, result
    paths = upstream_paths(fleet, group)
    assert len(paths) >= 2 and set(paths) == {CLAUDE_UPSTREAM_PATH[group]}, paths


# --- Codex -------------------------------------------------------------------


def codex(fleet, group, prompt):
    fleet.reset()
    run = run_codex(fleet.gateway.root, MASTER_KEY, group, prompt, timeout=TIMEOUT)
    assert run.returncode == 0, transcript(run)
    return run


@pytest.mark.parametrize("group", ["chat-only", "gpt"])
def test_codex_prompt(fleet, group):
    run = codex(fleet, group, "Say hello to llmvoy.")
    assert f"Hello from mock {mock_name(fleet, group)}! You said: Say hello to llmvoy." in run.stdout, transcript(run)
    paths = upstream_paths(fleet, group)
    assert paths and set(paths) == {CODEX_UPSTREAM_PATH[group]}, paths
    if group == "chat-only":
        for req in fleet.requests(group):
            body = req["body"]
            leaked = (RESPONSES_ONLY_TOP & set(body)) | (
                RESPONSES_ONLY_ANYWHERE & (set(keys_anywhere(body)) | set(values_anywhere(body))))
            assert not leaked, f"Codex's Responses-only fields reached a chat server: {leaked}"


@pytest.mark.parametrize("group", ["chat-only", "gpt"])
def test_codex_exec_command_round_trip(fleet, group):
    run = codex(fleet, group, tool_call_prompt(CODEX_SHELL, {"cmd": f"echo {TOOL_OUTPUT}"}))
    # The final message quotes the tool's output (Codex wraps it in its own
    # header lines: exit code, wall time, ...).
    assert f"Hello from mock {mock_name(fleet, group)}! You said: " in run.stdout, transcript(run)
    assert TOOL_OUTPUT in run.stdout, transcript(run)
    paths = upstream_paths(fleet, group)
    assert len(paths) >= 2 and set(paths) == {CODEX_UPSTREAM_PATH[group]}, paths

