"""Gemini on Vertex AI through a real Envoy, with the official OpenAI SDK
as the client: llmvoy signs a JWT with the deployment's service account key,
exchanges it for an access token at the key's token_uri, and sends
generateContent / streamGenerateContent (and :predict for embeddings) under
the deployment's project and location with that token. The mock is Google's token endpoint and Vertex
AI at once; it trusts the key pair each test run generates (no private key
is ever committed) and records what it received."""

import base64
import json
import math
import os
import secrets
import time
import urllib.request

import openai
import pytest

from conftest import LLMVOY, MASTER_KEY, Gateway, Proc, free_port, start_mock

MOCK_NAME = "mock-vertex"
PROJECT = "llmvoy-e2e"
LOCATION = "europe-west4"

# vertex-flash holds a token for an hour; vertex-short gets tokens that live
# three seconds, so the test sees them refreshed; vertex-untrusted signs with
# a key the mock does not know, so it never gets a token.
CONFIG = """
model_list:
  - model_name: vertex-flash
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_project: {project}
      vertex_location: {location}
      vertex_credentials: {key_file}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-a
  - model_name: vertex-short
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      vertex_credentials: os.environ/E2E_VERTEX_SHORT_KEY
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-short
  - model_name: vertex-embed
    litellm_params:
      model: vertex_ai/text-embedding-005
      vertex_project: {project}
      vertex_location: {location}
      vertex_credentials: {key_file}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-embed
  - model_name: vertex-gemini-embed
    litellm_params:
      model: vertex_ai/gemini-embedding-001
      vertex_project: {project}
      vertex_location: {location}
      vertex_credentials: {key_file}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-gemini-embed
  - model_name: vertex-claude
    litellm_params:
      model: vertex_ai/claude-sonnet-4@20250514
      vertex_project: {project}
      vertex_location: {location}
      vertex_credentials: {key_file}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-claude
  - model_name: vertex-untrusted
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_project: {project}
      vertex_credentials: {untrusted_file}
      api_base: http://127.0.0.1:{port}
    model_info:
      id: vertex-untrusted
router_settings:
  num_retries: 0
general_settings:
  master_key: {master}
  # The tests steer the mocks with x-mock-* headers, which a provider
  # gets only when client headers are forwarded.
  forward_client_headers_to_llm_api: true
"""


# --- a service account key pair, generated per run (stdlib only) ---

def _probable_prime(bits):
    small = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p ** 0.5) + 1, 2))]
    while True:
        n = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if any(n % p == 0 for p in small):
            continue
        d, r = n - 1, 0
        while d % 2 == 0:
            d, r = d // 2, r + 1
        for _ in range(40):
            x = pow(secrets.randbelow(n - 3) + 2, d, n)
            if x in (1, n - 1):
                continue
            for _ in range(r - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
    return b"\x02" + _der_len(len(b)) + b


def rsa_key():
    """A 2048-bit RSA key: (PKCS#1 PEM of the private key, n, e)."""
    e = 65537
    while True:
        p, q = _probable_prime(1024), _probable_prime(1024)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    n, d = p * q, pow(e, -1, phi)
    body = b"".join(_der_int(v) for v in (0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)))
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END RSA PRIVATE KEY-----\n"
    return pem, n, e


def b64url(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def service_account(mock, email, trust=True, expires_in=3600, project=PROJECT):
    """A service account key (JSON) whose token_uri is the mock's; the mock
    trusts its public key unless trust is False."""
    pem, n, e = rsa_key()
    if trust:
        body = json.dumps({"client_email": email, "expires_in": expires_in,
                           "jwk": {"kty": "RSA", "n": b64url(n), "e": b64url(e)}}).encode()
        req = urllib.request.Request(mock.base + "/mock/vertex/service-accounts", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).close()
    return json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": secrets.token_hex(20),
        "private_key": pem, "client_email": email, "client_id": "1",
        "token_uri": mock.base + "/token",
    })


@pytest.fixture(scope="module")
def vertex_mock(procs, log_dir):
    return start_mock(MOCK_NAME, procs, log_dir)


@pytest.fixture(scope="module")
def vertex_gateway(procs, log_dir, vertex_mock, tmp_path_factory):
    d = tmp_path_factory.mktemp("vertex-gateway")
    key_file, untrusted_file = d / "sa.json", d / "untrusted.json"
    key_file.write_text(service_account(vertex_mock, "llmvoy-e2e@llmvoy-e2e.iam.gserviceaccount.com"))
    untrusted_file.write_text(service_account(vertex_mock, "stranger@llmvoy-e2e.iam.gserviceaccount.com", trust=False))
    short_key = service_account(vertex_mock, "short@short-project.iam.gserviceaccount.com", expires_in=3,
                                project="short-project")
    cfg = d / "config.yaml"
    cfg.write_text(CONFIG.format(port=vertex_mock.port, project=PROJECT, location=LOCATION, key_file=key_file,
                                 untrusted_file=untrusted_file, master=MASTER_KEY))
    port = free_port()
    env = dict(os.environ, E2E_VERTEX_SHORT_KEY=short_key)
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    proc = Proc("llmvoy-vertex", [str(LLMVOY), "run", "--config", str(cfg), "--host", "127.0.0.1",
                                  "--port", str(port)], log_dir, env=env)
    procs.append(proc)
    proc.wait_for("llmvoy is listening")
    return Gateway(proc, port, cfg)


@pytest.fixture
def client(vertex_gateway):
    return openai.OpenAI(base_url=vertex_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name.lower():
            return v[0]
    return None


def model_requests(mock, model):
    return [r for r in mock.requests() if f"/models/{model}:" in r["path"]]


def token_requests(mock):
    return [r for r in mock.requests() if r["path"] == "/token"]


def test_chat_completion(client, vertex_mock):
    vertex_mock.reset()
    raw = client.chat.completions.with_raw_response.create(
        model="vertex-flash",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello vertex"}],
        temperature=0.3, max_tokens=200)
    completion = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "vertex-a"
    assert completion.object == "chat.completion"
    assert completion.model == "gemini-2.0-flash"
    assert completion.choices[0].message.content == f"Hello from mock {MOCK_NAME}! You said: hello vertex"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    [req] = model_requests(vertex_mock, "gemini-2.0-flash")
    assert req["path"] == f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.0-flash:generateContent"
    auth = header(req, "authorization")
    assert auth.startswith("Bearer ya29.mock-")
    assert MASTER_KEY not in json.dumps(req["header"])
    assert header(req, "x-goog-api-key") is None
    body = req["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hello vertex"}]}]
    assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 200}

    # The token is cached: a second call asks Google for no new one.
    before = len(token_requests(vertex_mock))
    client.chat.completions.create(model="vertex-flash", messages=[{"role": "user", "content": "again"}])
    assert len(token_requests(vertex_mock)) == before
    assert header(model_requests(vertex_mock, "gemini-2.0-flash")[-1], "authorization") == auth


def test_streaming(client, vertex_mock):
    vertex_mock.reset()
    stream = client.chat.completions.create(
        model="vertex-flash", messages=[{"role": "user", "content": "stream from vertex"}],
        stream=True, stream_options={"include_usage": True}, extra_headers={"x-mock-chunks": "4"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Hello from mock {MOCK_NAME}! You said: stream from vertex"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    [req] = model_requests(vertex_mock, "gemini-2.0-flash")
    assert req["path"].endswith(":streamGenerateContent")
    assert req["query"] == "alt=sse"
    assert header(req, "authorization").startswith("Bearer ya29.mock-")


def test_token_is_refreshed_before_it_expires(client, vertex_mock):
    vertex_mock.reset()
    seen = set()
    deadline = time.time() + 8
    while time.time() < deadline:
        c = client.chat.completions.create(model="vertex-short", messages=[{"role": "user", "content": "tick"}])
        assert c.choices[0].message.content.endswith("You said: tick")
        seen.add(header(model_requests(vertex_mock, "gemini-2.5-flash")[-1], "authorization"))
        time.sleep(0.25)
    # Three-second tokens over eight seconds: refreshed, and never sent
    # expired (the mock refuses expired tokens with a 401, which would
    # have failed a call above).
    assert len(seen) >= 3, seen
    [req] = model_requests(vertex_mock, "gemini-2.5-flash")[:1]
    assert "/projects/short-project/locations/us-central1/" in req["path"], "the project of the key"
    # Far fewer token requests than calls: one per token.
    assert len(token_requests(vertex_mock)) <= len(seen) + 1


def test_token_failure_is_a_clear_503(client, vertex_mock, vertex_gateway):
    vertex_mock.reset()
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="vertex-untrusted", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 503
    msg = e.value.body["message"] if isinstance(e.value.body, dict) else str(e.value)
    assert "vertex-untrusted" in msg and "access token" in msg
    assert "PRIVATE KEY" not in msg
    assert not model_requests(vertex_mock, "gemini-2.0-flash"), "nothing is sent without a token"
    # Logged once for a run of failures, however many requests see it.
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="vertex-untrusted", messages=[{"role": "user", "content": "x"}])
    log = vertex_gateway.proc.output()
    assert log.count("vertex ai access token") == 1, log
    assert "PRIVATE KEY" not in log


def tokens(text):
    # The mock's token_count: four characters a token, at least one.
    return max(1, (len(text) + 3) // 4)


def test_embeddings(client, vertex_mock):
    vertex_mock.reset()
    texts = ["What is life?", "Life is a journey", "What is life?"]
    # The SDK asks for base64 unless told otherwise, and decodes it.
    raw = client.embeddings.with_raw_response.create(model="vertex-embed", input=texts, dimensions=64)
    result = raw.parse()
    assert raw.headers["x-llmvoy-model-id"] == "vertex-embed"
    assert result.model == "text-embedding-005"
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(len(v) == 64 and abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1], "one embedding per input, in order"
    # Usage is the sum of Vertex AI's statistics.token_count.
    assert result.usage.prompt_tokens == sum(tokens(t) for t in texts)
    assert result.usage.total_tokens == result.usage.prompt_tokens

    [req] = model_requests(vertex_mock, "text-embedding-005")
    assert req["path"] == f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/text-embedding-005:predict"
    assert header(req, "authorization").startswith("Bearer ya29.mock-")
    assert MASTER_KEY not in json.dumps(req["header"])
    assert req["body"] == {"instances": [{"content": t} for t in texts], "parameters": {"outputDimensionality": 64}}

    # LiteLLM's input_type (or Vertex's task_type) and title go on each instance.
    floats = client.embeddings.create(model="vertex-embed", input="a document", encoding_format="float",
                                      extra_body={"input_type": "RETRIEVAL_DOCUMENT", "title": "Doc"})
    assert len(floats.data[0].embedding) == 768
    assert model_requests(vertex_mock, "text-embedding-005")[-1]["body"] == {
        "instances": [{"content": "a document", "task_type": "RETRIEVAL_DOCUMENT", "title": "Doc"}]}


def test_gemini_embedding_takes_one_input(client, vertex_mock):
    vertex_mock.reset()
    result = client.embeddings.create(model="vertex-gemini-embed", input="one text")
    assert len(result.data) == 1 and len(result.data[0].embedding) == 3072
    assert result.usage.prompt_tokens == tokens("one text")
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="vertex-gemini-embed", input=["a", "b"])
    assert "one text per request" in e.value.message
    assert len(model_requests(vertex_mock, "gemini-embedding-001")) == 1, "nothing is sent for a refused request"


def test_embeddings_errors(client):
    # Vertex AI's own refusal keeps its message.
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="vertex-embed", input="x", dimensions=769)
    assert "Output dimensionality must be between 1 and 768." in e.value.message
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="vertex-embed", input="x", extra_headers={"x-mock-status": "429"})


def test_claude_on_vertex(client, vertex_mock):
    """vertex_ai/claude-*: Anthropic's Messages API under the anthropic
    publisher, the model in the path and Vertex's anthropic_version in the
    body, with the same Google token as Gemini; one answer by :rawPredict,
    a stream by :streamRawPredict, both back in OpenAI's shape."""
    r = client.chat.completions.create(model="vertex-claude", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content
    assert r.usage.prompt_tokens > 0
    stream = client.chat.completions.create(model="vertex-claude", messages=[{"role": "user", "content": "hi"}],
                                            stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == r.choices[0].message.content

    reqs = model_requests(vertex_mock, "claude-sonnet-4@20250514")
    base = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/claude-sonnet-4@20250514"
    assert [q["path"] for q in reqs[-2:]] == [base + ":rawPredict", base + ":streamRawPredict"]
    for q in reqs[-2:]:
        assert header(q, "authorization").startswith("Bearer ya29.mock-")
        assert q["body"]["anthropic_version"] == "vertex-2023-10-16"
        assert "model" not in q["body"]
