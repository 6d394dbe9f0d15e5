"""A deployment's own request parameters through a real Envoy, as LiteLLM's
model-specific params: litellm_params' temperature, max_tokens, extra_body
are defaults under the request's own values, additional_drop_params are
removed, extra_headers and organization reach the provider on every
attempt, an Anthropic deployment gets its max_tokens translated, and an
Azure deployment's azure_ad_token is its bearer credential."""

import anthropic
import openai

from conftest import MASTER_KEY
from test_azure import header
from test_routing import fleet  # noqa: F401 (the fixture)


def test_litellm_params_shape_each_deployments_requests(fleet):
    mock = fleet.mock("upstream")
    base = f"http://127.0.0.1:{mock.port}"
    fleet.gateway(f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: {base}/v1
      api_key: sk-openai
      temperature: 0.2
      max_tokens: 64
      extra_body: {{top_k: 3}}
      additional_drop_params: [logit_bias]
      extra_headers: {{X-Team: os.environ/TEAM}}
      organization: org-1
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {base}
      api_key: sk-ant
      max_tokens: 77
  - model_name: az
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: {base}
      api_version: "2024-10-21"
      azure_ad_token: os.environ/AZURE_AD_TOKEN
  - model_name: plain
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {base}/v1
      api_key: sk-openai
general_settings:
  master_key: {MASTER_KEY}
""", env={"TEAM": "search", "AZURE_AD_TOKEN": "eyJhbGci.eyJzdWIi.entra-token"})
    client = openai.OpenAI(base_url=str(fleet.client.base_url), api_key=MASTER_KEY, max_retries=0, timeout=30)
    hi = [{"role": "user", "content": "hi"}]

    client.chat.completions.create(model="gpt", messages=hi, logit_bias={"50256": -100})
    client.chat.completions.create(model="gpt", messages=hi, temperature=0.9, max_tokens=5)
    list(client.chat.completions.create(model="gpt", messages=hi, stream=True))
    client.chat.completions.create(model="claude", messages=hi)
    client.chat.completions.create(model="az", messages=hi)
    client.chat.completions.create(model="plain", messages=hi)
    # The agent APIs are bridged to a chat request, which takes them too.
    ant = anthropic.Anthropic(base_url=str(fleet.client.base_url).rstrip("/").removesuffix("/v1"), api_key=MASTER_KEY, max_retries=0)
    ant.messages.create(model="gpt", max_tokens=9, messages=hi)

    reqs = mock.requests()
    chats = [r for r in reqs if r["path"] == "/v1/chat/completions" and r["body"]["model"] == "gpt-4o"]
    assert len(chats) == 4
    first, own, streamed, bridged = (r["body"] for r in chats)
    assert first["temperature"] == 0.2 and first["max_tokens"] == 64 and first["top_k"] == 3
    assert "logit_bias" not in first, "additional_drop_params removes the client's field"
    assert own["temperature"] == 0.9 and own["max_tokens"] == 5, "the request's own values win"
    assert streamed["stream"] is True and streamed["temperature"] == 0.2
    assert bridged["max_tokens"] == 9 and bridged["temperature"] == 0.2
    for r in chats:
        assert header(r, "x-team") == "search"
        assert header(r, "openai-organization") == "org-1"
        assert header(r, "authorization") == "Bearer sk-openai"

    [messages] = [r for r in reqs if r["path"] == "/v1/messages"]
    assert messages["body"]["max_tokens"] == 77, "Anthropic's max_tokens from the deployment's"

    [azure] = [r for r in reqs if "/openai/deployments/gpt-4o-eu/" in r["path"]]
    assert header(azure, "authorization") == "Bearer eyJhbGci.eyJzdWIi.entra-token"
    assert header(azure, "api-key") is None

    [plain] = [r for r in reqs if r["path"] == "/v1/chat/completions" and r["body"]["model"] == "gpt-4o-mini"]
    assert "temperature" not in plain["body"] and header(plain, "x-team") is None, "another deployment's params stay its own"
    assert "eyJhbGci.eyJzdWIi.entra-token" not in fleet.llmvoy.output()
