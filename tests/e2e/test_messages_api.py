"""Anthropic's Messages API on the gateway (POST /v1/messages, ?beta=true,
/v1/messages/count_tokens) through a real Envoy, with the official anthropic
SDK as the client, against three model groups of one config, each served by
its own mock (the mock's name in every answer says which one served):

  chat-only  a hosted_vllm deployment that speaks chat completions only:
             bridged (Messages -> chat completions -> Messages);
  claude     an Anthropic deployment: passed through natively;
  gpt        an OpenAI deployment: bridged, as for any non-Anthropic provider.

Text (whole and streamed), a tool round trip (MOCK_TOOL_CALL makes the mock
call the tool; a tool result is quoted back), errors in Anthropic's shape with
the SDK's exception classes, count_tokens, a body as Claude Code sends it
(what reaches a chat-only server must not carry Anthropic-only fields), and a
virtual key's spend. The other agent-API test files reuse this module's
fixtures (AgentFleet)."""

import json
import time

import anthropic
import httpx
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

UPSTREAM_CLAUDE = "claude-sonnet-4-5-20250929"
UPSTREAM_GPT = "gpt-4o-mini-2024-07-18"
UPSTREAM_VLLM = "meta-llama/Llama-3.1-8B-Instruct"
PROMPT_COST, COMPLETION_COST = 0.000002, 0.000008

# One mock per group; each names itself in its answers.
MOCKS = {"chat-only": "mock-chat", "claude": "mock-claude", "gpt": "mock-gpt"}
# What each group's mock is called on: bridged groups get chat completions,
# the Anthropic one its own Messages API.
MESSAGES_UPSTREAM_PATH = {"chat-only": "/v1/chat/completions", "claude": "/v1/messages", "gpt": "/v1/chat/completions"}
GROUPS = list(MOCKS)

CONFIG = """
model_list:
  - model_name: chat-only
    litellm_params:
      model: hosted_vllm/{vllm}
      api_base: http://127.0.0.1:{chat}/v1
      api_key: sk-chat-deployment
      input_cost_per_token: {pc}
      output_cost_per_token: {cc}
    model_info:
      id: chat-only-dep
  - model_name: claude
    litellm_params:
      model: anthropic/{claude}
      api_base: http://127.0.0.1:{claude_port}
      api_key: sk-ant-deployment
      input_cost_per_token: {pc}
      output_cost_per_token: {cc}
    model_info:
      id: claude-dep
  - model_name: gpt
    litellm_params:
      model: openai/{gpt}
      api_base: http://127.0.0.1:{gpt_port}/v1
      api_key: sk-openai-deployment
      input_cost_per_token: {pc}
      output_cost_per_token: {cc}
    model_info:
      id: gpt-dep
  # The same mocks under other groups, for injected failures (x-mock-*
  # headers): their cooldowns never touch the groups above.
  - model_name: chat-only-faults
    litellm_params:
      model: hosted_vllm/{vllm}
      api_base: http://127.0.0.1:{chat}/v1
      api_key: sk-chat-deployment
    model_info:
      id: chat-only-faults-dep
  - model_name: claude-faults
    litellm_params:
      model: anthropic/{claude}
      api_base: http://127.0.0.1:{claude_port}
      api_key: sk-ant-deployment
    model_info:
      id: claude-faults-dep
  - model_name: gpt-faults
    litellm_params:
      model: openai/{gpt}
      api_base: http://127.0.0.1:{gpt_port}/v1
      api_key: sk-openai-deployment
    model_info:
      id: gpt-faults-dep
router_settings:
  num_retries: 0
general_settings:
  master_key: {master}
  # The fault tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""

DEPLOYMENT_KEYS = {"chat-only": "sk-chat-deployment", "claude": "sk-ant-deployment", "gpt": "sk-openai-deployment"}
DEPLOYMENT_IDS = {"chat-only": "chat-only-dep", "claude": "claude-dep", "gpt": "gpt-dep"}


class AgentFleet:
    """The three mocks (by group) and the gateway in front of them."""

    def __init__(self, mocks, gateway):
        self.mocks, self.gateway = mocks, gateway

    def reset(self):
        for m in self.mocks.values():
            m.reset()

    def requests(self, group, path=None):
        reqs = self.mocks[group].requests()
        return [r for r in reqs if path is None or r["path"] == path]


def start_agent_fleet(prefix, procs, log_dir, tmp_path_factory):
    mocks = {g: start_mock(f"{prefix}{name}", procs, log_dir) for g, name in MOCKS.items()}
    d = tmp_path_factory.mktemp(f"{prefix}agent-gateway")
    cfg = d / "config.yaml"
    cfg.write_text(CONFIG.format(vllm=UPSTREAM_VLLM, claude=UPSTREAM_CLAUDE, gpt=UPSTREAM_GPT,
                                 chat=mocks["chat-only"].port, claude_port=mocks["claude"].port,
                                 gpt_port=mocks["gpt"].port, pc=PROMPT_COST, cc=COMPLETION_COST, master=MASTER_KEY))
    port = free_port()
    proc = Proc(f"{prefix}llmvoy-agents", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                            "--port", str(port), "--data-dir", str(d / "data")], log_dir)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return AgentFleet(mocks, Gateway(proc, port, cfg))


@pytest.fixture(scope="module")
def fleet(procs, log_dir, tmp_path_factory):
    return start_agent_fleet("msg-", procs, log_dir, tmp_path_factory)


def mock_name(fleet, group):
    return fleet.mocks[group].proc.name


def reply(fleet, group, text):
    """The mock's answer to a user turn (cut at 40 characters) or to a tool
    result (whole)."""
    return f"Hello from mock {mock_name(fleet, group)}! You said: {text}"


@pytest.fixture
def client(fleet):
    return anthropic.Anthropic(base_url=fleet.gateway.root, api_key=MASTER_KEY, max_retries=0, timeout=30)


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
TOOL_PROMPT = 'What is the weather?\nMOCK_TOOL_CALL get_weather {"city":"Paris"}'
TOOL_RESULT = "sunny, 21C in Paris"


def post_messages(fleet, body, headers=None, path="/v1/messages", content=None):
    h = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    h.update(headers or {})
    return httpx.post(fleet.gateway.root + path, headers=h, timeout=30,
                      **({"content": content} if content is not None else {"json": body}))


def assert_anthropic_error(r, status, typ):
    """An error as Anthropic sends it: {"type":"error","error":{"type","message"}}."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == typ, body
    assert body["error"]["message"]
    return body["error"]["message"]


# --- text --------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_create_text(fleet, client, group):
    fleet.reset()
    raw = client.messages.with_raw_response.create(
        model=group, max_tokens=256, system="Be brief.",
        messages=[{"role": "user", "content": "hello from the anthropic sdk"}])
    msg = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == DEPLOYMENT_IDS[group]
    assert msg.type == "message" and msg.role == "assistant"
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == reply(fleet, group, "hello from the anthropic sdk")
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    (up,) = fleet.requests(group)
    assert up["path"] == MESSAGES_UPSTREAM_PATH[group]


@pytest.mark.parametrize("group", GROUPS)
def test_stream_text(fleet, client, group):
    with client.messages.stream(model=group, max_tokens=256,
                                messages=[{"role": "user", "content": "stream it please"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == reply(fleet, group, "stream it please")
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_stream_event_sequence(fleet):
    # The raw events of a bridged stream, in Anthropic's order.
    body = {"model": "chat-only", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "events please"}]}
    with httpx.stream("POST", fleet.gateway.root + "/v1/messages", json=body, timeout=30,
                      headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line[len("event: "):] for line in r.iter_lines() if line.startswith("event: ")]
    events = [e for e in events if e != "ping"]  # Anthropic may send pings anywhere
    assert events[0] == "message_start"
    assert events[1] == "content_block_start"
    assert "content_block_delta" in events
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]


# --- tools -------------------------------------------------------------------


def tool_turn(client, group, stream, messages):
    kw = dict(model=group, max_tokens=512, tools=[WEATHER_TOOL], messages=messages)
    if not stream:
        return client.messages.create(**kw)
    with client.messages.stream(**kw) as s:
        return s.get_final_message()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("group", GROUPS)
def test_tool_round_trip(fleet, client, group, stream):
    messages = [{"role": "user", "content": TOOL_PROMPT}]
    first = tool_turn(client, group, stream, messages)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1, first.content
    use = uses[0]
    assert use.name == "get_weather"
    assert use.input == {"city": "Paris"}
    assert use.id

    messages.append({"role": "assistant", "content": first.content})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": TOOL_RESULT}]})
    second = tool_turn(client, group, stream, messages)
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]
    assert second.content[0].text == reply(fleet, group, TOOL_RESULT)


def test_bridged_tool_reaches_chat_server_as_a_function(fleet, client):
    fleet.reset()
    client.messages.create(model="chat-only", max_tokens=64, tools=[WEATHER_TOOL],
                           messages=[{"role": "user", "content": TOOL_PROMPT}])
    (up,) = fleet.requests("chat-only")
    (tool,) = up["body"]["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "get_weather"
    params = tool["function"]["parameters"]
    assert "$schema" not in params
    assert params["properties"] == {"city": {"type": "string"}} and params["required"] == ["city"]


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_bad_key_is_authentication_error(fleet, group):
    bad = anthropic.Anthropic(base_url=fleet.gateway.root, api_key="sk-not-the-key", max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.messages.create(model=group, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    body = info.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


def test_bad_x_api_key_is_401_in_anthropic_shape(fleet):
    r = post_messages(fleet, {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
                      headers={"x-api-key": "sk-wrong"})
    assert_anthropic_error(r, 401, "authentication_error")


@pytest.mark.parametrize("group", GROUPS)
def test_x_api_key_request(fleet, group):
    # Claude Code's way: the gateway key as x-api-key, on ?beta=true.
    r = post_messages(fleet, {"model": group, "max_tokens": 32, "messages": [{"role": "user", "content": "raw x-api-key"}]},
                      path="/v1/messages?beta=true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "message"
    assert body["content"] == [{"type": "text", "text": reply(fleet, group, "raw x-api-key")}]


def test_bare_messages_path(fleet):
    r = post_messages(fleet, {"model": "chat-only", "max_tokens": 32, "messages": [{"role": "user", "content": "bare path"}]},
                      path="/messages")
    assert r.status_code == 200, r.text
    assert r.json()["content"][0]["text"] == reply(fleet, "chat-only", "bare path")


def test_unknown_model(fleet, client):
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="no-such-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    err = info.value
    assert err.status_code in (400, 404)
    expected = {400: (anthropic.BadRequestError, "invalid_request_error"), 404: (anthropic.NotFoundError, "not_found_error")}
    cls, typ = expected[err.status_code]
    assert isinstance(err, cls)
    body = err.response.json()
    assert body["type"] == "error" and body["error"]["type"] == typ
    assert "no-such-model" in body["error"]["message"]


@pytest.mark.parametrize("group", GROUPS)
def test_missing_max_tokens_is_bad_request(fleet, client, group):
    fleet.reset()
    with pytest.raises(anthropic.BadRequestError) as info:
        client.post("/v1/messages", cast_to=anthropic.types.Message,
                    body={"model": group, "messages": [{"role": "user", "content": "hi"}]})
    assert info.value.status_code == 400
    body = info.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    assert fleet.requests(group) == [], "refused before any deployment is called"


def test_malformed_json_is_400(fleet):
    r = post_messages(fleet, None, content=b'{"model": "chat-only", "max_tokens": 16, "messages": [')
    assert_anthropic_error(r, 400, "invalid_request_error")


@pytest.mark.parametrize("body", [
    {"model": "chat-only", "max_tokens": 16},
    {"model": "chat-only", "max_tokens": 16, "messages": "hi"},
    {"model": "chat-only", "max_tokens": "many", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "chat-only", "max_tokens": 16, "messages": [{"role": "user", "content": [{"type": "nonsense"}]}]},
    {"model": "chat-only", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], "tools": [{"no": "name"}]},
    {"model": 7, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
], ids=["no-messages", "messages-string", "max-tokens-string", "unknown-block", "tool-without-name", "model-number"])
def test_invalid_bodies_are_4xx_never_5xx(fleet, body):
    r = post_messages(fleet, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body


FAULT_GROUPS = ["chat-only-faults", "claude-faults", "gpt-faults"]


@pytest.mark.parametrize("status,exc,typ", [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, anthropic.InternalServerError, "overloaded_error"),
])
@pytest.mark.parametrize("group", FAULT_GROUPS)
def test_provider_errors_in_anthropic_shape(client, group, status, exc, typ):
    # The deployment fails (OpenAI's or Anthropic's error body): the client
    # gets the status and Anthropic's shape, whatever the provider spoke.
    with pytest.raises(exc) as info:
        client.messages.create(model=group, max_tokens=16, messages=[{"role": "user", "content": "hi"}],
                               extra_headers={"x-mock-status": str(status)})
    err = info.value
    assert err.status_code == status
    body = err.response.json()
    assert body["type"] == "error" and body["error"]["type"] == typ, body
    assert body["error"]["message"]


@pytest.mark.parametrize("group", FAULT_GROUPS)
def test_stream_cut_by_provider_raises(client, group):
    # The provider resets the connection after two deltas: the client must
    # not take what came for a whole answer.
    events = []
    with pytest.raises((anthropic.APIError, httpx.HTTPError)):
        with client.messages.stream(model=group, max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                    extra_headers={"x-mock-chunks": "4", "x-mock-chunk-delay-ms": "20",
                                                   "x-mock-fail-stream-after": "2"}) as stream:
            for event in stream:
                events.append(event.type)
    assert "message_stop" not in events, events


def test_error_event_mid_stream_raises(client):
    # Anthropic's own overloaded_error event, passed through natively.
    text = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model="claude-faults", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                    extra_headers={"x-mock-chunks": "4", "x-mock-stream-error-after": "2"}) as stream:
            for t in stream.text_stream:
                text.append(t)
    assert "Overloaded" in str(info.value)
    assert text, "the deltas before the error arrive"


# --- count_tokens ------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_count_tokens(fleet, client, group):
    fleet.reset()
    short = client.messages.count_tokens(model=group, messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(model=group, system="You are a careful assistant.", tools=[WEATHER_TOOL],
                                        messages=[{"role": "user", "content": "count these tokens, please " * 20}])
    assert short.input_tokens > 0
    assert long.input_tokens > short.input_tokens
    if group == "claude":
        # Anthropic counts for its own deployments: the deployment's key and
        # model, never the gateway key.
        counted = fleet.requests(group)
        assert [r["path"] for r in counted] == ["/v1/messages/count_tokens"] * 2, counted
        sent = {k.lower(): v for k, v in counted[0]["header"].items()}
        assert sent["x-api-key"] == [DEPLOYMENT_KEYS[group]]
        assert counted[0]["body"]["model"] == UPSTREAM_CLAUDE
        assert MASTER_KEY not in json.dumps(counted)
    else:
        assert fleet.requests(group) == [], "no count of the provider's own: the gateway's estimate"


def test_count_tokens_bad_body_is_400(fleet):
    r = post_messages(fleet, {"model": "chat-only", "messages": "nope"}, path="/v1/messages/count_tokens")
    assert_anthropic_error(r, 400, "invalid_request_error")


# --- a body as Claude Code sends it ------------------------------------------

USER_ID = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": "5b0c7a54-2a4e-4a51-9d59-4c1f2f0b7e11"})
CLAUDE_CODE_BETA = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"


def claude_code_body(group):
    schema = "http://json-schema.org/draft-07/schema#"
    return {
        "model": group,
        "max_tokens": 32000,
        "stream": True,
        "metadata": {"user_id": USER_ID},
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=sdk-cli"},
            {"type": "text", "text": "You are Claude Code, a CLI for coding.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>Context.</system-reminder>"},
                {"type": "text", "text": 'Run it.\nMOCK_TOOL_CALL Bash {"command":"echo hi"}',
                 "cache_control": {"type": "ephemeral"}},
            ]},
            {"role": "system", "content": "# Environment\nWorking directory: /tmp/work"},
        ],
        "tools": [
            {"name": "Bash", "description": "Run a shell command",
             "input_schema": {"$schema": schema, "type": "object", "additionalProperties": False,
                              "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"name": "Read", "description": "Read a file", "cache_control": {"type": "ephemeral"},
             "input_schema": {"$schema": schema, "type": "object",
                              "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
            {"name": "WebFetch", "description": "Fetch a URL", "defer_loading": True,
             "input_schema": {"$schema": schema, "type": "object",
                              "properties": {"url": {"type": "string"}}, "required": ["url"]}},
        ],
    }


ANTHROPIC_ONLY = {"thinking", "context_management", "output_config", "cache_control", "defer_loading", "$schema",
                  "metadata", "anthropic_beta", "system_reminder"}


def keys_anywhere(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from keys_anywhere(x)
    elif isinstance(v, list):
        for x in v:
            yield from keys_anywhere(x)


def sse_events(r):
    events, name = [], None
    for line in r.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: "):])))
    return events


def send_claude_code_body(fleet, group):
    """POSTs claude_code_body as Claude Code does; returns the SSE events and
    the one request the group's mock received."""
    fleet.reset()
    headers = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": CLAUDE_CODE_BETA,
               "x-app": "cli", "accept-encoding": "identity"}
    with httpx.stream("POST", fleet.gateway.root + "/v1/messages?beta=true", json=claude_code_body(group),
                      headers=headers, timeout=30) as r:
        assert r.status_code == 200, r.read()
        events = sse_events(r)
    (up,) = fleet.requests(group)
    return events, up


@pytest.mark.parametrize("group", GROUPS)
def test_claude_code_body_upstream(fleet, group):
    events, up = send_claude_code_body(fleet, group)
    assert [n for n, _ in events][-1] == "message_stop"
    assert up["path"] == MESSAGES_UPSTREAM_PATH[group]
    sent = {k.lower(): v for k, v in up["header"].items()}
    assert MASTER_KEY not in json.dumps(up), "the gateway key reached the provider"
    body = up["body"]
    if group == "claude":
        # Native: the body arrives as sent (model aside) with the beta header.
        want = claude_code_body(group)
        want["model"] = UPSTREAM_CLAUDE
        assert body == want
        assert sent["anthropic-beta"] == [CLAUDE_CODE_BETA]
        assert sent["x-api-key"] == [DEPLOYMENT_KEYS[group]]
        return
    # Bridged: nothing a chat completions server does not know.
    leaked = ANTHROPIC_ONLY & set(keys_anywhere(body))
    assert not leaked, f"Anthropic-only fields reached a chat completions server: {leaked}"
    assert "anthropic-beta" not in sent and "x-api-key" not in sent
    assert sent["authorization"] == [f"Bearer {DEPLOYMENT_KEYS[group]}"]
    assert body["model"] == {"chat-only": UPSTREAM_VLLM, "gpt": UPSTREAM_GPT}[group]
    assert body["stream"] is True and body["max_tokens"] == 32000
    assert body["user"] == USER_ID
    assert [t["function"]["name"] for t in body["tools"]] == ["Bash", "Read", "WebFetch"]
    assert all(t["type"] == "function" for t in body["tools"])
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "system" and "You are Claude Code" in body["messages"][0]["content"]
    assert "user" in roles and "# Environment" in json.dumps(body["messages"])


@pytest.mark.parametrize("group", GROUPS)
def test_claude_code_body_tool_call_stream(fleet, group):
    # The first turn of a Claude Code session: its messages are [user,
    # system], the prompt (with the MOCK_TOOL_CALL line) in the user turn.
    events, _ = send_claude_code_body(fleet, group)
    names = [n for n, _ in events if n != "ping"]
    assert names[0] == "message_start" and names[-1] == "message_stop", names
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    uses = [b for b in starts if b["type"] == "tool_use"]
    assert len(uses) == 1 and uses[0]["name"] == "Bash", starts
    args = "".join(d["delta"]["partial_json"] for n, d in events
                   if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert json.loads(args) == {"command": "echo hi"}
    # Every block ends: Claude Code cannot parse a tool_use without its stop.
    assert names.count("content_block_stop") == len(starts)
    (delta,) = [d for n, d in events if n == "message_delta"]
    assert delta["delta"]["stop_reason"] == "tool_use"


# --- spend -------------------------------------------------------------------


def admin(fleet, method, path, **kw):
    return httpx.request(method, fleet.gateway.root + path, headers={"authorization": f"Bearer {MASTER_KEY}"},
                         timeout=30, **kw)


def test_virtual_key_spend_counts_messages_calls(fleet):
    r = admin(fleet, "POST", "/key/generate", json={"key_alias": "messages-spender"})
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    c = anthropic.Anthropic(base_url=fleet.gateway.root, api_key=key, max_retries=0, timeout=30)
    usages = []
    for group in GROUPS:
        usages.append(c.messages.create(model=group, max_tokens=64,
                                        messages=[{"role": "user", "content": f"spend on {group}"}]).usage)
    with c.messages.stream(model="chat-only", max_tokens=64, messages=[{"role": "user", "content": "spend streamed"}]) as s:
        usages.append(s.get_final_message().usage)
    want = sum(u.input_tokens * PROMPT_COST + u.output_tokens * COMPLETION_COST for u in usages)
    assert want > 0

    deadline = time.time() + 15  # spend is written in batches
    while True:
        logs = admin(fleet, "GET", "/spend/logs", params={"api_key": key}).json()
        if len(logs) >= len(usages) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(logs) == len(usages), logs
    assert sorted(l["model_group"] for l in logs) == sorted(GROUPS + ["chat-only"])
    assert sorted(l["prompt_tokens"] for l in logs) == sorted(u.input_tokens for u in usages)
    assert sorted(l["completion_tokens"] for l in logs) == sorted(u.output_tokens for u in usages)
    assert sum(l["spend"] for l in logs) == pytest.approx(want)
    info = admin(fleet, "GET", "/key/info", params={"key": key}).json()["info"]
    assert info["spend"] == pytest.approx(want)
