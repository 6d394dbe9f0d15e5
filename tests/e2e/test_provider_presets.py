"""LiteLLM's OpenAI-compatible providers as presets, through a real Envoy:
each deployment reaches its server at the path LiteLLM would use, with the
model and the key from the provider's own variable."""

import openai

from conftest import MASTER_KEY
from test_routing import fleet  # noqa: F401 (the fixture)
from test_provider_env import authorization

KEYS = {
    "HF_TOKEN": "hf_from_env",
    "DATABRICKS_API_KEY": "dapi-from-env",
    "CEREBRAS_API_KEY": "csk-from-env",
    "COHERE_API_KEY": "co-from-env",
    "DEEPINFRA_API_KEY": "di-from-env",
}


def test_presets_reach_their_server_with_their_key(fleet):
    mock = fleet.mock("upstream")
    root = f"http://127.0.0.1:{mock.port}"
    fleet.gateway(f"""
model_list:
  # A TGI server at its root, as LiteLLM's example configs write it:
  # llmvoy, like LiteLLM, posts to {{root}}/v1/chat/completions.
  - model_name: zephyr
    litellm_params:
      model: huggingface/HuggingFaceH4/zephyr-7b-beta
      api_base: {root}
  # Base from DATABRICKS_API_BASE, key from DATABRICKS_API_KEY.
  - model_name: dbrx
    litellm_params:
      model: databricks/databricks-dbrx-instruct
  # Base from CEREBRAS_API_BASE.
  - model_name: cerebras
    litellm_params:
      model: cerebras/llama3.1-8b
  - model_name: cohere
    litellm_params:
      model: cohere/command-r-plus
      api_base: {root}/v1
  - model_name: deepinfra
    litellm_params:
      model: deepinfra/meta-llama/Llama-3.3-70B-Instruct
general_settings:
  master_key: {MASTER_KEY}
""", env={**KEYS, "DATABRICKS_API_BASE": f"{root}/v1", "CEREBRAS_API_BASE": f"{root}/v1",
          "DEEPINFRA_API_BASE": f"{root}/v1"})
    client = openai.OpenAI(base_url=str(fleet.client.base_url), api_key=MASTER_KEY, max_retries=0, timeout=30)

    for group in ("zephyr", "dbrx", "cerebras", "cohere", "deepinfra"):
        r = client.chat.completions.create(model=group, messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content

    seen = {req["body"]["model"]: (req["path"], authorization(req)) for req in mock.requests()}
    path = "/v1/chat/completions"
    assert seen == {
        "HuggingFaceH4/zephyr-7b-beta": (path, "Bearer hf_from_env"),
        "databricks-dbrx-instruct": (path, "Bearer dapi-from-env"),
        "llama3.1-8b": (path, "Bearer csk-from-env"),
        "command-r-plus": (path, "Bearer co-from-env"),
        "meta-llama/Llama-3.3-70B-Instruct": (path, "Bearer di-from-env"),
    }
    log = fleet.llmvoy.output()
    assert not any(key in log for key in KEYS.values())
