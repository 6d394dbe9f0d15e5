"""LiteLLM's provider environment defaults through a real Envoy: a deployment
whose litellm_params leave api_key or api_base out takes them from the
provider's variables in llmvoy's environment (HOSTED_VLLM_API_BASE,
OPENAI_API_KEY, ...), and a key written in the file still wins."""

import openai

from conftest import MASTER_KEY
from test_routing import fleet  # noqa: F401 (the fixture)

VLLM_KEY = "sk-vllm-from-env"
OPENAI_KEY = "sk-openai-from-env"


def authorization(req):
    for k, v in req["header"].items():
        if k.lower() == "authorization":
            return v[0]
    return None


def test_key_and_base_come_from_the_providers_variables(fleet):
    mock = fleet.mock("upstream")
    base = f"http://127.0.0.1:{mock.port}/v1"
    fleet.gateway(f"""
model_list:
  # Neither api_base nor api_key: both from HOSTED_VLLM_API_*.
  - model_name: vllm
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
  # No api_key: OPENAI_API_KEY.
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: {base}
  # A key in the file wins over the environment.
  - model_name: file-key
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {base}
      api_key: sk-from-file
general_settings:
  master_key: {MASTER_KEY}
""", env={"HOSTED_VLLM_API_BASE": base, "HOSTED_VLLM_API_KEY": VLLM_KEY, "OPENAI_API_KEY": OPENAI_KEY})
    client = openai.OpenAI(base_url=str(fleet.client.base_url), api_key=MASTER_KEY, max_retries=0, timeout=30)

    for group in ("vllm", "gpt", "file-key"):
        r = client.chat.completions.create(model=group, messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content

    seen = {req["body"]["model"]: authorization(req) for req in mock.requests()
            if req["path"] == "/v1/chat/completions"}
    assert seen == {
        "meta-llama/Llama-3.1-8B-Instruct": f"Bearer {VLLM_KEY}",
        "gpt-4o": f"Bearer {OPENAI_KEY}",
        "gpt-4o-mini": "Bearer sk-from-file",
    }
    log = fleet.llmvoy.output()
    assert VLLM_KEY not in log and OPENAI_KEY not in log
