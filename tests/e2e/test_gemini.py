"""Gemini (AI Studio) deployments through a real Envoy, with the official
OpenAI SDK as the client: llmvoy turns chat completions into Gemini's
generateContent / streamGenerateContent and embeddings into
batchEmbedContents, and the answers back into OpenAI's shapes. The mock
speaks Google's wire format and records what it received."""

import base64
import json
import os
import time

import httpx
import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

GEMINI_KEY = "AIza-e2e-gemini-deployment-key"

CONFIG = """
model_list:
  - model_name: gemini-flash
    litellm_params:
      model: gemini/gemini-2.0-flash
      api_base: http://127.0.0.1:{port}
      api_key: os.environ/E2E_GEMINI_KEY
    model_info:
      id: gemini-a
  - model_name: gemini-embed
    litellm_params:
      model: gemini/text-embedding-004
      api_base: http://127.0.0.1:{port}
      api_key: os.environ/E2E_GEMINI_KEY
    model_info:
      id: gemini-embed-a
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
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


@pytest.fixture(scope="module")
def gemini_mock(procs, log_dir):
    return start_mock("mock-gemini", procs, log_dir)


@pytest.fixture(scope="module")
def gemini_gateway(procs, log_dir, gemini_mock, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("gemini-gateway") / "config.yaml"
    cfg.write_text(CONFIG.format(port=gemini_mock.port, master=MASTER_KEY))
    port = free_port()
    env = dict(os.environ, E2E_GEMINI_KEY=GEMINI_KEY)
    proc = Proc("llmvoy-gemini", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                  "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


@pytest.fixture
def client(gemini_gateway):
    return openai.OpenAI(base_url=gemini_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def chat(client, content="hello gemini", **kw):
    return client.chat.completions.create(model="gemini-flash", messages=[{"role": "user", "content": content}], **kw)


def upstream(mock):
    """The requests the mock saw, newest last, with their bodies decoded."""
    reqs = mock.requests()
    for r in reqs:
        r["json"] = r["body"] if isinstance(r["body"], (dict, list)) else None
    return reqs


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def test_chat_completion(client, gemini_mock):
    gemini_mock.reset()
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-flash",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello gemini"}],
        temperature=0.3, max_tokens=200, stop=["END"])
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == "gemini-2.0-flash"
    msg = completion.choices[0].message
    assert msg.role == "assistant"
    assert msg.content == "Hello from mock mock-gemini! You said: hello gemini"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert raw.headers["x-llmvoy-model-id"] == "gemini-a"

    [req] = upstream(gemini_mock)
    assert req["path"].startswith("/v1beta/models/gemini-2.0-flash:")
    body = req["json"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hello gemini"}]}]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 200, "stopSequences": ["END"]}


def test_streaming(client):
    # 6 events, 300 ms apart at the mock: chunks must reach the client as
    # they are produced, not at the end.
    start = time.monotonic()
    stream = chat(client, stream=True, stream_options={"include_usage": True},
                  extra_headers={"x-mock-chunks": "6", "x-mock-chunk-delay-ms": "300"})
    arrivals, text, finish, usage, roles = [], "", None, None, []
    for chunk in stream:
        arrivals.append(time.monotonic() - start)
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            delta = chunk.choices[0].delta
            if delta.role:
                roles.append(delta.role)
            text += delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "Hello from mock mock-gemini! You said: hello gemini"
    assert roles == ["assistant"]
    assert finish == "stop"
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert arrivals[-1] >= 1.4, f"stream ended after {arrivals[-1]:.2f}s; the mock was told to take ~1.5s"
    assert arrivals[0] < arrivals[-1] - 1.0, "the stream was buffered"


def test_stream_without_include_usage_has_no_usage_chunk(client):
    chunks = list(chat(client, stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_call_round_trip(client, gemini_mock):
    gemini_mock.reset()
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.chat.completions.create(model="gemini-flash", messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice="auto")
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}
    assert call.id.startswith("call_")

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 21})}]
    second = client.chat.completions.create(model="gemini-flash", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'Hello from mock mock-gemini! The function returned: {"temp_c":21}'

    reqs = upstream(gemini_mock)
    decl = reqs[0]["json"]["tools"][0]["functionDeclarations"][0]
    # JSON-schema keys Gemini rejects are gone; a nullable type is Gemini's.
    assert decl == {"name": "get_weather", "description": "Current weather in a city", "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "nullable": True}},
        "required": ["city"]}}
    assert reqs[0]["json"]["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    contents = reqs[1]["json"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "mock"}}}]
    assert contents[2]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}]


def test_streamed_tool_call(client):
    stream = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, stream=True)
    calls, finish = [], None
    for chunk in stream:
        if chunk.choices:
            calls += chunk.choices[0].delta.tool_calls or []
            finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    [call] = calls
    assert call.index == 0 and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}


# Gemini answers a blocked prompt with a 200; the translator turns it into
# OpenAI's 400 and says so through BodyStatus(), which the upstream
# processor must apply as :status (a header mutation in the response body
# phase). Until extproc does, the client gets the 400's body with a 200.
def test_safety_block_is_content_policy_violation(client):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, extra_headers={"x-mock-safety-block": "1"})
    assert exc.value.status_code == 400
    assert exc.value.code == "content_policy_violation"
    assert "SAFETY" in exc.value.message


def test_streamed_safety_block_ends_the_stream_with_an_error(client):
    stream = chat(client, stream=True, extra_headers={"x-mock-safety-block": "1"})
    with pytest.raises(openai.APIError) as exc:
        for _ in stream:
            pass
    assert exc.value.body["code"] == "content_policy_violation"


def test_output_blocked_by_safety_is_content_filter(client):
    completion = chat(client, extra_headers={"x-mock-finish-reason": "SAFETY"})
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content is None


def test_max_tokens_is_length(client):
    completion = chat(client, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"


def test_google_errors_keep_status_and_message(client):
    with pytest.raises(openai.PermissionDeniedError) as exc:
        chat(client, extra_headers={"x-mock-status": "403"})
    assert exc.value.body["message"] == "The caller does not have permission"
    assert exc.value.body["type"] == "permission_error"
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, extra_headers={"x-mock-context-overflow": "1"})
    assert exc.value.code == "context_length_exceeded"
    assert "exceeds the maximum number of tokens allowed" in exc.value.message


# A 429 (or 5xx) is retried. Envoy hands the retry the request headers as
# the previous attempt's upstream filters left them, so the upstream
# processor sees the Gemini path instead of /v1/chat/completions and
# answers 404 "unknown path". Any provider whose path differs from the
# client's (Gemini, Azure, an api_base not ending in /v1) is hit.
def test_retried_attempt_is_translated_again(client):
    with pytest.raises(openai.RateLimitError) as exc:
        chat(client, extra_headers={"x-mock-status": "429"})
    assert "You exceeded your current quota" in exc.value.message


def test_upstream_sees_deployment_key_never_the_clients(gemini_gateway, gemini_mock):
    gemini_mock.reset()
    # The gateway key in every header a client might put it in.
    r = httpx.post(gemini_gateway.base_url + "/chat/completions",
                   headers={"authorization": f"Bearer {MASTER_KEY}", "api-key": MASTER_KEY, "x-api-key": MASTER_KEY},
                   json={"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    [req] = upstream(gemini_mock)
    assert header(req, "x-goog-api-key") == GEMINI_KEY
    assert header(req, "authorization") is None
    assert "key=" not in req.get("query", ""), "the key must never be in the URL"
    assert MASTER_KEY not in json.dumps(req)


def test_image_data_url_goes_inline_and_remote_url_is_refused(client, gemini_mock):
    gemini_mock.reset()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    chat(client, content=[{"type": "text", "text": "what is this?"},
                          {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}])
    [req] = upstream(gemini_mock)
    assert req["json"]["contents"][0]["parts"] == [
        {"text": "what is this?"}, {"inlineData": {"mimeType": "image/png", "data": png}}]
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, content=[{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])
    assert "data: URL" in exc.value.message


def test_embeddings(client, gemini_mock):
    gemini_mock.reset()
    result = client.embeddings.create(model="gemini-embed", input=["the food was delicious", "the waiter"],
                                      dimensions=16)
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 16 for d in result.data)
    assert result.data[0].embedding != result.data[1].embedding
    [req] = upstream(gemini_mock)
    assert req["path"] == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert req["json"]["requests"][0] == {"model": "models/text-embedding-004",
                                          "content": {"parts": [{"text": "the food was delicious"}]},
                                          "outputDimensionality": 16}
    floats = client.embeddings.create(model="gemini-embed", input="x", encoding_format="float")
    assert len(floats.data[0].embedding) == 8


def test_health_probes_the_model_with_the_deployment_key(gemini_gateway, gemini_mock):
    gemini_mock.reset()
    r = httpx.get(gemini_gateway.root + "/health", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert {e["model_id"] for e in report["healthy_endpoints"]} == {"gemini-a", "gemini-embed-a"}
    assert report["unhealthy_count"] == 0
    probes = {req["path"]: header(req, "x-goog-api-key") for req in gemini_mock.requests() if req["method"] == "GET"}
    assert probes == {"/v1beta/models/gemini-2.0-flash": GEMINI_KEY, "/v1beta/models/text-embedding-004": GEMINI_KEY}
    assert GEMINI_KEY not in r.text
