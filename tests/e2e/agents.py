"""Claude Code and Codex, the agent CLIs `make clients` installs (pinned) into
.clients, run once in print mode against a base URL, offline: a throwaway HOME
(and CODEX_HOME), telemetry, update checks and nonessential traffic off, and
HTTP(S)_PROXY at a closed loopback port so any stray call to the internet
fails at once instead of hanging (loopback is exempt through NO_PROXY).

    from agents import run_claude, run_codex, tool_call_prompt, CLAUDE_SHELL
    code, out, err = run_claude(gateway_url, key, "claude", tool_call_prompt(CLAUDE_SHELL, {"command": "echo hi"}))
    code, out, err = run_codex(gateway_url, key, "gpt-5", "say hello")

The mock providers call a tool when the prompt holds a MOCK_TOOL_CALL line
(mock/toolscript.go) and answer a tool result by quoting it, so one run makes
a whole tool round trip: request, tool call, the CLI runs the tool, result,
final text."""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import NamedTuple

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = REPO / ".clients" / "node_modules" / ".bin"
CLAUDE = BIN / "claude"
CODEX = BIN / "codex"

# Each CLI's shell tool, as it offers it: the name and the argument that holds
# the command line.
CLAUDE_SHELL = "Bash"  # {"command": "echo hi"}
CODEX_SHELL = "exec_command"  # {"cmd": "echo hi"}

TIMEOUT = 120  # seconds for one run; against a mock a run takes about one


class AgentRun(NamedTuple):
    returncode: int  # -1: killed after the timeout
    stdout: str
    stderr: str


def tool_call_prompt(tool: str, args: dict, text: str = "Run this.") -> str:
    """A prompt that makes a mock provider call tool with args."""
    return f"{text}\nMOCK_TOOL_CALL {tool} {json.dumps(args)}"


def claude_result(stdout: str) -> dict:
    """The JSON object `claude -p --output-format json` prints: "result" (the
    final text), "is_error", "num_turns", "api_error_status", ..."""
    return json.loads(stdout)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offline_env(home: pathlib.Path, extra: dict) -> dict:
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }
    env.update(extra)
    return env


def _require(binary: pathlib.Path):
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary.name} is not installed: run `make clients`")


def _run(args, env, cwd, timeout) -> AgentRun:
    # A session of its own, so a timeout kills the CLI and what it started
    # (codex is a node wrapper around a native binary; tools run shells).
    p = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return AgentRun(p.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return AgentRun(-1, out, err + f"\nagents.py: {args[0]} killed after {timeout}s")


def run_claude(base_url: str, api_key: str, model: str, prompt: str, *, allowed_tools=(CLAUDE_SHELL,),
               bearer: bool = False, extra_args=(), extra_env=None, timeout: float = TIMEOUT) -> AgentRun:
    """Runs `claude -p prompt --output-format json` once against base_url (the
    server root: Claude Code adds /v1/messages). The key goes as x-api-key
    (ANTHROPIC_API_KEY), or with bearer=True as Authorization: Bearer only
    (ANTHROPIC_AUTH_TOKEN; the Anthropic mock refuses that with a 401, which
    Claude Code reports as "Not logged in"). model is used for every model
    slot (main, small/fast, haiku, sonnet, opus). allowed_tools run without a
    permission prompt; the shell tool runs in a throwaway working directory."""
    _require(CLAUDE)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="llmvoy-claude-"))
    try:
        (tmp / "home").mkdir()
        (tmp / "work").mkdir()
        env = _offline_env(tmp / "home", {
            "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
            "ANTHROPIC_AUTH_TOKEN" if bearer else "ANTHROPIC_API_KEY": api_key,
            "ANTHROPIC_MODEL": model,
            "ANTHROPIC_SMALL_FAST_MODEL": model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
            "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "API_TIMEOUT_MS": str(int(timeout * 1000 / 2)),
            "CLAUDE_CODE_MAX_RETRIES": "0",
            **(extra_env or {}),
        })
        args = [str(CLAUDE), "-p", prompt, "--output-format", "json", "--no-session-persistence", *extra_args]
        if allowed_tools:
            args += ["--allowedTools", *allowed_tools]
        return _run(args, env, tmp / "work", timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_codex(base_url: str, api_key: str, model: str, prompt: str, *, extra_args=(), extra_env=None,
              timeout: float = TIMEOUT) -> AgentRun:
    """Runs `codex exec prompt` once against base_url (the server root, or
    already ending in /v1) as a custom provider with wire_api "responses",
    the key sent as Authorization: Bearer. Approvals and the sandbox are off
    (the shell tool runs in a throwaway working directory). stdout is the
    final message; stderr the transcript (tool calls, their output)."""
    _require(CODEX)
    url = base_url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="llmvoy-codex-"))
    try:
        home = tmp / "home"
        home.mkdir()
        (tmp / "work").mkdir()
        (home / "config.toml").write_text(f"""\
model = {json.dumps(model)}
model_provider = "llmvoy"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[model_providers.llmvoy]
name = "llmvoy"
base_url = {json.dumps(url)}
env_key = "LLMVOY_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = {int(timeout * 1000 / 2)}
""")
        env = _offline_env(home, {"CODEX_HOME": str(home), "LLMVOY_API_KEY": api_key, **(extra_env or {})})
        args = [str(CODEX), "exec", "--skip-git-repo-check", "--ephemeral", "--color", "never",
                "--dangerously-bypass-approvals-and-sandbox", *extra_args, prompt]
        return _run(args, env, tmp / "work", timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
