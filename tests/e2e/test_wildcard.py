"""LiteLLM's wildcard routes through a real Envoy, with the official OpenAI
SDK as the client: `model_name: "*"`, provider wildcards (`openai/*`,
`anthropic/*`) and an exact group beside them. A model no group names goes
to the most specific pattern that matches it, and the provider gets the
requested name in the pattern's "*" (what each mock recorded says which
model it was asked for).

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import openai

from conftest import MASTER_KEY
from test_keys import generate, root
from test_metrics import eventually
from test_routing import chat_attempts, fleet  # noqa: F401  (fleet is a fixture)


def wildcard_config(anything, openai_mock, anthropic_mock, exact, router=""):
    return f"""
model_list:
  - model_name: "*"
    litellm_params:
      model: "openai/*"
      api_base: http://127.0.0.1:{anything.port}/v1
      api_key: sk-anything
    model_info:
      id: anything
  - model_name: "openai/*"
    litellm_params:
      model: "openai/*"
      api_base: http://127.0.0.1:{openai_mock.port}/v1
      api_key: sk-openai
    model_info:
      id: openai-any
  - model_name: "anthropic/*"
    litellm_params:
      model: "anthropic/*"
      api_base: http://127.0.0.1:{anthropic_mock.port}
      api_key: sk-ant
    model_info:
      id: anthropic-any
  - model_name: gpt-4o
    litellm_params:
      model: openai/exact-gpt-4o
      api_base: http://127.0.0.1:{exact.port}/v1
      api_key: sk-exact
    model_info:
      id: exact
router_settings:
  num_retries: 0
{router}general_settings:
  master_key: {MASTER_KEY}
  forward_client_headers_to_llm_api: true
"""


def start(fleet, router=""):
    mocks = [fleet.mock(n) for n in ("anything", "openai-any", "anthropic-any", "exact")]
    client = fleet.gateway(wildcard_config(*mocks, router=router))
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0)
    return client, sdk, mocks


def ask(sdk, model, stream=False):
    raw = sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"which model is {model}"}], stream=stream)
    return raw.headers.get("x-llmvoy-model-id"), raw.parse()


def test_wildcard_routes_serve_any_model_on_the_most_specific_pattern(fleet):
    client, sdk, (anything, openai_mock, anthropic_mock, exact) = start(fleet)

    # An exact group beats every pattern.
    assert ask(sdk, "gpt-4o")[0] == "exact"
    assert chat_attempts(exact)[-1]["body"]["model"] == "exact-gpt-4o"
    # "openai/*" is longer than "*": the provider gets the name after the prefix.
    served, answer = ask(sdk, "openai/gpt-4.1-mini")
    assert served == "openai-any" and "mock openai-any" in answer.choices[0].message.content
    assert chat_attempts(openai_mock)[-1]["body"]["model"] == "gpt-4.1-mini"
    # The answer names the requested model as its group, as LiteLLM's does.
    r = client.post("/chat/completions", json={"model": "openai/gpt-4.1-mini", "messages": [{"role": "user", "content": "g"}]})
    assert r.headers["x-litellm-model-group"] == "openai/gpt-4.1-mini"
    r = client.post("/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "g"}]})
    assert r.headers["x-litellm-model-group"] == "gpt-4o"
    # Anything else goes to "*", whose deployment is asked for it by name.
    assert ask(sdk, "my-team/finetune-7")[0] == "anything"
    assert chat_attempts(anything)[-1]["body"]["model"] == "my-team/finetune-7"
    # A stream too.
    stream = sdk.chat.completions.create(model="llama-local", messages=[{"role": "user", "content": "s"}], stream=True)
    assert "mock anything" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert chat_attempts(anything)[-1]["body"]["model"] == "llama-local"

    # A translated provider: Anthropic's Messages API, asked for the model
    # after the prefix.
    served, answer = ask(sdk, "anthropic/claude-sonnet-4-5")
    assert served == "anthropic-any"
    [sent] = [r for r in anthropic_mock.requests() if r["path"] == "/v1/messages"]
    assert sent["body"]["model"] == "claude-sonnet-4-5"

    # /v1/models lists the patterns, as LiteLLM lists its wildcard routes.
    listed = {m.id for m in sdk.models.list()}
    assert {"*", "openai/*", "anthropic/*", "gpt-4o"} <= listed, listed

    # Metrics name the wildcard group, never the client's model.
    c = root(client)
    eventually(c, "llmvoy_requests_total", 2, model_group="*")
    metrics = c.get("/metrics").text
    assert "my-team/finetune-7" not in metrics and "llama-local" not in metrics


def test_a_keys_models_are_the_requested_names_or_the_pattern(fleet):
    client, sdk, (anything, openai_mock, _, _) = start(fleet)
    c = root(client)
    scoped = openai.OpenAI(base_url=str(client.base_url), api_key=generate(c, models=["openai/*"])["key"], max_retries=0)
    assert scoped.chat.completions.create(model="openai/o3", messages=[{"role": "user", "content": "hi"}]).choices
    assert chat_attempts(openai_mock)[-1]["body"]["model"] == "o3"
    try:
        scoped.chat.completions.create(model="my-finetune", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("a key limited to openai/* called the * group")
    except openai.APIStatusError as e:
        assert e.status_code in (401, 403), e
    assert chat_attempts(anything) == []
