"""The configs and the requests of the differential suite, as data. A case
is one request on one config plus the differences docs/compat.md lists for
it; test_compat.py sends it to LiteLLM and to llmvoy and compares."""

import dataclasses
import re

from harness import MASTER_KEY

# LiteLLM's documented configs, pointed at the mocks: the Getting Started
# tutorial's Azure deployment (api_base and api_key from the environment),
# the Config.yaml page's vLLM model on an OpenAI-compatible server, and the
# wildcard page's catch-all route with the provider's key from the
# environment. {azure}, {openai}... are the mocks' ports.
DOCUMENTED = """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/my_azure_deployment
      api_base: os.environ/AZURE_API_BASE
      api_key: "os.environ/AZURE_API_KEY"
      api_version: "2025-01-01-preview"
  - model_name: vllm-models
    litellm_params:
      model: openai/facebook/opt-125m
      api_base: http://127.0.0.1:{openai}/v1
      api_key: none
  - model_name: "*"
    litellm_params:
      model: "openai/*"
      api_base: http://127.0.0.1:{openai}/v1
      api_key: os.environ/OPENAI_API_KEY
litellm_settings:
  drop_params: True
general_settings:
  master_key: {master}
"""

# A realistic multi-provider config: OpenAI, Azure and Anthropic groups,
# embeddings, images and moderations, failing deployments of each kind, a
# fallback chain, a provider wildcard, and LiteLLM's drill knobs allowed.
MULTI = """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:{openai}/v1
      api_key: sk-openai-file
  - model_name: azure-gpt-4o
    litellm_params:
      model: azure/gpt-4o-prod
      api_base: http://127.0.0.1:{azure}
      api_key: sk-azure-file
      api_version: "2024-10-21"
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:{anthropic}
      api_key: os.environ/COMPAT_ANTHROPIC_KEY
  - model_name: "anthropic/*"
    litellm_params:
      model: "anthropic/*"
      api_base: http://127.0.0.1:{anthropic}
      api_key: os.environ/COMPAT_ANTHROPIC_KEY
  - model_name: "claude-*"
    litellm_params:
      model: "anthropic/claude-*"
      api_base: http://127.0.0.1:{anthropic}
      api_key: os.environ/COMPAT_ANTHROPIC_KEY
  - model_name: azure-embedding
    litellm_params:
      model: azure/text-embedding-3-small-prod
      api_base: http://127.0.0.1:{azure}
      api_key: sk-azure-file
      api_version: "2024-10-21"
  - model_name: text-embedding-3-small
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: http://127.0.0.1:{openai}/v1
      api_key: sk-openai-file
  - model_name: dall-e-3
    litellm_params:
      model: openai/dall-e-3
      api_base: http://127.0.0.1:{openai}/v1
      api_key: sk-openai-file
  - model_name: omni-moderation-latest
    litellm_params:
      model: openai/omni-moderation-latest
      api_base: http://127.0.0.1:{openai}/v1
      api_key: sk-openai-file
  - model_name: tts-1
    litellm_params:
      model: openai/tts-1
      api_base: http://127.0.0.1:{openai}/v1
      api_key: sk-openai-file
  # Deployments that fail, each in its own way.
  - {{model_name: flaky, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{down}/v1", api_key: sk-openai-file}}}}
  - {{model_name: strict, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{rejects}/v1", api_key: sk-openai-file}}}}
  - {{model_name: behind-html-proxy, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{html}/v1", api_key: sk-openai-file}}}}
  - {{model_name: slow, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{slow}/v1", api_key: sk-openai-file, timeout: 1}}}}
  - {{model_name: unreachable, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{refused}/v1", api_key: sk-openai-file}}}}
  - {{model_name: primary, litellm_params: {{model: openai/gpt-4o, api_base: "http://127.0.0.1:{down}/v1", api_key: sk-openai-file}}}}
  - model_name: backup
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{backup}/v1
      api_key: sk-backup-file
router_settings:
  fallbacks: [{{"primary": ["backup"]}}]
general_settings:
  master_key: {master}
  dangerously_allow_mock_testing_request_params: true
"""

CONFIGS = {"documented": DOCUMENTED, "multi": MULTI}

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
HI = [{"role": "user", "content": "hi"}]


@dataclasses.dataclass
class Request:
    method: str
    path: str
    json: dict = None
    headers: dict = dataclasses.field(default_factory=lambda: dict(AUTH))


def chat(model, headers=None, **extra):
    return Request("POST", "/v1/chat/completions", dict(model=model, messages=HI, **extra),
                   AUTH if headers is None else headers)


ANY = re.compile(r".*", re.S)


@dataclasses.dataclass(frozen=True)
class Known:
    """A difference docs/compat.md lists: the aspects whose names match
    aspect (a regular expression) differ with these values (a literal or
    a compiled regular expression) on each side."""
    row: str
    aspect: str
    litellm: object = ANY
    llmvoy: object = ANY

    def matches(self, aspect, litellm, llmvoy):
        def same(want, got):
            return want.fullmatch(str(got)) is not None if isinstance(want, re.Pattern) else want == got
        return re.fullmatch(self.aspect, aspect) is not None and same(self.litellm, litellm) and same(self.llmvoy, llmvoy)


def only_litellm(row, aspect):
    return Known(row, aspect, ANY, "absent")


def only_llmvoy(row, aspect):
    return Known(row, aspect, "absent", ANY)


# The headers LiteLLM adds to every answer it got from a deployment, and
# llmvoy's own x-llmvoy-model-id.
HEADERS = (
    only_litellm("cost-headers", r"header:x-litellm-(response-cost.*|key-spend)"),
    only_litellm("litellm-only-headers", r"header:x-litellm-(version|model-name|callback-duration-ms|overhead-duration-ms)"),
    Known("max-retries-header", r"header:x-litellm-max-retries", "absent", "2"),
    only_llmvoy("llmvoy-headers", r"header:x-llmvoy-\*"),
)
# LiteLLM counts attempts on the answers of its chat-like calls only.
ATTEMPTS = (only_llmvoy("attempt-headers", r"header:x-litellm-attempted-(retries|fallbacks)"),)
PROVIDER_HEADERS = (only_litellm("provider-headers", r"header:llm_provider-\*"),)
# LiteLLM rebuilds every answer through its own types: fields the provider
# did not send appear (null, zero, or LiteLLM's provider_specific_fields).
PROVIDER_FIELDS = (only_litellm("provider-specific-fields", r"(body|error)[:.].*provider_specific_fields.*"),)
REBUILT = (
    only_litellm("rebuilt-body", r"(body|stream):.*"),
    Known("rebuilt-body", r"(body|stream):.*(logprobs|refusal)", "absent", "null"),
)
STREAM = HEADERS + PROVIDER_HEADERS + REBUILT
CHAT = STREAM + PROVIDER_FIELDS
# The answer's model: the requested name in LiteLLM, the provider's in llmvoy.
MODEL = (Known("response-model", r"(body|stream)\.model"),)
# An error of the upstream: LiteLLM's headers name the timeout, llmvoy's the
# deployment; LiteLLM's code is the status as a string.
UPSTREAM_ERROR = (
    only_litellm("cost-headers", r"header:x-litellm-(response-cost|key-spend)"),
    only_litellm("error-headers", r"header:x-litellm-timeout"),
    only_llmvoy("error-headers", r"header:x-litellm-(model-group|model-id|model-api-base|response-duration-ms)"),
    Known("max-retries-header", r"header:x-litellm-max-retries", "absent", "2"),
    only_llmvoy("llmvoy-headers", r"header:x-llmvoy-\*"),
) + ATTEMPTS
ERROR_CODE = (Known("error-code", r"error\.code", re.compile(r'"\d{3}"'), "null"),)
# A refusal by the gateway itself (LiteLLM's error object has one more key).
GATEWAY_ERROR = (
    only_litellm("cost-headers", r"header:x-litellm-(response-cost|key-spend)"),
    Known("provider-specific-fields", r"error\.keys", "code,message,param,provider_specific_fields,type",
          "code,message,param,type"),
)
# /v1/models: LiteLLM expands wildcard routes into its model map's names and
# adds each model's facts.
MODELS = (
    Known("models-wildcards", r"body\.ids"),
    only_litellm("models-fields", r"body:(\.data\[\])?\.(max_input_tokens|max_output_tokens|mode)"),
    only_llmvoy("call-id-everywhere", r"header:x-litellm-call-id"),
)
STREAM_USAGE = (only_litellm("stream-usage", r"upstream\.0\.body\.stream_options"),)
STREAM_FALSE = (Known("stream-false", r"upstream\.0\.body\.stream", "false", "absent"),)
CORS = (Known("cors-origin", r"header:access-control-allow-origin", "*", "https://app.example"),)
@dataclasses.dataclass
class Case:
    id: str
    config: str
    request: Request
    known: tuple = ()  # Known differences (their rows: docs/compat.md)


CASES = [
    # The documented configs.
    Case("doc-azure-from-env", "documented", chat("gpt-4o"), CHAT + MODEL + STREAM_FALSE),
    Case("doc-vllm", "documented", chat("vllm-models"), CHAT + MODEL),
    Case("doc-wildcard", "documented", chat("gpt-4.1-nano"), CHAT),
    Case("doc-knob-not-allowed", "documented", chat("gpt-4o", mock_testing_rate_limit_error=True), GATEWAY_ERROR),
    Case("doc-models", "documented", Request("GET", "/v1/models"), MODELS),

    # Chat on each provider.
    Case("chat", "multi", chat("gpt-4o"), CHAT),
    Case("chat-stream", "multi", chat("gpt-4o", stream=True), STREAM + STREAM_USAGE),
    Case("chat-litellm-fields", "multi", chat("gpt-4o", metadata={"team": "a"}, tags=["t"], num_retries=1,
                                              caching=False, temperature=0.2), CHAT),
    Case("azure", "multi", chat("azure-gpt-4o"), CHAT + MODEL + STREAM_FALSE),
    Case("azure-stream", "multi", chat("azure-gpt-4o", stream=True), STREAM + STREAM_USAGE + MODEL),
    Case("chat-stream-usage", "multi", chat("gpt-4o", stream=True, stream_options={"include_usage": True}), STREAM),
    Case("anthropic", "multi", chat("claude-sonnet", max_tokens=50), CHAT + MODEL),
    Case("anthropic-stream", "multi", chat("claude-sonnet", max_tokens=50, stream=True),
         STREAM + MODEL),
    Case("provider-wildcard", "multi", chat("anthropic/claude-3-5-haiku-latest", max_tokens=50),
         CHAT + MODEL),
    Case("messages", "multi", Request("POST", "/v1/messages", dict(model="claude-sonnet", max_tokens=50, messages=HI),
                                      dict(AUTH, **{"anthropic-version": "2023-06-01"})),
         HEADERS + MODEL + STREAM_FALSE + (only_llmvoy("messages-api-base", r"header:x-litellm-model-api-base"),)),

    Case("messages-stream", "multi", Request("POST", "/v1/messages", dict(model="claude-sonnet", max_tokens=50, messages=HI,
                                                                         stream=True),
                                             dict(AUTH, **{"anthropic-version": "2023-06-01"})),
         HEADERS + PROVIDER_HEADERS),
    # A pattern group; the exact group claude-sonnet still wins for its name (case "anthropic").
    Case("pattern-wildcard", "multi", chat("claude-3-opus-latest", max_tokens=50), CHAT),
    Case("responses", "multi", Request("POST", "/v1/responses", dict(model="gpt-4o", input="hi")), STREAM),
    Case("messages-x-api-key", "multi", Request("POST", "/v1/messages", dict(model="claude-sonnet", max_tokens=50, messages=HI),
                                                {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}),
         HEADERS + MODEL + STREAM_FALSE + (only_llmvoy("messages-api-base", r"header:x-litellm-model-api-base"),)),
    Case("no-v1-prefix", "multi", Request("POST", "/chat/completions", dict(model="gpt-4o", messages=HI)), CHAT),
    Case("azure-sdk-path", "multi", Request("POST", "/openai/deployments/azure-gpt-4o/chat/completions?api-version=2024-10-21",
                                            dict(messages=HI), {"api-key": MASTER_KEY}), CHAT + STREAM_FALSE),
    Case("completions", "multi", Request("POST", "/v1/completions", dict(model="gpt-4o", prompt="hi")), STREAM + (
        Known("completions-to-chat", r"upstream\.0\.path", "/v1/chat/completions", "/v1/completions"),
        Known("completions-to-chat", r"upstream\.0\.body\.(messages|prompt)"))),

    # Keys.
    Case("bad-key", "multi", chat("gpt-4o", headers={"authorization": "Bearer sk-wrong"}), (
        Known("no-db-bad-key", r"status", 400, 401),
        Known("no-db-bad-key", r"error\.(code|type)", re.compile(r'"400"|"no_db_connection"'), re.compile(r'"401"|"auth_error"')),
        only_llmvoy("call-id-everywhere", r"header:x-litellm-call-id"))),
    Case("no-key", "multi", chat("gpt-4o", headers={}), (
        Known("no-key", r"status", 500, 401),
        Known("no-key", r"content-type", "text/plain", "application/json"),
        Known("no-key", r"body", "not json", "absent"),
        only_llmvoy("no-key", r"error\..*"),
        only_llmvoy("call-id-everywhere", r"header:x-litellm-call-id"))),
    Case("x-litellm-api-key", "multi", chat("gpt-4o", headers={"x-litellm-api-key": f"Bearer {MASTER_KEY}"}), CHAT),

    # Errors.
    Case("unknown-model", "multi", chat("no-such-model"), (
        Known("gateway-error-code", r"error\.code", '"400"', '"model_not_found"'),
        only_litellm("cost-headers", r"header:x-litellm-(response-cost|key-spend)"))),
    Case("upstream-500", "multi", chat("flaky"), UPSTREAM_ERROR + PROVIDER_HEADERS + ERROR_CODE + (
        Known("upstream-error-type", r"error\.type", '"internal_server_error"', '"server_error"'),)),
    Case("upstream-400", "multi", chat("strict"), UPSTREAM_ERROR + PROVIDER_HEADERS + ERROR_CODE),
    Case("upstream-html", "multi", chat("behind-html-proxy"), UPSTREAM_ERROR + PROVIDER_HEADERS + (
        Known("html-error", r"content-type", "application/json", "text/html"),
        Known("html-error", r"body", "absent", "not json"),
        only_litellm("html-error", r"error\..*"))),
    Case("timeout", "multi", chat("slow"), UPSTREAM_ERROR + (
        Known("timeout-type", r"error\.type", '"invalid_request_error"', '"timeout"'),)),
    Case("refused", "multi", chat("unreachable"), UPSTREAM_ERROR),

    # Fallbacks, LiteLLM's request extras and drills.
    Case("fallbacks", "multi", chat("primary"), CHAT),
    Case("request-fallbacks", "multi", chat("flaky", fallbacks=["backup"]), CHAT),
    # mock_response without a key allowed to use it (the master key's): both
    # strip it and call the deployment.
    Case("mock-response", "multi", chat("gpt-4o", mock_response="canned"), CHAT),
    Case("mock-testing-fallbacks", "multi", chat("primary", mock_testing_fallbacks=True), CHAT),
    # No context_window_fallbacks nor content_policy_fallbacks in the
    # config: those errors take the generic chain.
    Case("mock-testing-context-fallbacks", "multi", chat("primary", mock_testing_context_fallbacks=True), CHAT),
    Case("mock-testing-content-policy-fallbacks", "multi", chat("primary", mock_testing_content_policy_fallbacks=True),
         CHAT),
    Case("mock-timeout", "multi", chat("gpt-4o", mock_timeout=True, timeout=1), (
        Known("timeout-type", r"error\.type", '"invalid_request_error"', '"timeout"'),
        only_litellm("error-headers", r"header:x-litellm-timeout"),
        only_litellm("cost-headers", r"header:x-litellm-(response-cost|key-spend)"))),
    Case("mock-testing-rate-limit", "multi", chat("gpt-4o", mock_testing_rate_limit_error=True), (
        Known("rate-limit-drill", r"status", 200, 429),
        Known("rate-limit-drill", r"upstream\.count", 1, 0),
        only_litellm("rate-limit-drill", r"body[:.].*|upstream\..*|header:.*"),
        only_llmvoy("rate-limit-drill", r"error\..*"))),

    # Other endpoints.
    Case("embeddings", "multi", Request("POST", "/v1/embeddings", dict(model="text-embedding-3-small", input="hi")),
         STREAM),
    Case("azure-embeddings", "multi", Request("POST", "/v1/embeddings", dict(model="azure-embedding", input="hi")),
         STREAM + MODEL + (Known("embeddings-base64", r"upstream\.0\.body\.encoding_format", '"base64"', "absent"),)),
    Case("images", "multi", Request("POST", "/v1/images/generations", dict(model="dall-e-3", prompt="a cat")),
         HEADERS + ATTEMPTS + REBUILT + (only_llmvoy("media-model-group", r"header:x-litellm-model-group"),)),
    Case("moderations", "multi", Request("POST", "/v1/moderations", dict(model="omni-moderation-latest", input="hi")),
         HEADERS + ATTEMPTS + REBUILT + (only_llmvoy("media-model-group", r"header:x-litellm-model-group"),)),
    Case("speech", "multi", Request("POST", "/v1/audio/speech", dict(model="tts-1", input="hi", voice="alloy")),
         HEADERS + ATTEMPTS + (only_llmvoy("media-model-group", r"header:x-litellm-model-group"),)),
    Case("models", "multi", Request("GET", "/v1/models"), MODELS),
    Case("model", "multi", Request("GET", "/v1/models/gpt-4o"), MODELS[1:]),

    # Browsers.
    Case("cors-preflight", "multi", Request("OPTIONS", "/v1/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type"}),
        CORS + (Known("cors-origin", r"content-type", "text/plain", "absent"),)),
    Case("cors-request", "multi", chat("gpt-4o", headers=dict(AUTH, origin="https://app.example")), CHAT + CORS),
]
