"""LiteLLM's drill knobs (mock_testing_fallbacks, mock_testing_context_fallbacks,
mock_testing_content_policy_fallbacks, mock_testing_rate_limit_error,
mock_timeout, mock_delay) through a real Envoy: refused with a 400 naming them
and the setting unless general_settings.dangerously_allow_mock_testing_request_params
is set, as LiteLLM 1.108 does; then a drill runs for real (the chain serves)."""

import time

import openai
import pytest

from conftest import MASTER_KEY
from test_fallbacks import router_config
from test_keys import generate, root
from test_routing import chat_attempts, deployment, fleet  # noqa: F401  (fleet is a fixture)

CHAINS = ('  fallbacks: [{"gpt": ["backup"]}]\n'
          '  context_window_fallbacks: [{"gpt": ["long"]}]\n')


def gateway(fleet, allow):
    a, b, c = fleet.mock("a"), fleet.mock("b"), fleet.mock("c")
    cfg = router_config(deployment("gpt", "a1", a), deployment("backup", "b1", b), deployment("long", "c1", c),
                        deployment("alone", "d1", a), router=CHAINS)
    if allow:
        cfg += "  dangerously_allow_mock_testing_request_params: true\n"
    client = fleet.gateway(cfg)
    return openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0), a


def ask(sdk, model="gpt", **extra):
    return sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "drill"}], extra_body=extra)


def test_drills_are_refused_unless_the_operator_allows_them(fleet):
    sdk, a = gateway(fleet, allow=False)
    for knob, value in [("mock_testing_fallbacks", True), ("mock_timeout", True), ("mock_delay", 1)]:
        with pytest.raises(openai.BadRequestError) as info:
            ask(sdk, **{knob: value})
        assert knob in str(info.value) and "dangerously_allow_mock_testing_request_params" in str(info.value)
    # Asking for nothing is nothing to refuse; the knob never reaches a provider.
    r = ask(sdk, mock_testing_fallbacks=False)
    assert r.headers["x-llmvoy-model-id"] == "a1"
    assert "mock_testing_fallbacks" not in chat_attempts(a)[-1]["body"]


def test_allowed_drills_run(fleet):
    sdk, a = gateway(fleet, allow=True)
    assert ask(sdk, mock_testing_fallbacks=True).headers["x-llmvoy-model-id"] == "b1"
    assert ask(sdk, mock_testing_context_fallbacks=True).headers["x-llmvoy-model-id"] == "c1"
    assert chat_attempts(a) == [], "the group that fails on purpose is never called"
    # Without a chain: LiteLLM's mock exceptions.
    with pytest.raises(openai.InternalServerError, match="mock exception"):
        ask(sdk, "alone", mock_testing_fallbacks=True)
    with pytest.raises(openai.BadRequestError, match="context_window_fallbacks"):
        ask(sdk, "alone", mock_testing_context_fallbacks=True)
    with pytest.raises(openai.RateLimitError):
        ask(sdk, mock_testing_rate_limit_error=True)
    with pytest.raises(openai.APIStatusError) as info:
        ask(sdk, mock_timeout=True)
    assert info.value.status_code == 408
    start = time.monotonic()
    assert ask(sdk, mock_delay=0.4).headers["x-llmvoy-model-id"] == "a1"
    assert time.monotonic() - start >= 0.4


def test_mock_response_answers_without_a_deployment(fleet):
    # LiteLLM's mock_response: the text the request names, no provider call,
    # objects and streams; only for a key whose metadata allows it (LiteLLM
    # since 1.84: allow_client_mock_response), not a drill knob.
    master, a = gateway(fleet, allow=False)
    client = fleet.client
    sdk = openai.OpenAI(base_url=str(client.base_url), max_retries=0,
                        api_key=generate(root(client), metadata={"allow_client_mock_response": True})["key"])
    r = sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}],
                                    extra_body={"mock_response": "a canned answer"})
    assert r.choices[0].message.content == "a canned answer" and r.model == "gpt"
    text = "".join(c.choices[0].delta.content or "" for c in sdk.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_body={"mock_response": "streamed too"}) if c.choices)
    assert text == "streamed too"
    assert chat_attempts(a) == []
    # An unknown model is still the router's error.
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}],
                                    extra_body={"mock_response": "x"})
    # Any other caller's mock_response is stripped: the deployment answers.
    plain = openai.OpenAI(base_url=str(client.base_url), max_retries=0, api_key=generate(root(client))["key"])
    for caller in (master, plain):
        r = caller.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}],
                                           extra_body={"mock_response": "skip the model"})
        assert r.choices[0].message.content != "skip the model"
    assert len(chat_attempts(a)) == 2
    assert all("mock_response" not in at["body"] for at in chat_attempts(a))