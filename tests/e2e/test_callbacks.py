"""LiteLLM's logging callbacks through a real Envoy: `otel` spans received by an
OTLP/HTTP receiver (protobuf and JSON, decoded with opentelemetry-proto) with the GenAI
attributes, a child span per attempt and the client's trace id; `langfuse`
ingestion batches with basic auth, usage and cost; `generic_api` payloads in
LiteLLM's StandardLoggingPayload shape. Prompts and answers only with
store_prompts_in_spend_logs. The receivers are loopback HTTP servers of the
test."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from test_metrics import scrape
from test_keys import COMPLETION_COST, PROMPT_COST, admin, generate, priced, sdk
from test_routing import config, configure, fleet  # noqa: F401  (fleet is a fixture)

PUBLIC, SECRET = "pk-lf-e2e", "sk-lf-e2e-secret"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


class Receiver:
    """A loopback HTTP server recording what the callbacks POST."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []  # (path, headers, body bytes)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.posts.append((self.path, dict(self.headers), body))
                if self.path == "/v1/traces":
                    self.send_response(200)
                    self.send_header("content-type", "application/x-protobuf")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                answer = b'{"successes":[],"errors":[]}'
                self.send_response(207 if self.path.startswith("/api/public/ingestion") else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def wait(self, what, timeout=20):
        """Polls until what(self) is truthy (exports are batched, once a
        second) and returns it."""
        deadline = time.time() + timeout
        while True:
            got = what(self)
            if got or time.time() > deadline:
                return got
            time.sleep(0.2)

    def bodies(self, path):
        with self.lock:
            return [(h, b) for p, h, b in self.posts if p == path]

    def spans(self):
        out = []
        for headers, body in self.bodies("/v1/traces"):
            req = trace_service_pb2.ExportTraceServiceRequest()
            if headers.get("Content-Type") == "application/json":
                json_format.Parse(json.dumps(otlp_json_ids(json.loads(body))), req)
            else:
                req.ParseFromString(body)
            for rs in req.resource_spans:
                service = {a.key: a.value.string_value for a in rs.resource.attributes}.get("service.name")
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append((service, s))
        return out

    def langfuse_events(self):
        return [(h, e) for h, b in self.bodies("/api/public/ingestion") for e in json.loads(b)["batch"]]

    def webhook(self):
        return [(h, p) for h, b in self.bodies("/webhook") for p in json.loads(b)]


def otlp_json_ids(d):
    """OTLP/JSON writes trace and span ids in hex where protobuf's JSON
    mapping has base64: converted, the rest must parse as it is."""
    for rs in d["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in s:
                        s[k] = base64.b64encode(bytes.fromhex(s[k])).decode()
    return d


def attrs(span):
    out = {}
    for a in span.attributes:
        v = a.value
        out[a.key] = {"string_value": v.string_value, "int_value": v.int_value, "double_value": v.double_value,
                      "bool_value": v.bool_value}[v.WhichOneof("value")]
    return out


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def start(fleet, receiver, otel=None, extra=""):
    mock = fleet.mock("m")
    cfg = config(priced("gpt-4o", "dep-a", mock))
    cfg += "litellm_settings:\n  callbacks: [\"otel\", \"prometheus\"]\n  success_callback: [\"langfuse\", \"generic_api\"]\n"
    cfg += "  failure_callback: [\"langfuse\", \"generic_api\"]\n" + extra
    env = dict(otel or {"OTEL_EXPORTER": "otlp_http", "OTEL_ENDPOINT": receiver.base})
    env.update({
        "OTEL_SERVICE_NAME": "llmvoy-e2e",
        "LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET, "LANGFUSE_HOST": receiver.base,
        "GENERIC_LOGGER_ENDPOINT": receiver.base + "/webhook", "GENERIC_LOGGER_HEADERS": "Authorization=Bearer%20hook-token",
        "E2E_AUDIT_TOKEN": "audit-token",
    })
    client = fleet.gateway(cfg, env=env)
    return mock, client


def test_a_request_reaches_every_callback(fleet, receiver):
    mock, client = start(fleet, receiver)
    assert "not supported" not in fleet.llmvoy.output(), "prometheus and the three callbacks load without warnings"
    c = httpx.Client(base_url=str(client.base_url).rstrip("/").removesuffix("/v1"), timeout=30)
    k = generate(c, key_alias="team-a")
    r = sdk(c, k["key"]).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "secret prompt"}],
        extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"})
    answer = r.parse()
    call_id = r.headers["x-litellm-call-id"]
    usage = answer.usage
    cost = usage.prompt_tokens * PROMPT_COST + usage.completion_tokens * COMPLETION_COST

    # OpenTelemetry: the request's span, a child of the client's, and its attempt's.
    spans = receiver.wait(lambda r: [s for s in r.spans() if s[1].name == "chat gpt-4o"])
    assert len(spans) == 1, receiver.spans()
    service, span = spans[0]
    assert service == "llmvoy-e2e"
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT_SPAN
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.response.model"] == "dep-a-model"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert a["llmvoy.deployment_id"] == "dep-a" and a["llmvoy.model_group"] == "gpt-4o"
    assert a["llmvoy.response_cost"] == pytest.approx(cost)
    assert a["llmvoy.request_id"] == call_id and a["llmvoy.key_alias"] == "team-a"
    assert a["http.response.status_code"] == 200
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a, "message logging is off"
    children = [s for _, s in receiver.spans() if s.parent_span_id == span.span_id]
    assert [s.name for s in children] == ["attempt dep-a"]
    assert children[0].trace_id.hex() == TRACE_ID
    assert span.start_time_unix_nano <= children[0].start_time_unix_nano <= children[0].end_time_unix_nano <= span.end_time_unix_nano

    # Langfuse: a trace and a generation, basic auth with the project's keys.
    events = receiver.wait(lambda r: [e for e in r.langfuse_events() if e[1]["body"].get("traceId", e[1]["body"]["id"]) == call_id])
    assert sorted(e["type"] for _, e in events) == ["generation-create", "trace-create"]
    headers = events[0][0]
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    gen = next(e["body"] for _, e in events if e["type"] == "generation-create")
    assert gen["traceId"] == call_id and gen["model"] == "dep-a-model" and gen["level"] == "DEFAULT"
    assert gen["usage"] == {"input": usage.prompt_tokens, "output": usage.completion_tokens,
                            "total": usage.total_tokens, "unit": "TOKENS"}
    assert gen["costDetails"]["total"] == pytest.approx(cost)
    assert gen["metadata"]["user_api_key_alias"] == "team-a" and gen["metadata"]["model_group"] == "gpt-4o"
    assert gen["startTime"] <= gen["endTime"]
    assert "input" not in gen and "output" not in gen, "message logging is off"

    # The webhook: LiteLLM's standard logging payload.
    payloads = receiver.wait(lambda r: [p for p in r.webhook() if p[1]["id"] == call_id])
    assert len(payloads) == 1
    headers, p = payloads[0]
    assert headers["Authorization"] == "Bearer hook-token"
    assert p["status"] == "success" and p["call_type"] == "acompletion" and p["model_group"] == "gpt-4o"
    assert p["model_id"] == "dep-a" and p["custom_llm_provider"] == "openai"
    assert p["prompt_tokens"] == usage.prompt_tokens and p["completion_tokens"] == usage.completion_tokens
    assert p["total_tokens"] == usage.total_tokens and p["response_cost"] == pytest.approx(cost)
    assert p["metadata"]["user_api_key_alias"] == "team-a" and p["metadata"]["user_api_key_hash"] == k["token"]
    assert p["startTime"] <= p["completionStartTime"] <= p["endTime"] and p["error_str"] is None
    assert p["messages"] is None and p["response"] is None
    assert "secret prompt" not in json.dumps(receiver.posts, default=str), "no prompt anywhere"

    # A failed request goes to the failure callbacks (and otel's, which is both).
    configure(mock, status=500)
    r = c.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
               headers={"authorization": f"Bearer {k['key']}"})
    assert r.status_code >= 500
    failed_id = r.headers["x-litellm-call-id"]
    failed = receiver.wait(lambda r: [p for _, p in r.webhook() if p["id"] == failed_id])
    assert failed and failed[0]["status"] == "failure" and failed[0]["error_str"]
    spans = receiver.wait(lambda r: [s for _, s in r.spans() if attrs(s).get("llmvoy.request_id") == failed_id])
    assert spans and spans[0].status.code == 2  # STATUS_CODE_ERROR
    assert attrs(spans[0])["error.type"]
    fgen = receiver.wait(lambda r: [e["body"] for _, e in r.langfuse_events()
                                    if e["type"] == "generation-create" and e["body"]["traceId"] == failed_id])
    assert fgen and fgen[0]["level"] == "ERROR"
    # Nothing was dropped, and the metric says so for each callback.
    series = scrape(client)
    assert {ls["callback"] for n, ls, v in series if n == "llmvoy_callback_records_dropped_total" and v == 0} == \
        {"otel", "langfuse", "generic_api"}
    c.close()


def test_prompts_reach_the_callbacks_only_when_stored(fleet, receiver):
    # OpenTelemetry's standard variables this time, and OTLP/HTTP's JSON.
    # And a webhook of LiteLLM's callback_settings, enabled by being there.
    audit = ("callback_settings:\n  audit:\n    callback_type: generic_api\n"
             f"    endpoint: {receiver.base}/audit\n    headers:\n      X-Audit: os.environ/E2E_AUDIT_TOKEN\n"
             "    log_format: ndjson\n")
    _, client = start(fleet, receiver, otel={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                                             "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base}, extra=audit)
    cfg = fleet.tmp_path / "config.yaml"
    # store_prompts_in_spend_logs is the one switch for messages, as for the
    # spend logs; a reload picks it up.
    cfg.write_text(cfg.read_text().replace("general_settings:\n", "general_settings:\n  store_prompts_in_spend_logs: true\n"))
    deadline = time.time() + 20
    while "config reloaded" not in fleet.llmvoy.output() and time.time() < deadline:
        time.sleep(0.2)
    r = client.post("/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "stored prompt"}]})
    assert r.status_code == 200
    call_id = r.headers["x-litellm-call-id"]
    spans = receiver.wait(lambda r: [s for _, s in r.spans() if attrs(s).get("llmvoy.request_id") == call_id])
    assert receiver.bodies("/v1/traces")[0][0]["Content-Type"] == "application/json"
    a = attrs(spans[0])
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.response.model"] == "dep-a-model"
    assert json.loads(a["gen_ai.input.messages"]) == [{"role": "user", "content": "stored prompt"}]
    assert json.loads(a["gen_ai.output.messages"])[0]["message"]["role"] == "assistant"
    gen = receiver.wait(lambda r: [e["body"] for _, e in r.langfuse_events()
                                   if e["type"] == "generation-create" and e["body"]["traceId"] == call_id])
    assert gen[0]["input"] == [{"role": "user", "content": "stored prompt"}]
    assert gen[0]["output"][0]["message"]["role"] == "assistant"
    p = receiver.wait(lambda r: [p for _, p in r.webhook() if p["id"] == call_id])
    assert p[0]["messages"] == [{"role": "user", "content": "stored prompt"}]
    assert p[0]["response"]["choices"][0]["message"]["role"] == "assistant"
    # The master key's request: no key in the records.
    assert p[0]["metadata"]["user_api_key_hash"] is None
    audited = receiver.wait(lambda r: [(h, json.loads(line)) for h, b in r.bodies("/audit")
                                       for line in b.decode().splitlines() if json.loads(line)["id"] == call_id])
    assert audited, receiver.bodies("/audit")
    headers, record = audited[0]
    assert headers["X-Audit"] == "audit-token" and headers["Content-Type"] == "application/x-ndjson"
    assert record["model_group"] == "gpt-4o" and record["messages"] == [{"role": "user", "content": "stored prompt"}]

    # A stream whose client asked for no usage: read, priced, recorded.
    with client.stream("POST", "/chat/completions", json={"model": "gpt-4o", "stream": True,
                                                          "messages": [{"role": "user", "content": "a stream"}]}) as r:
        assert r.status_code == 200
        events = [line for line in r.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
        stream_id = r.headers["x-litellm-call-id"]
    assert all(json.loads(e[len("data: "):]).get("usage") is None for e in events), "no usage chunk the client did not ask for"
    p = receiver.wait(lambda r: [p for _, p in r.webhook() if p["id"] == stream_id])
    assert p[0]["stream"] is True and p[0]["prompt_tokens"] > 0 and p[0]["completion_tokens"] > 0
    assert p[0]["response_cost"] > 0 and p[0]["startTime"] < p[0]["completionStartTime"] <= p[0]["endTime"]


def test_a_cache_hit_is_recorded_as_one(fleet, receiver):
    mock = fleet.mock("m")
    cfg = config(priced("gpt-4o", "dep-a", mock))
    cfg += "litellm_settings:\n  success_callback: [\"generic_api\"]\n  cache: true\n  cache_params:\n    type: local\n"
    client = fleet.gateway(cfg, env={"GENERIC_LOGGER_ENDPOINT": receiver.base + "/webhook"})
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "cache me"}]}
    first = client.post("/chat/completions", json=body)
    assert first.status_code == 200
    # The answer is written to the cache in the background.
    deadline = time.time() + 10
    while True:
        second = client.post("/chat/completions", json=body)
        assert second.status_code == 200
        if not second.headers.get("x-llmvoy-model-id") or time.time() > deadline:
            break
        time.sleep(0.1)
    ids = first.headers["x-litellm-call-id"], second.headers["x-litellm-call-id"]
    got = receiver.wait(lambda r: len([p for _, p in r.webhook() if p["id"] in ids]) == 2 and r.webhook())
    by_id = {p["id"]: p for _, p in got}
    miss, hit = by_id[ids[0]], by_id[ids[1]]
    assert miss["cache_hit"] is False and miss["model_id"] == "dep-a" and miss["response_cost"] > 0
    assert hit["cache_hit"] is True and hit["model_group"] == "gpt-4o" and hit["status"] == "success"
    assert hit["response_cost"] == 0 and hit["model_id"] == ""
