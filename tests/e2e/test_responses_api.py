"""OpenAI's Responses API on the gateway (POST /v1/responses, /responses)
through a real Envoy, with the official openai SDK as the client
(client.responses.create / .stream), against the three groups of
test_messages_api's config, each served by its own mock:

  chat-only  a hosted_vllm deployment: bridged through chat completions;
  gpt        an OpenAI deployment: passed through natively to /v1/responses;
  claude     an Anthropic deployment: bridged (Responses -> chat -> Messages).

Text (whole and streamed, with the event types a client waits for), a
function-tool round trip as Codex makes it (store: false, the whole history
resent), a body as Codex sends it (what reaches a chat server carries no
Responses-only field), stored responses (store, previous_response_id,
retrieve and delete, per caller), and the refusals: a response not kept is a
404, malformed input a 400, never 5xx."""

import json

import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_messages_api import (DEPLOYMENT_IDS, DEPLOYMENT_KEYS, GROUPS, TOOL_PROMPT, TOOL_RESULT, UPSTREAM_GPT,
                               keys_anywhere, reply, start_agent_fleet)

# What each group's mock is called on for a Responses request.
RESPONSES_UPSTREAM_PATH = {"chat-only": "/v1/chat/completions", "claude": "/v1/messages", "gpt": "/v1/responses"}

WEATHER_FUNCTION = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False},
    "strict": False,
}


@pytest.fixture(scope="module")
def fleet(procs, log_dir, tmp_path_factory):
    return start_agent_fleet("resp-", procs, log_dir, tmp_path_factory)


@pytest.fixture
def client(fleet):
    return openai.OpenAI(base_url=fleet.gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def post_responses(fleet, body=None, content=None, path="/v1/responses"):
    h = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}
    return httpx.post(fleet.gateway.root + path, headers=h, timeout=30,
                      **({"content": content} if content is not None else {"json": body}))


# --- text --------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_create_text(fleet, client, group):
    fleet.reset()
    raw = client.responses.with_raw_response.create(model=group, instructions="Be brief.",
                                                    input="hello from the openai sdk")
    resp = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == DEPLOYMENT_IDS[group]
    assert resp.object == "response" and resp.status == "completed"
    assert [item.type for item in resp.output] == ["message"]
    assert resp.output_text == reply(fleet, group, "hello from the openai sdk")
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    (up,) = fleet.requests(group)
    assert up["path"] == RESPONSES_UPSTREAM_PATH[group]


@pytest.mark.parametrize("group", GROUPS)
def test_stream_events(fleet, client, group):
    stream = client.responses.create(model=group, stream=True,
                                     input=[{"role": "user", "content": [{"type": "input_text", "text": "stream me"}]}])
    types, text, final = [], "", None
    for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert types[0] == "response.created", types
    assert types[-1] == "response.completed", types
    assert {"response.output_item.added", "response.output_text.delta", "response.output_text.done",
            "response.output_item.done"} <= set(types), types
    assert text == reply(fleet, group, "stream me")
    assert final.status == "completed"
    assert final.output[0].type == "message" and final.output[0].content[0].text == text
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


@pytest.mark.parametrize("group", GROUPS)
def test_stream_helper(fleet, client, group):
    with client.responses.stream(model=group, input="through the helper") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == reply(fleet, group, "through the helper")
    assert final.output_text == "".join(deltas)


def test_bare_responses_path(fleet):
    r = post_responses(fleet, {"model": "chat-only", "input": "bare path"}, path="/responses")
    assert r.status_code == 200, r.text
    out = r.json()["output"]
    assert out[0]["content"][0]["text"] == reply(fleet, "chat-only", "bare path")


@pytest.mark.parametrize("group", GROUPS)
def test_store_false(fleet, client, group):
    fleet.reset()
    resp = client.responses.create(model=group, input="do not keep this", store=False)
    assert resp.store is False
    assert resp.output_text == reply(fleet, group, "do not keep this")
    (up,) = fleet.requests(group)
    if group == "gpt":
        assert up["body"]["store"] is False  # native: as sent
    else:
        assert "store" not in up["body"]


# --- tools -------------------------------------------------------------------


def tool_turn(client, group, stream, input):
    kw = dict(model=group, input=input, tools=[WEATHER_FUNCTION], store=False)
    if not stream:
        return client.responses.create(**kw), None
    types = []
    with client.responses.stream(**kw) as s:
        for event in s:
            types.append(event.type)
        return s.get_final_response(), types


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("group", GROUPS)
def test_function_tool_round_trip(fleet, client, group, stream):
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": TOOL_PROMPT}]}
    first, types = tool_turn(client, group, stream, [user])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id
    if stream:
        # Codex ignores a function call without its output_item.done.
        assert "response.function_call_arguments.delta" in types and "response.output_item.done" in types, types
        assert types[-1] == "response.completed", types

    history = [user, call.model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT}]
    second, _ = tool_turn(client, group, stream, history)
    assert [item.type for item in second.output] == ["message"]
    assert second.output_text == reply(fleet, group, TOOL_RESULT)
    assert second.status == "completed"


# --- a body as Codex sends it ------------------------------------------------


def codex_body(group):
    return {
        "model": group,
        "instructions": None,
        "input": [
            {"type": "message", "id": "msg_dev1", "role": "developer",
             "content": [{"type": "input_text", "text": "You are Codex, a coding agent."}]},
            {"type": "message", "id": "msg_env1", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context>cwd: /tmp/work</environment_context>"}]},
            {"type": "message", "id": "msg_usr1", "role": "user",
             "content": [{"type": "input_text", "text": 'Run it.\nMOCK_TOOL_CALL exec_command {"cmd":"echo hi"}'}]},
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Runs a command", "strict": False,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"},
                                                             "justification": {"type": "string"}},
                            "required": ["cmd"], "additionalProperties": False}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents", "tools": [
                {"type": "function", "name": "spawn_agent", "description": "Spawns an agent", "strict": False,
                 "parameters": {"type": "object", "properties": {"task": {"type": "string"}}, "required": ["task"]}}]},
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "client_metadata": {"originator": "codex_exec"},
    }


# Responses-only fields at the top of a body, and keys or values that are
# Responses-only anywhere in it.
RESPONSES_ONLY_TOP = {"instructions", "input", "include", "prompt_cache_key", "client_metadata", "reasoning", "store",
                      "previous_response_id", "text", "truncation"}
RESPONSES_ONLY_ANYWHERE = {"namespace", "web_search", "input_text", "client_metadata", "prompt_cache_key"}


def values_anywhere(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from values_anywhere(x)
    elif isinstance(v, list):
        for x in v:
            yield from values_anywhere(x)
    elif isinstance(v, str):
        yield v


def sse(r):
    out = []
    for line in r.iter_lines():
        if line.startswith("data: "):
            out.append(json.loads(line[len("data: "):]))
    return out


@pytest.mark.parametrize("group", GROUPS)
def test_codex_body(fleet, group):
    fleet.reset()
    headers = {"authorization": f"Bearer {MASTER_KEY}", "accept": "text/event-stream", "originator": "codex_exec",
               "session-id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}
    with httpx.stream("POST", fleet.gateway.base_url + "/responses", json=codex_body(group), headers=headers,
                      timeout=30) as r:
        assert r.status_code == 200, r.read()
        events = sse(r)
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed", types
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    calls = [i for i in done if i["type"] == "function_call"]
    assert len(calls) == 1, done
    assert calls[0]["name"] == "exec_command" and json.loads(calls[0]["arguments"]) == {"cmd": "echo hi"}

    (up,) = fleet.requests(group)
    assert up["path"] == RESPONSES_UPSTREAM_PATH[group]
    assert MASTER_KEY not in json.dumps(up), "the gateway key reached the provider"
    body = up["body"]
    if group == "gpt":
        want = codex_body(group)
        want["model"] = UPSTREAM_GPT
        assert body == want
        return
    leaked = (RESPONSES_ONLY_TOP & set(body)) | (RESPONSES_ONLY_ANYWHERE & (set(keys_anywhere(body)) | set(values_anywhere(body))))
    assert not leaked, f"Responses-only fields reached a {RESPONSES_UPSTREAM_PATH[group]} server: {leaked}"
    if group == "chat-only":
        names = [t["function"]["name"] for t in body["tools"]]
        assert names == ["exec_command", "multi_agent_v1__spawn_agent"]
        assert body["messages"][-1]["role"] == "user" and "MOCK_TOOL_CALL" in body["messages"][-1]["content"]
        assert {k.lower() for k in up["header"]} >= {"authorization"}
        assert up["header"]["Authorization"] == [f"Bearer {DEPLOYMENT_KEYS[group]}"]
    else:
        assert [t["name"] for t in body["tools"]] == ["exec_command", "multi_agent_v1__spawn_agent"]


# --- refusals ----------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_previous_response_id_continues_the_conversation(fleet, client, group, stream):
    """store (the API's default) keeps the answer in llmvoy's key store; a
    request naming it as previous_response_id reaches the deployment with the
    whole conversation, whichever deployment answered first."""
    fleet.reset()
    if stream:
        with client.responses.stream(model=group, input="first question") as s:
            first = s.get_final_response()
    else:
        first = client.responses.create(model=group, input="first question")
    assert first.output_text and first.id
    second = client.responses.create(model=group, input="second question", previous_response_id=first.id)
    assert "second question" in second.output_text
    last = fleet.requests(group)[-1]["body"]
    sent = json.dumps(last)
    assert "first question" in sent and first.output_text in sent and "second question" in sent, sent
    assert "previous_response_id" not in last, "any deployment can take the whole conversation"


def test_stored_response_can_be_read_and_deleted_by_its_caller_only(fleet, client):
    first = client.responses.create(model="chat-only", input="keep me")
    got = client.responses.retrieve(first.id)
    assert got.id == first.id and got.output_text == first.output_text
    other = httpx.post(fleet.gateway.root + "/key/generate", headers={"authorization": f"Bearer {MASTER_KEY}"},
                       json={}, timeout=30).json()["key"]
    stranger = openai.OpenAI(base_url=fleet.gateway.base_url, api_key=other, max_retries=0, timeout=30)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(model="chat-only", input="steal", previous_response_id=first.id)
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


@pytest.mark.parametrize("group", GROUPS)
def test_previous_response_id_not_kept_is_404(fleet, client, group):
    not_kept = client.responses.create(model=group, input="forget me", store=False)
    fleet.reset()
    for prev in (not_kept.id, "resp_0123456789"):
        with pytest.raises(openai.NotFoundError) as info:
            client.responses.create(model=group, input="and then?", previous_response_id=prev)
        err = info.value.response.json()["error"]
        assert err["param"] == "previous_response_id" and err["code"] == "previous_response_not_found", err
    assert fleet.requests(group) == [], "refused before any deployment is called"


def test_malformed_json_is_400(fleet):
    r = post_responses(fleet, content=b'{"model": "chat-only", "input": [')
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("extra", [
    {"input": 42},
    {"input": [{"type": "no_such_item"}]},
    {"input": [{"type": "function_call_output", "output": "no call id"}]},
    {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-abc"}]}]},
    {"input": [{"type": "item_reference", "id": "msg_123"}]},
    {"input": "hi", "tools": [{"type": "function"}]},
    {},
], ids=["input-number", "unknown-item", "output-without-call-id", "file-id", "item-reference", "nameless-function",
        "no-input"])
def test_invalid_input_is_400_never_5xx(fleet, group, extra):
    r = post_responses(fleet, {"model": group, **extra})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["error"]["type"] == "invalid_request_error", r.text


FAULT_GROUPS = ["chat-only-faults", "claude-faults", "gpt-faults"]


@pytest.mark.parametrize("status,exc", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError), (429, openai.RateLimitError),
    (500, openai.InternalServerError),
])
@pytest.mark.parametrize("group", FAULT_GROUPS)
def test_provider_errors_in_openai_shape(client, group, status, exc):
    with pytest.raises(exc) as info:
        client.responses.create(model=group, input="hi", extra_headers={"x-mock-status": str(status)})
    err = info.value
    assert err.status_code == status
    body = err.response.json()["error"]
    assert body["message"] and body["type"]


@pytest.mark.parametrize("group", FAULT_GROUPS)
def test_stream_cut_by_provider_raises(client, group):
    types = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        stream = client.responses.create(model=group, input="hi", stream=True,
                                         extra_headers={"x-mock-chunks": "4", "x-mock-chunk-delay-ms": "20",
                                                        "x-mock-fail-stream-after": "2"})
        for event in stream:
            types.append(event.type)
    assert "response.completed" not in types, types


def test_error_event_mid_stream_is_response_failed(client):
    # A bridged Anthropic stream that ends with Anthropic's error event ends
    # with response.failed, never a silent cut or a completed response.
    stream = client.responses.create(model="claude-faults", input="hi", stream=True,
                                     extra_headers={"x-mock-chunks": "4", "x-mock-stream-error-after": "2"})
    events = list(stream)
    types = [e.type for e in events]
    assert "response.output_text.delta" in types
    assert types[-1] == "response.failed", types
    assert "response.completed" not in types
    failed = events[-1].response
    assert failed.status == "failed" and "Overloaded" in failed.error.message


def test_unknown_model_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="no-such-model", input="hi")
    assert "no-such-model" in info.value.message
