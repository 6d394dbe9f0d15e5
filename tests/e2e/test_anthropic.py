"""Anthropic deployments through a real Envoy, with the official OpenAI SDK as
the client: llmvoy turns chat completions into Messages API requests
(POST /v1/messages, x-api-key, anthropic-version) and Anthropic's messages,
SSE streams and errors back into OpenAI's shapes. The mock speaks Anthropic's
wire format, checks requests as Anthropic does, and records them."""

import json
import os
import time

import httpx
import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

ANTHROPIC_KEY = "sk-ant-e2e-deployment-key"
UPSTREAM_MODEL = "claude-sonnet-4-5-20250929"
MOCK_NAME = "mock-anthropic"

# claude-faults is the same mock under another deployment, for injected
# failures: its cooldowns never touch the deployment the other tests use.
CONFIG = """
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/{model}
      api_base: http://127.0.0.1:{port}
      api_key: os.environ/E2E_ANTHROPIC_KEY
    model_info:
      id: claude-a
  - model_name: claude-faults
    litellm_params:
      model: anthropic/{model}
      api_base: http://127.0.0.1:{port}
      api_key: os.environ/E2E_ANTHROPIC_KEY
    model_info:
      id: claude-faults
router_settings:
  num_retries: 0
general_settings:
  master_key: {master}
  # The tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def anthropic_mock(procs, log_dir):
    return start_mock(MOCK_NAME, procs, log_dir)


@pytest.fixture(scope="module")
def anthropic_gateway(procs, log_dir, anthropic_mock, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("anthropic-gateway") / "config.yaml"
    cfg.write_text(CONFIG.format(port=anthropic_mock.port, model=UPSTREAM_MODEL, master=MASTER_KEY))
    port = free_port()
    env = dict(os.environ, E2E_ANTHROPIC_KEY=ANTHROPIC_KEY)
    proc = Proc("llmvoy-anthropic", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                     "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


@pytest.fixture
def client(anthropic_gateway):
    # The client also sends its gateway key as x-api-key, the header
    # Anthropic reads: it must be replaced, never forwarded.
    return openai.OpenAI(base_url=anthropic_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30,
                         default_headers={"x-api-key": MASTER_KEY})


def reply(prompt):
    return f"Hello from mock {MOCK_NAME}! You said: {prompt[:40]}"


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def last_request(mock):
    reqs = [r for r in mock.requests() if r["path"] == "/v1/messages"]
    assert reqs, "the mock saw no Messages request"
    return reqs[-1]


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "hello claude"}])
    completion = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "claude-a"
    assert completion.object == "chat.completion"
    assert completion.id.startswith("msg_01")
    assert completion.model == UPSTREAM_MODEL
    assert abs(completion.created - time.time()) < 60
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == reply("hello claude")
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    usage = completion.usage
    # The mock counts ~4 characters a token over system and messages.
    assert usage.prompt_tokens == (len("Be brief.hello claude") + 3) // 4
    assert usage.completion_tokens == (len(reply("hello claude")) + 3) // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_upstream_sees_messages_api_and_deployment_key_only(client, anthropic_mock):
    anthropic_mock.reset()
    client.chat.completions.create(
        model="claude", temperature=0.3, stop=["END"], n=1, seed=7, user="user-42",
        messages=[{"role": "system", "content": "Rule."}, {"role": "user", "content": "hi"},
                  {"role": "user", "content": "again"}])
    req = last_request(anthropic_mock)
    assert req["method"] == "POST" and req["path"] == "/v1/messages"
    assert header(req, "x-api-key") == ANTHROPIC_KEY
    assert header(req, "anthropic-version") == "2023-06-01"
    assert header(req, "authorization") is None and header(req, "api-key") is None
    assert MASTER_KEY not in json.dumps(req), "the client's gateway key reached the provider"
    body = req["body"]
    assert body == {
        "model": UPSTREAM_MODEL,
        "system": "Rule.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}]}],
        "max_tokens": 4096,
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "metadata": {"user_id": "user-42"},
    }


def test_streaming_text_arrives_as_sent(client):
    # 6 deltas, 300 ms apart: ~1.5 s at the mock. Buffering anywhere on the
    # path would deliver the first chunk at the end.
    start = time.monotonic()
    stream = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "stream please"}], stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-mock-chunks": "6", "x-mock-chunk-delay-ms": "300"})
    arrivals, text, roles, finish, usage, ids = [], "", [], [], None, set()
    for chunk in stream:
        arrivals.append(time.monotonic() - start)
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == UPSTREAM_MODEL
        ids.add(chunk.id)
        if chunk.choices:
            delta = chunk.choices[0].delta
            if delta.role:
                roles.append(delta.role)
            if delta.content:
                text += delta.content
            if chunk.choices[0].finish_reason:
                finish.append(chunk.choices[0].finish_reason)
        if chunk.usage:
            assert not chunk.choices
            usage = chunk.usage
    assert text == reply("stream please")
    assert roles == ["assistant"]
    assert finish == ["stop"]
    assert len(ids) == 1 and ids.pop().startswith("msg_01")
    assert usage is not None and usage.completion_tokens == (len(text) + 3) // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    first, last = arrivals[0], arrivals[-1]
    assert last >= 1.4, f"stream ended after {last:.2f}s; the mock was told to take ~1.5s"
    assert first < last - 1.0, f"first chunk at {first:.2f}s, last at {last:.2f}s: the stream was buffered"


def test_streaming_without_include_usage_sends_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks), "a usage chunk the client did not ask for"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streaming_tool_call(client, anthropic_mock):
    stream = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "Weather in Oslo?"}], stream=True,
        tools=[WEATHER_TOOL], tool_choice="required", extra_headers={"x-mock-chunks": "4"})
    calls, finish = {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for tc in choice.delta.tool_calls or []:
            call = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                call["id"] = tc.id
            if tc.function and tc.function.name:
                call["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                call["arguments"] += tc.function.arguments
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("toolu_01")
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Weather in Oslo?"}
    body = last_request(anthropic_mock)["body"]
    assert body["tools"] == [{"name": "get_weather", "description": "Current weather in a city",
                              "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    assert body["tool_choice"] == {"type": "any"}
    assert body["stream"] is True and "stream_options" not in body


def test_tool_round_trip(client, anthropic_mock):
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Weather in Oslo?"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "cloudy, 12C"})
    second = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER_TOOL])
    # The mock answers the last user turn: here the tool's result.
    assert second.choices[0].message.content == reply("cloudy, 12C")
    assert second.choices[0].finish_reason == "stop"
    body = last_request(anthropic_mock)["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Weather in Oslo?"}}]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "cloudy, 12C"}]


@pytest.mark.parametrize("stream", [False, True])
def test_response_format_json_schema(client, anthropic_mock, stream):
    # Anthropic has no JSON mode: as LiteLLM, llmvoy forces a json_tool_call
    # tool with the schema, and its input comes back as the content.
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"]}
    kwargs = dict(model="claude", messages=[{"role": "user", "content": "Oslo for 3 days"}],
                  response_format={"type": "json_schema", "json_schema": {"name": "trip", "schema": schema}})
    if stream:
        chunks = list(client.chat.completions.create(stream=True, **kwargs))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    else:
        completion = client.chat.completions.create(**kwargs)
        content, finish = completion.choices[0].message.content, [completion.choices[0].finish_reason]
        assert completion.choices[0].message.tool_calls is None
    assert json.loads(content) == {"city": "Oslo for 3 days", "days": len("Oslo for 3 days")}
    assert finish == ["stop"]
    body = last_request(anthropic_mock)["body"]
    assert body["tools"] == [{"name": "json_tool_call", "input_schema": schema}]
    assert body["tool_choice"] == {"type": "tool", "name": "json_tool_call"}
    assert "response_format" not in body


@pytest.mark.parametrize("status,exc,typ", [
    (400, openai.BadRequestError, "invalid_request_error"),
    (401, openai.AuthenticationError, "authentication_error"),
    (403, openai.PermissionDeniedError, "permission_error"),
    (404, openai.NotFoundError, "not_found_error"),
    (429, openai.RateLimitError, "rate_limit_error"),
    (500, openai.InternalServerError, "server_error"),
])
def test_anthropic_errors_raise_the_sdk_exception(client, status, exc, typ):
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="claude-faults", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-mock-status": str(status)})
    err = info.value
    assert err.status_code == status
    assert err.response.headers["content-type"] == "application/json"
    body = err.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert body["type"] == typ
    # Anthropic's own message is kept.
    expected = {400: "Invalid request (injected by llmvoy mock).", 401: "invalid x-api-key",
                404: f"model: {UPSTREAM_MODEL}", 500: "Internal server error"}
    if status in expected:
        assert body["message"] == expected[status]


def test_overloaded_is_an_internal_server_error(client):
    # Anthropic's 529 overloaded_error: LiteLLM raises InternalServerError
    # (500), and so does llmvoy, with OpenAI's code for an overloaded engine.
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="claude-faults", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-mock-status": "529"})
    assert info.value.status_code == 500
    body = info.value.response.json()["error"]
    assert body == {"message": "Overloaded", "type": "server_error", "param": None, "code": "server_is_overloaded"}


def test_prompt_too_long_is_context_length_exceeded(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude-faults",
                                       messages=[{"role": "user", "content": "a prompt of many tokens"}],
                                       extra_headers={"x-mock-context-window": "2"})
    assert info.value.code == "context_length_exceeded"
    assert "prompt is too long" in info.value.message


def test_error_mid_stream_raises(client):
    stream = client.chat.completions.create(
        model="claude-faults", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-mock-chunks": "4", "x-mock-stream-error-after": "2"})
    text = ""
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert "Overloaded" in str(info.value)
    assert text, "the deltas before the error arrive"


def test_stream_cut_by_provider_raises(client):
    # The provider resets the connection after two deltas: the client must
    # not take what came for a whole answer. The SDK raises the reset of
    # its stream, or llmvoy's error event.
    stream = client.chat.completions.create(
        model="claude-faults", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-mock-chunks": "4", "x-mock-chunk-delay-ms": "200", "x-mock-fail-stream-after": "2"})
    chunks = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for chunk in stream:
            chunks.append(chunk)
    assert chunks and not any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_embeddings_are_refused_with_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="claude", input="hi")
    assert "/chat/completions only" in info.value.message
