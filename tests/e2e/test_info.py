"""LiteLLM's model information endpoints through a real Envoy: /model/info,
/v1/model/info and /model_group/info answer from the config and the price
table with LiteLLM's fields, filter by ?litellm_model_id= and ?model_group=,
show a virtual key only the groups it may call, need a key, and never show a
credential: OpenAI, AWS and Vertex AI secrets are configured and looked for
in every answer.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

import json

import httpx
import pytest

from conftest import MASTER_KEY
from test_routing import fleet  # noqa: F401  (fleet is a fixture)

OPENAI_KEY = "sk-e2e-info-openai-7d1c"
AWS_KEY_ID = "AKIAE2EINFOKEY4R8T"
AWS_SECRET = "e2e-info-aws-secret/9Zq+Lm2"
AWS_SESSION = "e2e-info-session-token-6b3a"
VERTEX_KEY_ID = "e2e-vertex-key-id-0f4e"
VERTEX_PRIVATE = "e2e-vertex-private-material-3a7f"


def vertex_key(token_port):
    """A service account key whose private key is a placeholder and whose
    token endpoint is on loopback (nothing asks it for a token here)."""
    return json.dumps({
        "type": "service_account", "project_id": "e2e-info-project", "private_key_id": VERTEX_KEY_ID,
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{VERTEX_PRIVATE}\n-----END PRIVATE KEY-----\n",
        "client_email": "info@e2e-info-project.iam.gserviceaccount.com",
        "token_uri": f"http://127.0.0.1:{token_port}/token",
    })


def info_config(mock):
    base = f"http://127.0.0.1:{mock.port}"
    return f"""
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: {base}/v1
      api_key: {OPENAI_KEY}
      rpm: 60
      tpm: 6000
    model_info:
      id: dep-openai
      description: the default chat model
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {base}/v1
      api_key: {OPENAI_KEY}
      rpm: 40
    model_info:
      id: dep-openai-mini
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      api_base: {base}
      aws_access_key_id: {AWS_KEY_ID}
      aws_secret_access_key: {AWS_SECRET}
      aws_session_token: {AWS_SESSION}
      aws_region_name: us-east-1
    model_info:
      id: dep-bedrock
  - model_name: gemini
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      api_base: {base}
      vertex_location: europe-west4
      vertex_credentials: '{vertex_key(mock.port)}'
    model_info:
      id: dep-vertex
router_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER_KEY}
"""


SECRETS = [OPENAI_KEY, AWS_KEY_ID, AWS_SECRET, AWS_SESSION, VERTEX_KEY_ID, VERTEX_PRIVATE, "PRIVATE KEY", MASTER_KEY]


@pytest.fixture
def gateway_root(fleet):
    """An httpx client on the gateway's root, sending no key by itself."""
    client = fleet.gateway(info_config(fleet.mock("m")))
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    with httpx.Client(base_url=root, timeout=30) as c:
        yield c


def get(c, path, key=MASTER_KEY, status=200):
    r = c.get(path, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    for s in SECRETS:
        assert s not in r.text, f"{path} shows a secret"
    return r.json()


def test_model_info_lists_deployments_without_credentials(gateway_root):
    data = get(gateway_root, "/model/info")["data"]
    assert [d["model_info"]["id"] for d in data] == ["dep-openai", "dep-openai-mini", "dep-bedrock", "dep-vertex"]
    openai_dep, _, bedrock, vertex = data

    assert openai_dep["model_name"] == "gpt-4o"
    params = openai_dep["litellm_params"]
    assert params["model"] == "openai/gpt-4o-2024-08-06"
    assert params["rpm"] == 60 and params["tpm"] == 6000
    assert "api_key" not in params
    info = openai_dep["model_info"]
    assert info["db_model"] is False
    assert info["description"] == "the default chat model"
    assert info["key"] == "gpt-4o"  # the dated snapshot is priced as its model
    assert info["input_cost_per_token"] == pytest.approx(2.5e-06)
    assert info["output_cost_per_token"] == pytest.approx(1e-05)
    assert info["max_input_tokens"] == 128000 and info["max_tokens"] == 16384
    assert info["mode"] == "chat"
    assert info["supports_vision"] is True and info["supports_function_calling"] is True

    assert set(bedrock["litellm_params"]) == {"model", "api_base", "aws_region_name"}
    assert bedrock["model_info"]["input_cost_per_token"] == pytest.approx(2.5e-07)
    assert set(vertex["litellm_params"]) == {"model", "api_base", "vertex_project", "vertex_location"}
    assert vertex["litellm_params"]["vertex_project"] == "e2e-info-project"
    assert vertex["model_info"]["max_input_tokens"] == 1048576

    # LiteLLM's /v1/ spelling is the same endpoint.
    assert get(gateway_root, "/v1/model/info") == {"data": data}


def test_model_info_by_id(gateway_root):
    data = get(gateway_root, "/model/info?litellm_model_id=dep-bedrock")["data"]
    assert [d["model_info"]["id"] for d in data] == ["dep-bedrock"]
    assert get(gateway_root, "/v1/model/info?litellm_model_id=dep-vertex")["data"][0]["model_name"] == "gemini"
    err = get(gateway_root, "/model/info?litellm_model_id=nope", status=404)["error"]
    assert "nope" in err["message"]


def test_model_group_info(gateway_root):
    data = get(gateway_root, "/model_group/info")["data"]
    assert [g["model_group"] for g in data] == ["gpt-4o", "claude", "gemini"]
    gpt = data[0]
    assert gpt["providers"] == ["openai"]
    # The dearest deployment's prices and the largest limits; rpm and tpm
    # summed over the deployments that set them.
    assert gpt["input_cost_per_token"] == pytest.approx(2.5e-06)
    assert gpt["output_cost_per_token"] == pytest.approx(1e-05)
    assert gpt["max_input_tokens"] == 128000 and gpt["max_output_tokens"] == 16384
    assert gpt["rpm"] == 100 and gpt["tpm"] == 6000
    assert gpt["mode"] == "chat"
    assert gpt["supports_vision"] is True and gpt["supports_function_calling"] is True
    assert gpt["deployments"] == ["dep-openai", "dep-openai-mini"]
    assert data[1]["providers"] == ["bedrock"] and data[1]["rpm"] is None
    assert data[2]["providers"] == ["vertex_ai"]

    assert get(gateway_root, "/model_group/info?model_group=gemini")["data"] == [data[2]]
    assert get(gateway_root, "/model_group/info?model_group=nope")["data"] == []


def test_info_needs_a_key(gateway_root):
    for path in ["/model/info", "/v1/model/info", "/model_group/info", "/model/info?litellm_model_id=dep-openai"]:
        r = gateway_root.get(path)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["type"] == "auth_error"
        r = gateway_root.get(path, headers={"authorization": "Bearer sk-wrong"})
        assert r.status_code == 401, r.text
        for s in SECRETS:
            assert s not in r.text


def test_virtual_key_sees_only_its_groups(gateway_root):
    r = gateway_root.post("/key/generate", json={"models": ["claude"]},
                          headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200, r.text
    key = r.json()["key"]

    data = get(gateway_root, "/model/info", key=key)["data"]
    assert [d["model_info"]["id"] for d in data] == ["dep-bedrock"]
    assert [g["model_group"] for g in get(gateway_root, "/model_group/info", key=key)["data"]] == ["claude"]
    assert get(gateway_root, "/model_group/info?model_group=gpt-4o", key=key)["data"] == []
    get(gateway_root, "/model/info?litellm_model_id=dep-openai", key=key, status=404)
    assert key not in gateway_root.get("/model/info", headers={"authorization": f"Bearer {key}"}).text
