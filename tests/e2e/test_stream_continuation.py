"""Stream continuation (router_settings.enable_stream_continuation) through a
real Envoy and llmvoy's relay: a chat completion stream cut after it began is
continued on another deployment of the group and spliced into the same client
stream, so the official OpenAI SDK reads one whole answer, identical to an
uncut one; a stream that cannot be continued ends with an error event and a
clean end of stream, never a cut connection.

The mocks are deterministic: their answer is a function of their name and the
prompt, so two mocks given the same name answer alike, and a mock continuing a
prefill (vLLM's continue_final_message) answers the rest of that answer."""

import anthropic
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


CONTINUATION = "  num_retries: 1\n  enable_stream_continuation: true\n"


def twins(fleet, group, make=vllm, chunk_delay="50ms"):
    """Mocks `cut` and `whole` answer the same text (they share a name);
    `cut` resets every stream after 3 of its 8 chunks, paced so that the
    answer has begun at the client by then (Envoy retries a reset that comes
    before by itself). The gateway's `group` has cut first (order 1) and
    whole second; its `ref` is whole alone, the uncut answer."""
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay=chunk_delay)
    whole = fleet.mock("whole", chunks=8)
    for m in (cut, whole):
        configure(m, name="twin")
    client = fleet.gateway(router_config(make(group, "c1", cut, 1), make(group, "w1", whole, 2),
                                         make("ref", "r1", whole, 1), router=CONTINUATION))
    return cut, whole, client


def stream_text(sdk, model, prompt, **kw):
    text, ids = "", set()
    for chunk in sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                             stream=True, **kw):
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    return text, ids


def test_a_cut_stream_is_continued_on_another_deployment(fleet):
    cut, whole, client = twins(fleet, "gpt")
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


def test_a_group_with_no_other_deployment_continues_along_its_fallback_chain(fleet):
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    whole = fleet.mock("whole", chunks=8)
    for m in (cut, whole):
        configure(m, name="twin")
    client = fleet.gateway(router_config(
        vllm("solo", "c1", cut, 1), vllm("backup", "b1", whole, 1),
        router='  num_retries: 1\n  enable_stream_continuation: true\n  fallbacks: [{"solo": ["backup"]}]\n'))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    expected, _ = stream_text(sdk, "backup", "one more story")
    got, ids = stream_text(sdk, "solo", "one more story")
    assert got == expected and len(ids) == 1
    last = chat_attempts(whole)[-1]["body"]
    assert last["model"] == "b1-model" and last["messages"][-1]["role"] == "assistant"


def test_anthropic_continues_what_another_provider_began(fleet):
    # Cut on an OpenAI-compatible deployment, continued by an Anthropic one:
    # the text so far becomes Anthropic's prefill (without its trailing
    # whitespace, which Anthropic refuses), and the answer reads as one.
    cut = fleet.mock("cut", chunks=8, cut_stream_after=4, chunk_delay="50ms")
    claude = fleet.mock("claude", chunks=8)
    for m in (cut, claude):
        configure(m, name="twin")
    anthropic = (f"  - model_name: gpt\n    litellm_params:\n      model: anthropic/claude-test\n"
                 f"      api_base: http://127.0.0.1:{claude.port}\n      api_key: sk-ant\n      order: 2\n"
                 f"    model_info:\n      id: a1")
    client = fleet.gateway(router_config(
        vllm("gpt", "c1", cut, 1), anthropic, vllm("ref", "r1", claude, 1),
        router=CONTINUATION))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    expected, _ = stream_text(sdk, "ref", "a long answer please")
    got, ids = stream_text(sdk, "gpt", "a long answer please")
    assert got == expected and len(ids) == 1
    prefill = [r["body"]["messages"][-1] for r in claude.requests() if r["path"] == "/v1/messages"]
    assert len(prefill) == 1 and prefill[0]["role"] == "assistant", prefill
    assert expected.startswith(str(prefill[0]["content"] if isinstance(prefill[0]["content"], str)
                                   else prefill[0]["content"][0]["text"]))


def anthropic_deployment(group, dep_id, mock, order):
    return (f"  - model_name: {group}\n    litellm_params:\n      model: anthropic/claude-{dep_id}\n"
            f"      api_base: http://127.0.0.1:{mock.port}\n      api_key: sk-ant\n      order: {order}\n"
            f"    model_info:\n      id: {dep_id}")


def messages_text(client, model, prompt):
    """A Messages stream read as Claude Code reads one: its events, in order."""
    text, types, starts = "", [], 0
    with client.messages.stream(model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}]) as s:
        for ev in s:
            types.append(ev.type)
            if ev.type == "content_block_start":
                starts += 1
            if ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                text += ev.delta.text
        final = s.get_final_message()
    return text, types, starts, final


RAW = {"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}


def collapse(types):
    out = []
    for t in types:
        # The wire's events (the SDK adds its own "text" events).
        if t in RAW and (not out or out[-1] != t):
            out.append(t)
    return out


@pytest.mark.parametrize("provider", ["anthropic", "vllm"])
def test_a_cut_messages_stream_is_continued(fleet, provider):
    # Claude Code's API: natively on Anthropic deployments (the text so far
    # is Anthropic's own prefill), bridged to chat elsewhere.
    cut, whole, client = twins(fleet, "claude", anthropic_deployment if provider == "anthropic" else vllm)
    sdk = anthropic.Anthropic(base_url=str(client.base_url).rstrip("/").removesuffix("/v1"), api_key=MASTER_KEY,
                              max_retries=0, timeout=30)
    expected, ref_types, _, _ = messages_text(sdk, "ref", "write me a poem")
    got, types, starts, final = messages_text(sdk, "claude", "write me a poem")
    assert got == expected
    # One message, one text block, whole: as the uncut stream's events.
    assert types.count("message_start") == 1 and starts == 1 and types.count("message_stop") == 1
    assert final.stop_reason == "end_turn" and final.content[0].text == expected
    # The same sequence of events (a continuation has more deltas).
    assert collapse(types) == collapse(ref_types)
    eventually(root(client), "llmvoy_stream_continuations_total", 1, deployment="c1", outcome="continued")


def test_a_messages_stream_that_cannot_be_continued_ends_with_an_error_event(fleet):
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    client = fleet.gateway(router_config(anthropic_deployment("claude", "c1", cut, 1),
                                         router=CONTINUATION))
    sdk = anthropic.Anthropic(base_url=str(client.base_url).rstrip("/").removesuffix("/v1"), api_key=MASTER_KEY,
                              max_retries=0, timeout=30)
    with pytest.raises(anthropic.APIStatusError) as info:
        messages_text(sdk, "claude", "hi")
    assert "cut" in str(info.value) and not isinstance(info.value, anthropic.APIConnectionError)


def responses_events(sdk, model, prompt, store=False):
    events = []
    try:
        for ev in sdk.responses.create(model=model, input=prompt, stream=True, store=store):
            events.append(ev)
    except openai.APIConnectionError as e:  # what a cut connection gives
        raise AssertionError(f"the connection was cut after {[e.type for e in events]}") from e
    return events


def test_a_cut_responses_stream_is_continued(fleet):
    # Codex's API, bridged to vLLM deployments: one response, one message
    # item, sequence numbers that go on, and done events with the whole text.
    cut, whole, client = twins(fleet, "gpt")
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    ref = responses_events(sdk, "ref", "a story please")
    got = responses_events(sdk, "gpt", "a story please")
    text = lambda evs: "".join(e.delta for e in evs if e.type == "response.output_text.delta")  # noqa: E731
    assert text(got) == text(ref) and text(got)
    # The same sequence of event types as an uncut stream (deltas aside).
    kinds = lambda evs: [t for i, t in enumerate(e.type for e in evs) if t != "response.output_text.delta" or i == 0]  # noqa: E731
    assert kinds(got) == kinds(ref), [e.type for e in got]
    seqs = [e.sequence_number for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert len({e.item_id for e in got if hasattr(e, "item_id")}) == 1
    done = next(e for e in got if e.type == "response.output_text.done")
    assert done.text == text(ref)
    final = got[-1]
    assert final.type == "response.completed" and final.response.id == got[0].response.id
    assert final.response.output[0].content[0].text == text(ref)
    assert chat_attempts(whole)[-1]["body"]["messages"][-1]["role"] == "assistant"

    # An answer to keep (store) is not continued: the store would keep a
    # part of it, under an id the client never sees.
    kept = responses_events(sdk, "gpt", "a story please", store=True)
    assert kept[-1].type == "error", [e.type for e in kept]


def test_a_responses_stream_that_cannot_be_continued_ends_with_an_error_event(fleet):
    # The group's only deployment cuts it: nothing continues it, and the
    # client gets the Responses API's error event, not a cut connection.
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    client = fleet.gateway(router_config(vllm("gpt", "c1", cut, 1).replace("hosted_vllm/", "openai/"),
                                         router=CONTINUATION))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    events = responses_events(sdk, "gpt", "hi")
    types = [e.type for e in events]
    assert "response.output_text.delta" in types and "response.completed" not in types, types
    # The SDK yields the Responses API's error event, numbered on.
    assert types[-1] == "error", types
    assert "cut" in events[-1].message and events[-1].sequence_number == events[-2].sequence_number + 1


def test_a_stream_that_cannot_be_continued_ends_with_an_error_event(fleet):
    # The group's only deployment cuts every stream: nothing can continue it.
    cut = fleet.mock("cut", chunks=8, cut_stream_after=3, chunk_delay="50ms")
    client = fleet.gateway(router_config(vllm("gpt", "c1", cut, 1),
                                         router=CONTINUATION))
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


def test_claude_code_reads_one_answer_through_a_cut(fleet):
    # The real Claude Code CLI (agents.py: pinned, offline) on an Anthropic
    # group whose first deployment cuts every stream: its answer is the one
    # an uncut deployment gives.
    from agents import claude_result, run_claude

    cut, whole, client = twins(fleet, "claude", anthropic_deployment, chunk_delay="30ms")
    root_url = str(client.base_url).rstrip("/").removesuffix("/v1")
    results = {}
    for group in ("ref", "claude"):
        run = run_claude(root_url, MASTER_KEY, group, "Tell me about gateways.", allowed_tools=(), timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        results[group] = claude_result(run.stdout)
        assert results[group]["is_error"] is False, run.stdout
    assert results["claude"]["result"].startswith("Hello from mock twin! You said: ")
    assert results["claude"]["result"] == results["ref"]["result"]
    assert chat_attempts(cut) == [] and len([r for r in cut.requests() if r["path"] == "/v1/messages"]) >= 1
    eventually(root(client), "llmvoy_stream_continuations_total", lambda v: v >= 1, deployment="c1", outcome="continued")


def test_codex_reads_one_answer_through_a_cut(fleet):
    # The real Codex CLI (agents.py: pinned, offline) on vLLM deployments
    # (its Responses bridged to chat), the first of which cuts every stream.
    from agents import run_codex

    cut, whole, client = twins(fleet, "gpt", chunk_delay="30ms")
    root_url = str(client.base_url).rstrip("/").removesuffix("/v1")
    out = {}
    for group in ("ref", "gpt"):
        run = run_codex(root_url, MASTER_KEY, group, "Say hello to llmvoy.", timeout=90)
        assert run.returncode == 0, run.stdout + run.stderr
        out[group] = run.stdout.strip()
    assert "Hello from mock twin! You said: " in out["gpt"]
    assert out["gpt"] == out["ref"]
    eventually(root(client), "llmvoy_stream_continuations_total", lambda v: v >= 1, deployment="c1", outcome="continued")
