"""Stream continuation (router_settings.enable_stream_continuation) through a
real Envoy and llmvoy's relay: a chat completion stream cut after it began is
continued on another deployment of the group and spliced into the same client
stream, so the official OpenAI SDK reads one whole answer, identical to an
uncut one; a stream that cannot be continued ends with an error event and a
clean end of stream, never a cut connection.

The mocks are deterministic: their answer is a function of their name and the
prompt, so two mocks given the same name answer alike, and a mock continuing a
prefill (vLLM's continue_final_message) answers the rest of that answer."""

import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_fallbacks import router_config, wait_until
from test_keys import admin, generate, root
from test_metrics import eventually
from test_routing import chat_attempts, configure, fleet  # noqa: F401  (fleet is a fixture)


def vllm(group, dep_id, mock, order):
    """A hosted_vllm deployment: vLLM continues an assistant message exactly."""
    return (f"  - model_name: {group}\n    litellm_params:\n      model: hosted_vllm/{dep_id}-model\n"
            f"      api_base: http://127.0.0.1:{mock.port}/v1\n      api_key: sk-mock\n      order: {order}\n"
            f"    model_info:\n      id: {dep_id}")


def stream_text(sdk, model, prompt, **kw):
    text, ids = "", set()
    for chunk in sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                             stream=True, **kw):
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    return text, ids


def test_a_cut_stream_is_continued_on_another_deployment(fleet):
    # `cut` resets every stream after 3 of its 8 chunks; `whole` answers the
    # same text (same name). order puts every first attempt on `cut`.
    # The chunks are paced, so the answer has begun at the client when the
    # cut comes (Envoy retries a reset that comes before that by itself).
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    whole = fleet.mock("whole", chunks=8, chunk_delay="10ms")
    for m in (cut, whole):
        configure(m, name="twin")
    client = fleet.gateway(router_config(
        vllm("gpt", "c1", cut, 1), vllm("gpt", "w1", whole, 2), vllm("ref", "r1", whole, 1),
        router="  num_retries: 2\n  enable_stream_continuation: true\n"))
    c = root(client)
    key = generate(c)["key"]
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=key, max_retries=0)

    expected, _ = stream_text(sdk, "ref", "tell me a story")
    got, ids = stream_text(sdk, "gpt", "tell me a story", stream_options={"include_usage": True})
    assert got == expected, "the client reads one whole answer, as if uncut"
    assert len(ids) == 1, f"one completion id across the splice: {ids}"

    # The cut deployment was tried once; the continuation went to the other,
    # with the text the client had as vLLM's prefill.
    assert len(chat_attempts(cut)) == 1
    cont = [a for a in chat_attempts(whole) if a["body"]["messages"][0]["content"] == "tell me a story"]
    assert len(cont) == 2  # the reference, and the continuation
    last = cont[-1]["body"]
    assert last["continue_final_message"] is True and last["add_generation_prompt"] is False
    assert last["messages"][-1]["role"] == "assistant"
    assert expected.startswith(last["messages"][-1]["content"]) and last["messages"][-1]["content"]

    # One spend record for the client request, the two attempts' tokens in it.
    wait_until(lambda: len(admin(c, "GET", "/spend/logs", params={"api_key": key}).json()) >= 2, what="spend")
    logs = admin(c, "GET", "/spend/logs", params={"api_key": key}).json()
    by_group = sorted(log["model_group"] for log in logs)
    assert by_group == ["gpt", "ref"], logs
    continued = next(log for log in logs if log["model_group"] == "gpt")
    assert continued["model_id"] == "w1"
    reference = next(log for log in logs if log["model_group"] == "ref")
    # Both prompts (the second with the prefill) and both parts of the answer.
    assert continued["prompt_tokens"] > 2 * reference["prompt_tokens"]
    assert continued["completion_tokens"] >= reference["completion_tokens"] - 2
    eventually(c, "llmvoy_stream_continuations_total", 1, deployment="c1", outcome="continued")
    wait_until(lambda: "continuing a cut stream" in fleet.llmvoy.output(), what="the relay's log line")


def test_a_stream_that_cannot_be_continued_ends_with_an_error_event(fleet):
    # The group's only deployment cuts every stream: nothing can continue it.
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    client = fleet.gateway(router_config(vllm("gpt", "c1", cut, 1),
                                         router="  num_retries: 1\n  enable_stream_continuation: true\n"))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    text = ""
    with pytest.raises(openai.APIError) as info:
        for chunk in sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert text, "the chunks before the cut arrived"
    # The SDK read an error event, not a broken connection.
    assert not isinstance(info.value, openai.APIConnectionError)
    assert "cut" in str(info.value)

    # On the wire: the error event, then a clean end of the chunked body.
    with httpx.stream("POST", str(client.base_url) + "/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        assert r.status_code == 200
        body = r.read().decode()
    assert body.rstrip().splitlines()[-1].startswith('data: {"error":'), body
    eventually(root(client), "llmvoy_stream_continuations_total", 2, deployment="c1", outcome="failed")


def test_streams_without_a_cut_and_other_requests_are_unchanged(fleet):
    a = fleet.mock("a", chunks=4)
    client = fleet.gateway(router_config(vllm("gpt", "a1", a, 1),
                                         router="  enable_stream_continuation: true\n"))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    text, ids = stream_text(sdk, "gpt", "hello")
    assert text and len(ids) == 1
    # Not a stream: the group's own route.
    r = sdk.chat.completions.with_raw_response.create(model="gpt", messages=[{"role": "user", "content": "hello"}])
    assert r.headers["x-llmvoy-model-id"] == "a1"
    assert r.parse().choices[0].message.content == text
    # A stream through the relay keeps the deployment's response headers.
    with httpx.stream("POST", str(client.base_url) + "/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "hello"}]}) as r:
        assert r.headers.get("x-llmvoy-model-id") == "a1"
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.read().decode().rstrip().endswith("data: [DONE]")
    assert len(chat_attempts(a)) == 3
