"""Azure OpenAI (azure/) and Azure AI Foundry (azure_ai/) deployments, checked
with the official OpenAI SDK through a real Envoy: the client speaks OpenAI's
API, the mock sees Azure's (deployment in the path, api-version, api-key), and
Azure's content-filter errors come back as OpenAI's content_policy_violation."""

import json
import os
import time

import httpx
import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

AZURE_KEY = "az-key-eu-0123456789"
DEFAULT_API_VERSION = "2025-02-01-preview"  # LiteLLM's AZURE_DEFAULT_API_VERSION

AZURE_CONFIG = """
model_list:
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: http://127.0.0.1:{port}/
      api_key: os.environ/E2E_AZURE_API_KEY
      api_version: "2024-10-21"
    model_info:
      id: azure-eu
  # No api_version: LiteLLM's default. A trailing /openai is not doubled.
  - model_name: azure-default-version
    litellm_params:
      model: azure/gpt-4o-ca
      api_base: http://127.0.0.1:{port}/openai
      api_key: az-key-ca
    model_info:
      id: azure-ca
  - model_name: azure-embedding
    litellm_params:
      model: azure/text-embedding-3-small-dep
      api_base: http://127.0.0.1:{port}
      api_key: az-key-emb
      api_version: "2024-10-21"
    model_info:
      id: azure-emb
  # Azure's v1 API: no deployment in the path, the key as a bearer token.
  - model_name: azure-v1
    litellm_params:
      model: azure/gpt-4.1-dep
      api_base: http://127.0.0.1:{port}
      api_key: az-key-v1
      api_version: v1
    model_info:
      id: azure-v1
  # Azure AI Foundry serverless endpoint: OpenAI's wire format under the base.
  - model_name: foundry-llama
    litellm_params:
      model: azure_ai/Llama-3.3-70B-Instruct
      api_base: http://127.0.0.1:{port}/v1
      api_key: foundry-key
    model_info:
      id: foundry
general_settings:
  master_key: {master}
  # The tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""


@pytest.fixture(scope="module")
def azure_mock(procs, log_dir):
    return start_mock("mock-azure", procs, log_dir)


@pytest.fixture(scope="module")
def azure_gateway(procs, log_dir, azure_mock, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("azure-gateway") / "config.yaml"
    cfg.write_text(AZURE_CONFIG.format(port=azure_mock.port, master=MASTER_KEY))
    port = free_port()
    env = dict(os.environ, E2E_AZURE_API_KEY=AZURE_KEY)
    proc = Proc("llmvoy-azure", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                 "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


@pytest.fixture
def client(azure_gateway):
    return openai.OpenAI(base_url=azure_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


@pytest.fixture
def upstream(azure_mock):
    """The requests the mock receives during one test."""
    azure_mock.reset()
    return azure_mock


def chat(client, model="azure-gpt", **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello azure"}], **kw)


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def only_request(mock):
    reqs = mock.requests()
    assert len(reqs) == 1, reqs
    req = reqs[0]
    assert MASTER_KEY not in json.dumps(req), "the client's gateway key reached Azure"
    return req


def test_chat_completion_reaches_the_deployment_with_its_key(client, upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="azure-gpt", messages=[{"role": "user", "content": "hello azure"}])
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert "hello azure" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert raw.headers["x-llmvoy-model-id"] == "azure-eu"

    req = only_request(upstream)
    assert req["path"] == "/openai/deployments/gpt-4o-eu/chat/completions"
    assert req["query"] == "api-version=2024-10-21"
    assert header(req, "api-key") == AZURE_KEY
    assert header(req, "authorization") is None, "Azure takes the key in api-key, never a bearer token"
    # LiteLLM sends the deployment name as the model; Azure ignores it.
    assert req["body"]["model"] == "gpt-4o-eu"


def test_default_api_version_and_trailing_openai(client, upstream):
    chat(client, model="azure-default-version")
    req = only_request(upstream)
    assert req["path"] == "/openai/deployments/gpt-4o-ca/chat/completions"
    assert req["query"] == f"api-version={DEFAULT_API_VERSION}"
    assert header(req, "api-key") == "az-key-ca"


def test_streaming_chunks_arrive_as_sent(client, upstream):
    start = time.monotonic()
    stream = chat(client, stream=True, stream_options={"include_usage": True},
                  extra_headers={"x-mock-chunks": "6", "x-mock-chunk-delay-ms": "300"})
    arrivals, text, usage, finish = [], "", None, None
    for chunk in stream:
        arrivals.append(time.monotonic() - start)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        if chunk.usage:
            usage = chunk.usage
    assert "hello azure" in text
    assert finish == "stop"
    assert usage is not None and usage.total_tokens > 0
    assert arrivals[-1] >= 1.4
    assert arrivals[0] < arrivals[-1] - 1.0, "the stream was buffered"

    req = only_request(upstream)
    assert req["path"] == "/openai/deployments/gpt-4o-eu/chat/completions"
    assert req["body"]["stream"] is True


def test_embeddings(client, upstream):
    out = client.embeddings.create(model="azure-embedding", input=["one", "two"])
    assert [d.index for d in out.data] == [0, 1]
    assert len(out.data[0].embedding) > 0
    req = only_request(upstream)
    assert req["path"] == "/openai/deployments/text-embedding-3-small-dep/embeddings"
    assert req["query"] == "api-version=2024-10-21"
    assert header(req, "api-key") == "az-key-emb"
    assert req["body"]["model"] == "text-embedding-3-small-dep"


def test_content_filter_error_is_openai_content_policy_violation(client, upstream):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, extra_headers={"x-mock-content-filter": "1"})
    err = exc.value
    assert err.status_code == 400
    assert err.code == "content_policy_violation"
    assert err.type == "invalid_request_error"
    assert err.param == "prompt"
    assert "content management policy" in err.message
    body = err.response.json()["error"]
    assert body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert body["innererror"]["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}
    only_request(upstream)


def test_content_filter_error_on_a_streaming_request(client, upstream):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, stream=True, extra_headers={"x-mock-content-filter": "prompt"})
    assert exc.value.code == "content_policy_violation"


def test_filtered_completion_passes_through(client, upstream):
    completion = chat(client, extra_headers={"x-mock-content-filter": "completion"})
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content is None

    finishes = [c.choices[0].finish_reason for c in chat(client, stream=True, extra_headers={"x-mock-content-filter": "completion"})
                if c.choices]
    assert finishes[-1] == "content_filter"


def test_other_errors_pass_through(client, upstream):
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, extra_headers={"x-mock-status": "400"})
    assert exc.value.code is None
    assert exc.value.response.json()["error"]["message"] == "Invalid request (injected by llmvoy mock)."


def test_v1_api(client, upstream):
    completion = chat(client, model="azure-v1")
    assert "hello azure" in completion.choices[0].message.content
    req = only_request(upstream)
    assert req["path"] == "/openai/v1/chat/completions"
    assert req.get("query", "") == ""
    assert header(req, "authorization") == "Bearer az-key-v1"
    assert header(req, "api-key") is None
    assert req["body"]["model"] == "gpt-4.1-dep"


def test_client_key_in_azure_style_headers_is_not_forwarded(azure_gateway, upstream):
    # An AzureOpenAI-style client puts its key in api-key; the deployment's
    # own key must replace it.
    r = httpx.post(azure_gateway.base_url + "/chat/completions",
                   headers={"api-key": MASTER_KEY, "x-api-key": MASTER_KEY},
                   json={"model": "azure-gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    req = only_request(upstream)
    assert header(req, "api-key") == AZURE_KEY
    assert header(req, "x-api-key") is None


def test_azure_ai_foundry_serverless(client, upstream):
    completion = chat(client, model="foundry-llama")
    assert "hello azure" in completion.choices[0].message.content
    req = only_request(upstream)
    assert req["path"] == "/v1/chat/completions"
    assert header(req, "authorization") == "Bearer foundry-key"
    assert header(req, "api-key") is None
    assert req["body"]["model"] == "Llama-3.3-70B-Instruct"


def test_health_probes_azure_deployments(azure_gateway, upstream):
    r = httpx.get(azure_gateway.root + "/health", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 200
    report = r.json()
    assert report["unhealthy_count"] == 0, report["unhealthy"]
    assert report["healthy_count"] == 5
    assert AZURE_KEY not in r.text and "foundry-key" not in r.text
    probes = {(req["path"], req.get("query", "")) for req in upstream.requests()}
    assert ("/openai/models", "api-version=2024-10-21") in probes
    assert ("/openai/models", f"api-version={DEFAULT_API_VERSION}") in probes
    assert ("/openai/v1/models", "") in probes
