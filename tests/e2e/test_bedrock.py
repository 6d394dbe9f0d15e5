"""Amazon Bedrock deployments through a real Envoy, with the official OpenAI
SDK as the client: llmvoy turns chat completions into Converse and
ConverseStream requests signed with AWS SigV4, and Converse answers and the
binary event stream back into OpenAI's shapes; embeddings into signed
InvokeModel requests for Titan Text Embeddings and Cohere Embed. The mock speaks Bedrock's
wire format, recomputes every signature with its documented test
credentials, and records what it received."""

import hashlib
import json
import math
import os
import time

import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

# The mock's credentials (mock.BedrockAccessKeyID / BedrockSecretAccessKey):
# AWS's documented example key pair.
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "e2e-session-token/with+chars="
UPSTREAM_MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
ARN = "arn:aws:bedrock:ap-southeast-2:123456789012:inference-profile/apac.anthropic.claude-3-5-sonnet-20241022-v2:0"
MOCK_NAME = "mock-bedrock"

# claude-faults is the same mock under another deployment, for injected
# failures; claude-env takes its credentials from the environment, as
# LiteLLM (boto3) does; claude-wrong-secret signs with a secret the mock
# does not know; claude-arn names an inference profile by its ARN, whose
# escaped ':' and '/' must reach Bedrock (and its signature) as sent.
CONFIG = """
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/{model}
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: us-east-1
    model_info:
      id: claude-a
  - model_name: claude-faults
    litellm_params:
      model: bedrock/{model}
      aws_bedrock_runtime_endpoint: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: us-east-1
    model_info:
      id: claude-faults
  - model_name: claude-env
    litellm_params:
      model: bedrock/converse/{model}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: claude-env
  - model_name: claude-arn
    litellm_params:
      model: bedrock/{arn}
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
    model_info:
      id: claude-arn
  - model_name: titan
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: us-east-1
    model_info:
      id: titan-v2
  - model_name: titan-v1
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v1
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: eu-central-1
    model_info:
      id: titan-v1
  - model_name: cohere-embed
    litellm_params:
      model: bedrock/cohere.embed-english-v3
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: us-east-1
    model_info:
      id: cohere-embed
  - model_name: claude-wrong-secret
    litellm_params:
      model: bedrock/{model}
      api_base: http://127.0.0.1:{port}
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: not-the-secret
      aws_region_name: us-east-1
    model_info:
      id: claude-wrong-secret
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
def bedrock_mock(procs, log_dir):
    return start_mock(MOCK_NAME, procs, log_dir)


@pytest.fixture(scope="module")
def bedrock_gateway(procs, log_dir, bedrock_mock, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("bedrock-gateway") / "config.yaml"
    cfg.write_text(CONFIG.format(port=bedrock_mock.port, model=UPSTREAM_MODEL, arn=ARN, master=MASTER_KEY))
    port = free_port()
    env = dict(os.environ, E2E_AWS_KEY_ID=AWS_KEY_ID, E2E_AWS_SECRET=AWS_SECRET,
               AWS_ACCESS_KEY_ID=AWS_KEY_ID, AWS_SECRET_ACCESS_KEY=AWS_SECRET,
               AWS_SESSION_TOKEN=SESSION_TOKEN, AWS_REGION="eu-west-1")
    proc = Proc("llmvoy-bedrock", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                   "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


@pytest.fixture
def client(bedrock_gateway):
    return openai.OpenAI(base_url=bedrock_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def reply(prompt):
    return f"Hello from mock {MOCK_NAME}! You said: {prompt[:40]}"


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def last_request(mock, op="converse"):
    reqs = [r for r in mock.requests() if r["path"].endswith("/" + op)]
    assert reqs, f"the mock saw no {op} request"
    return reqs[-1]


def test_chat_completion(client, bedrock_mock):
    raw = client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "hello bedrock"}],
        max_tokens=100, temperature=0.2, stop=["END"], seed=7)
    completion = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "claude-a"
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == UPSTREAM_MODEL
    assert abs(completion.created - time.time()) < 60
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == reply("hello bedrock")
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    usage = completion.usage
    # The mock counts ~4 characters a token over system and messages.
    assert usage.prompt_tokens == (len("Be brief.hello bedrock") + 3) // 4
    assert usage.completion_tokens == (len(reply("hello bedrock")) + 3) // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    # What Bedrock received: a Converse request, signed for the host, path
    # and body that arrived (the mock checked the signature), with the
    # deployment's credentials and never the client's key.
    req = last_request(bedrock_mock)
    assert req["method"] == "POST"
    assert req["path"] == f"/model/{UPSTREAM_MODEL}/converse"
    assert req["host"] == f"127.0.0.1:{bedrock_mock.port}"
    auth = header(req, "authorization")
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" in auth
    body = req["body"]
    assert header(req, "x-amz-content-sha256") == hashlib.sha256(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    assert header(req, "x-amz-security-token") is None
    assert MASTER_KEY not in json.dumps(req), "the client's gateway key reached the provider"
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "hello bedrock"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "stopSequences": ["END"]},
    }


def test_streaming_text_arrives_as_sent(client, bedrock_mock):
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
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    assert usage is not None and usage.completion_tokens == (len(text) + 3) // 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    first, last = arrivals[0], arrivals[-1]
    assert last >= 1.4, f"stream ended after {last:.2f}s; the mock was told to take ~1.5s"
    assert first < last - 1.0, f"first chunk at {first:.2f}s, last at {last:.2f}s: the stream was buffered"

    req = last_request(bedrock_mock, "converse-stream")
    assert header(req, "authorization").startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert "stream" not in req["body"] and "stream_options" not in req["body"]


def test_streaming_tool_call(client, bedrock_mock):
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
    assert calls[0]["id"].startswith("tooluse_")
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Weather in Oslo?"}
    body = last_request(bedrock_mock, "converse-stream")["body"]
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "get_weather", "description": "Current weather in a city",
                                "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}}],
        "toolChoice": {"any": {}}}


def test_tool_round_trip(client, bedrock_mock):
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "cloudy, 12C"})
    second = client.chat.completions.create(model="claude", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == reply("cloudy, 12C")
    body = last_request(bedrock_mock)["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": call.id, "name": "get_weather", "input": {"city": "Weather in Oslo?"}}}]
    assert body["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": call.id, "content": [{"text": "cloudy, 12C"}]}}]


def test_credentials_from_the_environment(client, bedrock_mock):
    # No keys in the file: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    # AWS_SESSION_TOKEN, and the region from AWS_REGION.
    completion = client.chat.completions.create(model="claude-env", messages=[{"role": "user", "content": "env"}])
    assert completion.choices[0].message.content == reply("env")
    req = last_request(bedrock_mock)
    assert header(req, "x-amz-security-token") == SESSION_TOKEN
    auth = header(req, "authorization")
    assert "/eu-west-1/bedrock/aws4_request" in auth
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token," in auth


def test_arn_model_id(client, bedrock_mock):
    completion = client.chat.completions.create(model="claude-arn", messages=[{"role": "user", "content": "arn"}])
    assert completion.choices[0].message.content == reply("arn")
    assert completion.model == ARN
    req = last_request(bedrock_mock)
    # The mock records the decoded path; it verified the signature over
    # the escaped one.
    assert req["path"] == f"/model/{ARN}/converse"
    assert "/ap-southeast-2/bedrock/aws4_request" in header(req, "authorization")


def test_wrong_secret_is_an_authentication_error(client):
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="claude-wrong-secret", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert "signature we calculated does not match" in info.value.message


@pytest.mark.parametrize("headers,exc,status,code,message", [
    ({"x-mock-status": "429"}, openai.RateLimitError, 429, "rate_limit_exceeded", "Too many requests, please wait before trying again."),
    ({"x-mock-status": "400"}, openai.BadRequestError, 400, "400", "Invalid request (injected by llmvoy mock)."),
    ({"x-mock-status": "403"}, openai.PermissionDeniedError, 403, "403", "You don't have access to the model with the specified model ID."),
    ({"x-mock-status": "500"}, openai.InternalServerError, 500, "500", None),
    ({"x-mock-bedrock-error": "ModelNotReadyException"}, openai.InternalServerError, 503, "model_not_ready", None),
    ({"x-mock-status": "503"}, openai.InternalServerError, 503, "service_unavailable", None),
    ({"x-mock-context-window": "2"}, openai.BadRequestError, 400, "context_length_exceeded", "Input is too long for requested model."),
])
def test_bedrock_errors_raise_the_sdk_exception(client, headers, exc, status, code, message):
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="claude-faults", messages=[{"role": "user", "content": "a prompt of many tokens"}],
                                       extra_headers=headers)
    err = info.value
    assert err.status_code == status
    assert err.response.headers["content-type"] == "application/json"
    body = err.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert body["code"] == code
    if message:
        assert body["message"] == message


def test_exception_mid_stream_raises(client):
    stream = client.chat.completions.create(
        model="claude-faults", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-mock-chunks": "4", "x-mock-stream-error-after": "2"})
    text = ""
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert "Too many tokens" in str(info.value)
    assert text, "the deltas before the exception arrive"


def tokens(text):
    # The mock's (and llmvoy's) estimate: four characters a token, at least one.
    return max(1, (len(text) + 3) // 4)


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def signed_body(req):
    """The body the mock received, checked against the signature's hash."""
    body = req["body"]
    assert header(req, "x-amz-content-sha256") == hashlib.sha256(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    assert header(req, "authorization").startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert MASTER_KEY not in json.dumps(req), "the client's gateway key reached the provider"
    return body


def test_titan_embeddings(client, bedrock_mock):
    bedrock_mock.reset()
    # The SDK asks for base64 unless told otherwise, and decodes it.
    raw = client.embeddings.with_raw_response.create(model="titan", input="hello titan", dimensions=256)
    result = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "titan-v2"
    assert result.object == "list"
    assert result.model == "amazon.titan-embed-text-v2:0"
    (item,) = result.data
    assert item.index == 0 and item.object == "embedding"
    assert len(item.embedding) == 256
    assert abs(norm(item.embedding) - 1) < 1e-5
    # Titan counts the tokens (inputTextTokenCount).
    assert result.usage.prompt_tokens == tokens("hello titan")
    assert result.usage.total_tokens == result.usage.prompt_tokens

    (req,) = bedrock_mock.requests()
    assert req["path"] == "/model/amazon.titan-embed-text-v2:0/invoke"
    assert "/us-east-1/bedrock/aws4_request" in header(req, "authorization")
    assert signed_body(req) == {"inputText": "hello titan", "dimensions": 256}

    # Floats asked for explicitly are the same vector (float32 either way).
    floats = client.embeddings.create(model="titan", input="hello titan", dimensions=256, encoding_format="float")
    assert all(abs(a - b) < 1e-6 for a, b in zip(floats.data[0].embedding, item.embedding))
    other = client.embeddings.create(model="titan", input="another text", dimensions=256)
    assert other.data[0].embedding != item.embedding


def test_titan_v1_embeddings(client, bedrock_mock):
    bedrock_mock.reset()
    result = client.embeddings.create(model="titan-v1", input=["only one"])
    assert len(result.data) == 1 and len(result.data[0].embedding) == 1536
    assert result.usage.prompt_tokens == tokens("only one")
    (req,) = bedrock_mock.requests()
    assert req["path"] == "/model/amazon.titan-embed-text-v1/invoke"
    assert "/eu-central-1/bedrock/aws4_request" in header(req, "authorization")
    assert signed_body(req) == {"inputText": "only one"}


def test_titan_takes_one_text_per_request(client, bedrock_mock):
    bedrock_mock.reset()
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="titan", input=["one", "two"])
    assert info.value.status_code == 400
    assert "one text per request" in info.value.message
    assert not bedrock_mock.requests(), "nothing is sent for a request llmvoy refuses"
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="titan-v1", input="x", dimensions=256)
    assert "dimensions and normalize are not supported" in info.value.message


def test_cohere_embeddings(client, bedrock_mock):
    bedrock_mock.reset()
    texts = ["The food was delicious", "and the waiter", "The food was delicious"]
    raw = client.embeddings.with_raw_response.create(model="cohere-embed", input=texts)
    result = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "cohere-embed"
    assert result.model == "cohere.embed-english-v3"
    assert [d.index for d in result.data] == [0, 1, 2]
    vectors = [d.embedding for d in result.data]
    assert all(len(v) == 1024 and abs(norm(v) - 1) < 1e-5 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1], "one embedding per text, in order"
    # Bedrock's Cohere answer counts no tokens in its body: estimated.
    assert result.usage.prompt_tokens == sum(tokens(t) for t in texts)
    (req,) = bedrock_mock.requests()
    assert req["path"] == "/model/cohere.embed-english-v3/invoke"
    assert signed_body(req) == {"texts": texts, "input_type": "search_document"}

    # Cohere's own input_type passes through, as LiteLLM passes it.
    client.embeddings.create(model="cohere-embed", input="a query", extra_body={"input_type": "search_query"})
    assert signed_body(bedrock_mock.requests()[-1]) == {"texts": ["a query"], "input_type": "search_query"}


@pytest.mark.parametrize("model,headers,exc,status,code", [
    ("titan", {"x-mock-status": "429"}, openai.RateLimitError, 429, "rate_limit_exceeded"),
    ("cohere-embed", {"x-mock-bedrock-error": "AccessDeniedException"}, openai.PermissionDeniedError, 403, "403"),
    ("titan", {"x-mock-context-window": "2"}, openai.BadRequestError, 400, "context_length_exceeded"),
])
def test_embeddings_errors_raise_the_sdk_exception(client, model, headers, exc, status, code):
    with pytest.raises(exc) as info:
        client.embeddings.create(model=model, input="a text of a few tokens", extra_headers=headers)
    assert info.value.status_code == status
    body = info.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert body["code"] == code


def test_embeddings_on_a_chat_model_are_refused_with_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="claude", input="hi")
    assert "Titan Text Embeddings" in info.value.message and "Cohere Embed" in info.value.message
