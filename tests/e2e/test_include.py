"""LiteLLM's include and credential_list through a real Envoy: models from an
included file are served with the key and base of the credential they name,
and a change to the included file is reloaded like one to the config."""

import openai

from conftest import MASTER_KEY
from test_fallbacks import wait_until
from test_provider_env import authorization
from test_routing import fleet  # noqa: F401 (the fixture)

CRED_KEY = "sk-from-credential"


def models(*groups):
    return "model_list:\n" + "".join(f"""  - model_name: {g}
    litellm_params:
      model: openai/{g}-upstream
      litellm_credential_name: shared
""" for g in groups)


def test_included_models_take_their_credential_and_reload(fleet):
    mock = fleet.mock("upstream")
    included = fleet.tmp_path / "models.yaml"
    included.write_text(models("first"))
    client = fleet.gateway(f"""
include:
  - models.yaml
credential_list:
  - credential_name: shared
    credential_values:
      api_key: os.environ/E2E_CREDENTIAL_KEY
      api_base: http://127.0.0.1:{mock.port}/v1
general_settings:
  master_key: {MASTER_KEY}
""", args=("--reload-interval", "100ms"), env={"E2E_CREDENTIAL_KEY": CRED_KEY})
    sdk = openai.OpenAI(base_url=str(client.base_url), api_key=MASTER_KEY, max_retries=0, timeout=30)

    r = sdk.chat.completions.create(model="first", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content

    included.write_text(models("first", "second"))
    wait_until(lambda: "config reloaded" in fleet.llmvoy.output(), what="the reload of the included file")

    def second_served():
        # Envoy takes the snapshot a moment after llmvoy logs the reload.
        try:
            return sdk.chat.completions.create(model="second", messages=[{"role": "user", "content": "hi"}])
        except openai.APIStatusError:
            return None
    wait_until(second_served, what="the included file's new group served")

    seen = [(req["path"], req["body"]["model"], authorization(req)) for req in mock.requests()]
    assert seen == [
        ("/v1/chat/completions", "first-upstream", f"Bearer {CRED_KEY}"),
        ("/v1/chat/completions", "second-upstream", f"Bearer {CRED_KEY}"),
    ]
    assert CRED_KEY not in fleet.llmvoy.output()
