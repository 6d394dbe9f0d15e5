"""Spend is recorded exactly once, streams included, through a real Envoy: a
client that abandons a stream after its first chunks is charged for what was
produced (Envoy closes the upstream processor's stream; llmvoy charges the
prompt and the text so far), and a priced stream whose client did not ask
for usage is asked for it on the client's behalf, charged from the
provider's count, and answered without the usage chunk the client did not
ask for."""

import json
import time

import httpx
import pytest

from test_keys import COMPLETION_COST, PROMPT_COST, admin, generate, sdk, start
from test_routing import configure, fleet  # noqa: F401  (fleet is a fixture)


def wait_for_spend(c, key, timeout=15):
    """The key's spend logs once there are some (spend is written in
    batches, once a second)."""
    deadline = time.time() + timeout
    while True:
        logs = admin(c, "GET", "/spend/logs", params={"api_key": key}).json()
        if logs or time.time() > deadline:
            return logs
        time.sleep(0.2)


def test_an_abandoned_stream_is_charged_for_what_it_produced(fleet):
    mock, c = start(fleet)
    # 40 content chunks, 100 ms apart: the client leaves after 3 of them,
    # seconds before the stream would end.
    configure(mock, chunks=40, chunk_delay="100ms")
    k = generate(c, key_alias="leaver")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "tell me a long story " * 20}], "stream": True}
    events = []
    with httpx.Client(base_url=str(c.base_url), timeout=30) as h:
        with h.stream("POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {k['key']}"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: "):]))
                if len(events) >= 4:  # the role chunk and three of content
                    break
    # The connection is closed here, mid-stream.
    assert all(e["choices"] for e in events)

    logs = wait_for_spend(c, k["key"])
    assert len(logs) == 1, "charged once"
    log = logs[0]
    assert log["prompt_tokens"] > 0
    assert log["spend"] > 0
    assert log["spend"] == pytest.approx(log["prompt_tokens"] * PROMPT_COST + log["completion_tokens"] * COMPLETION_COST)
    info = admin(c, "GET", "/key/info", params={"key": k["key"]}).json()["info"]
    assert info["spend"] == pytest.approx(log["spend"])

    # The mock never finished: the charge is for less than the whole answer,
    # which a stream seen to its end is charged for.
    time.sleep(1.5)
    assert len(admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()) == 1, "not charged twice"
    configure(mock, chunk_delay="0s")
    whole = sdk(c, k["key"]).chat.completions.create(stream=True, stream_options={"include_usage": True}, **{
        kk: v for kk, v in body.items() if kk != "stream"})
    usage = [ch.usage for ch in whole if ch.usage][-1]
    assert log["completion_tokens"] < usage.completion_tokens


def test_a_priced_stream_is_asked_for_usage_the_client_did_not_see(fleet):
    mock, c = start(fleet)
    k = generate(c, key_alias="quiet")
    client = sdk(c, k["key"])
    messages = [{"role": "user", "content": "count my tokens please"}]
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    assert chunks and all(ch.choices for ch in chunks), "no usage-only chunk the client did not ask for"
    assert all(ch.usage is None for ch in chunks)
    sent = [r for r in mock.requests() if r["path"].endswith("/chat/completions")][-1]["body"]
    assert sent["stream_options"] == {"include_usage": True}

    # Charged from the provider's count: what a client that asks is told.
    logs = wait_for_spend(c, k["key"])
    assert len(logs) == 1
    asked = list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                                stream_options={"include_usage": True}))
    usage = asked[-1].usage
    assert asked[-1].choices == [] and usage is not None, "a client that asks still gets its usage chunk"
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
