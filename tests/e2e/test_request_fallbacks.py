"""LiteLLM's client-side fallbacks through a real Envoy: a request's own
`fallbacks` (in the body; the OpenAI SDK's extra_body) name the models to try
when its group fails after its retries, for groups without fallbacks of their
own too, on error answers and on refused connections. The field never reaches
a provider.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import openai
import pytest

from conftest import MASTER_KEY
from test_fallbacks import refusing, router_config
from test_keys import generate, root
from test_routing import chat_attempts, deployment, fleet  # noqa: F401  (fleet is a fixture)


def sdk_for(client, key=MASTER_KEY):
    return openai.OpenAI(base_url=str(client.base_url), api_key=key, max_retries=0)


def ask(sdk, model, fallbacks, content="hi"):
    raw = sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": content}], extra_body={"fallbacks": fallbacks})
    return raw.headers.get("x-llmvoy-model-id"), raw.parse()


def test_request_fallbacks_serve_after_the_groups_last_retry(fleet):
    primary, backup = fleet.mock("primary", status=500), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("primary", "p1", primary), deployment("backup", "b1", backup),
        router="  num_retries: 1\n  disable_cooldowns: true\n"))
    sdk = sdk_for(client)

    served, answer = ask(sdk, "primary", ["backup"])
    assert served == "b1" and "mock backup" in answer.choices[0].message.content
    assert len(chat_attempts(primary)) == 2, "num_retries + 1 attempts in the group first"
    for attempt in chat_attempts(primary) + chat_attempts(backup):
        assert "fallbacks" not in attempt["body"], attempt["body"]
    assert chat_attempts(backup)[-1]["body"]["model"] == "b1-model"

    # LiteLLM's object form, and a stream.
    assert ask(sdk, "primary", [{"model": "backup"}])[0] == "b1"
    stream = sdk.chat.completions.create(model="primary", messages=[{"role": "user", "content": "s"}], stream=True,
                                         extra_body={"fallbacks": ["backup"]})
    assert "mock backup" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    # A name no group serves is left out: the group's own error.
    with pytest.raises(openai.InternalServerError):
        ask(sdk, "primary", ["no-such-model"])
    # Without fallbacks, the group's error as before.
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="primary", messages=[{"role": "user", "content": "x"}])


def test_request_fallbacks_after_refused_connections(fleet):
    """The group's only deployment refuses connections: no answer to redirect
    on, so the request goes through the group's fallback hop."""
    backup = fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("dead", "d1", refusing()), deployment("backup", "b1", backup), router="  num_retries: 1\n"))
    sdk = sdk_for(client)
    for i in range(5):
        assert ask(sdk, "dead", ["backup"], content=f"refused-{i}")[0] == "b1"
    assert sorted(a["body"]["messages"][0]["content"] for a in chat_attempts(backup)) == [f"refused-{i}" for i in range(5)]
    # Without the field, a refused connection is the client's 500 (LiteLLM's APIConnectionError).
    with pytest.raises(openai.APIStatusError) as e:
        sdk.chat.completions.create(model="dead", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 500


def test_request_fallbacks_to_a_wildcard_route_and_a_keys_models(fleet):
    primary, anything = fleet.mock("primary", status=500), fleet.mock("anything")
    client = fleet.gateway(router_config(
        deployment("primary", "p1", primary),
        f"""  - model_name: "openai/*"
    litellm_params:
      model: "openai/*"
      api_base: http://127.0.0.1:{anything.port}/v1
      api_key: sk-any
    model_info:
      id: openai-any""", router="  num_retries: 0\n  disable_cooldowns: true\n"))
    # The wildcard group is asked for the fallback's own name.
    assert ask(sdk_for(client), "primary", ["openai/gpt-4.1"])[0] == "openai-any"
    assert chat_attempts(anything)[-1]["body"]["model"] == "gpt-4.1"

    # A key limited to primary may not name another model as its fallback.
    key = generate(root(client), models=["primary"])["key"]
    with pytest.raises(openai.APIStatusError) as e:
        ask(sdk_for(client, key), "primary", ["openai/gpt-4.1"])
    assert e.value.status_code == 403 and "gpt-4.1" in e.value.message
    assert len(chat_attempts(anything)) == 1


def test_disable_fallbacks(fleet):
    """LiteLLM's disable_fallbacks: the request takes none of its group's
    fallbacks, after an error answer or refused connections, and the
    field never reaches a provider."""
    bad, backup = fleet.mock("bad", status=500), fleet.mock("backup")
    client = fleet.gateway(router_config(
        deployment("gpt", "g1", bad), deployment("gone", "x1", refusing()), deployment("backup", "b1", backup),
        router='  num_retries: 0\n  disable_cooldowns: true\n  fallbacks: [{"gpt": ["backup"]}, {"gone": ["backup"]}]\n'))
    for model, status in [("gpt", 500), ("gone", 500)]:
        r = client.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}],
                                                   "disable_fallbacks": True})
        assert r.status_code == status, (model, r.text)
    assert chat_attempts(backup) == []
    assert "disable_fallbacks" not in chat_attempts(bad)[0]["body"]
    r = client.post("/chat/completions", json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200 and r.headers["x-litellm-model-id"] == "b1", "without it, the chain serves"
