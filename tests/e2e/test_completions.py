"""The legacy text completions endpoint (/v1/completions, and /completions)
through a real Envoy with the official OpenAI SDK: passed through to an
OpenAI-compatible deployment with its model, streamed chunk by chunk."""

import httpx
import openai
import pytest

from conftest import MASTER_KEY


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url, api_key=MASTER_KEY, max_retries=0)


def test_completion(client, mock_a, mock_b):
    mock_a.reset()
    mock_b.reset()
    r = client.completions.with_raw_response.create(model="only-b", prompt="Say this is a test", max_tokens=7)
    c = r.parse()
    assert c.object == "text_completion"
    assert c.choices[0].text.startswith("Hello from mock mock-b! You said: Say this is a test")
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.prompt_tokens > 0 and c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens
    assert r.headers["x-llmvoy-model-id"] == "deployment-b-nokey"
    sent = [q for q in mock_b.requests() if q["path"] == "/v1/completions"]
    assert len(sent) == 1 and sent[0]["body"]["model"] == "llama3.2" and sent[0]["body"]["max_tokens"] == 7


def test_completion_list_of_prompts(client):
    c = client.completions.create(model="only-b", prompt=["one", "two"])
    assert [ch.index for ch in c.choices] == [0, 1]
    assert c.choices[1].text.endswith("two")


def test_completion_stream(client):
    stream = client.completions.create(model="only-b", prompt="stream me", stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == "Hello from mock mock-b! You said: stream me"
    assert len([ch for ch in chunks if ch.choices and ch.choices[0].text]) > 3, "forwarded chunk by chunk"
    assert chunks[-1].usage.completion_tokens > 0


def test_completion_without_v1(gateway):
    r = httpx.post(gateway.root + "/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                   json={"model": "only-b", "prompt": "bare path"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "text_completion"
