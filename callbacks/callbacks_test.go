package callbacks

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/router"
)

const (
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan = "00f067aa0ba902b7"
)

var start = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)

func record() Record {
	return Record{
		RequestID: "req-1", CallType: "acompletion", Path: "/v1/chat/completions",
		ModelGroup: "gpt-4o", Model: "openai/gpt-4o-2024-08-06", UpstreamModel: "gpt-4o-2024-08-06",
		Provider: "openai", API: config.APIOpenAI, ModelID: "dep-a", APIBase: "https://api.openai.com/v1",
		Status: 200, Start: start, End: start.Add(800 * time.Millisecond), FirstByte: 300 * time.Millisecond,
		Usage: true, PromptTokens: 12, CompletionTokens: 30, Cost: 0.00027,
		KeyHash: "hash-1", KeyAlias: "team-a",
		TraceParent: "00-" + traceID + "-" + parentSpan + "-01",
		Attempts: []router.Attempt{
			{RequestID: "req-1", Deployment: "dep-b", Code: 429, Start: start.Add(time.Millisecond), Duration: 100 * time.Millisecond},
			{RequestID: "req-1", Deployment: "dep-a", Code: 200, Start: start.Add(110 * time.Millisecond), Duration: 680 * time.Millisecond},
		},
	}
}

func attrMap(t *testing.T, r Record) map[string]any {
	t.Helper()
	out := make(map[string]any)
	for _, a := range spanAttributes(&r) {
		out[string(a.Key)] = a.Value.AsInterface()
	}
	return out
}

func TestSpanAttributesFollowTheGenAIConventions(t *testing.T) {
	a := attrMap(t, record())
	require.Equal(t, "chat", a["gen_ai.operation.name"])
	require.Equal(t, "openai", a["gen_ai.provider.name"])
	require.Equal(t, "gpt-4o", a["gen_ai.request.model"])
	require.Equal(t, "gpt-4o-2024-08-06", a["gen_ai.response.model"])
	require.Equal(t, int64(12), a["gen_ai.usage.input_tokens"])
	require.Equal(t, int64(30), a["gen_ai.usage.output_tokens"])
	require.Equal(t, "dep-a", a["llmvoy.deployment_id"])
	require.Equal(t, 0.00027, a["llmvoy.response_cost"])
	require.Equal(t, "team-a", a["llmvoy.key_alias"])
	require.Equal(t, int64(2), a["llmvoy.attempts"])
	require.NotContains(t, a, "error.type")
	require.NotContains(t, a, "gen_ai.input.messages", "no messages unless stored")

	r := record()
	r.API, r.Provider = config.APIBedrock, "bedrock"
	r.Status, r.Failure, r.Usage = 504, "timeout", false
	r.Messages = `{"model":"x","messages":[{"role":"user","content":"hi"}]}`
	r.Response = `{"choices":[{"message":{"role":"assistant","content":"hello"}}]}`
	a = attrMap(t, r)
	require.Equal(t, "aws.bedrock", a["gen_ai.provider.name"])
	require.Equal(t, "timeout", a["error.type"])
	require.NotContains(t, a, "gen_ai.usage.input_tokens", "no usage read: none claimed")
	require.JSONEq(t, `[{"role":"user","content":"hi"}]`, a["gen_ai.input.messages"].(string))
	require.JSONEq(t, `[{"message":{"role":"assistant","content":"hello"}}]`, a["gen_ai.output.messages"].(string))
	require.Equal(t, "embeddings", operation("aembedding"))
	require.Equal(t, "chat gpt-4o", spanName(&r))
}

// traceReceiver is an OTLP trace receiver: the collector's gRPC service,
// and its OTLP/HTTP protobuf endpoint.
type traceReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu      sync.Mutex
	spans   []*tracepb.Span
	headers []string
	got     chan struct{}
}

func newTraceReceiver() *traceReceiver { return &traceReceiver{got: make(chan struct{}, 100)} }

func (tr *traceReceiver) add(req *coltracepb.ExportTraceServiceRequest, header string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			tr.spans = append(tr.spans, ss.GetSpans()...)
		}
	}
	tr.headers = append(tr.headers, header)
	tr.got <- struct{}{}
}

func (tr *traceReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	tr.add(req, "")
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (tr *traceReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.Header.Get("Content-Type") == "application/json" {
		tr.addJSON(b, r.Header.Get("Authorization"))
		return
	}
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	tr.add(&req, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// exportOne sends record() through an exporter for c and closes it, which
// flushes.
func exportOne(t *testing.T, c config.Callbacks) {
	t.Helper()
	e, err := Open(c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	r := record()
	for _, a := range r.Attempts {
		e.Attempt(a)
	}
	r.Attempts = nil
	e.Request(r)
	e.Close()
}

func checkTrace(t *testing.T, tr *traceReceiver) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.Len(t, tr.spans, 3)
	var root *tracepb.Span
	for _, s := range tr.spans {
		require.Equal(t, traceID, hex.EncodeToString(s.GetTraceId()), "the client's trace")
		if s.GetName() == "chat gpt-4o" {
			root = s
		}
	}
	require.NotNil(t, root)
	require.Equal(t, parentSpan, hex.EncodeToString(root.GetParentSpanId()), "a child of the client's span")
	require.Equal(t, uint64(start.UnixNano()), root.GetStartTimeUnixNano())
	require.Equal(t, uint64(start.Add(800*time.Millisecond).UnixNano()), root.GetEndTimeUnixNano())
	var children []string
	for _, s := range tr.spans {
		if string(s.GetParentSpanId()) == string(root.GetSpanId()) {
			children = append(children, s.GetName())
			if s.GetName() == "attempt dep-b" {
				require.Equal(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode())
			}
		}
	}
	require.Equal(t, []string{"attempt dep-b", "attempt dep-a"}, children)
}

// addJSON reads an OTLP/JSON request: ids in hex, 64-bit integers as
// strings, enums as numbers.
func (tr *traceReceiver) addJSON(b []byte, header string) {
	var req struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID, SpanID, ParentSpanID, Name string
					StartTimeUnixNano, EndTimeUnixNano  string
					Kind                                int
					Status                              struct{ Code int }
					Attributes                          []struct {
						Key   string
						Value map[string]any
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b, &req); err != nil {
		panic(err)
	}
	out := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{}}}}}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id, _ := hex.DecodeString(s.TraceID)
				span, _ := hex.DecodeString(s.SpanID)
				parent, _ := hex.DecodeString(s.ParentSpanID)
				start, _ := strconv.ParseUint(s.StartTimeUnixNano, 10, 64)
				end, _ := strconv.ParseUint(s.EndTimeUnixNano, 10, 64)
				p := &tracepb.Span{TraceId: id, SpanId: span, ParentSpanId: parent, Name: s.Name, StartTimeUnixNano: start, EndTimeUnixNano: end,
					Kind: tracepb.Span_SpanKind(s.Kind), Status: &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status.Code)}}
				for _, a := range s.Attributes {
					if v, ok := a.Value["intValue"].(string); ok && a.Key == "gen_ai.usage.input_tokens" && v != "12" {
						panic("input tokens " + v)
					}
				}
				out.ResourceSpans[0].ScopeSpans[0].Spans = append(out.ResourceSpans[0].ScopeSpans[0].Spans, p)
			}
		}
	}
	tr.add(out, header)
}

// OTLP/HTTP, protobuf and JSON.
func TestOTelOverHTTP(t *testing.T) {
	for _, exporter := range []string{"otlp_http", "otlp_http_json"} {
		t.Run(exporter, func(t *testing.T) {
			tr := newTraceReceiver()
			srv := httptest.NewServer(tr)
			defer srv.Close()
			exportOne(t, config.Callbacks{
				On:   map[string]config.CallbackEvents{config.CallbackOTel: {Success: true}},
				OTel: config.OTelSettings{Exporter: exporter, Endpoint: srv.URL + "/v1/traces", Headers: map[string]config.Secret{"Authorization": "Bearer t"}, ServiceName: "llmvoy"},
			})
			checkTrace(t, tr)
			require.Equal(t, "Bearer t", tr.headers[0])
			for _, s := range tr.spans {
				want := tracepb.Span_SPAN_KIND_CLIENT
				if s.GetName() == "chat gpt-4o" {
					want = tracepb.Span_SPAN_KIND_SERVER
				}
				require.Equal(t, want, s.GetKind())
			}
		})
	}
}

func TestOTelOverGRPC(t *testing.T) {
	tr := newTraceReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(g, tr)
	go g.Serve(ln)
	defer g.Stop()
	exportOne(t, config.Callbacks{
		On:   map[string]config.CallbackEvents{config.CallbackOTel: {Success: true, Failure: true}},
		OTel: config.OTelSettings{Exporter: "otlp_grpc", Endpoint: "http://" + ln.Addr().String(), ServiceName: "llmvoy"},
	})
	checkTrace(t, tr)
}

func TestLangfuseEvents(t *testing.T) {
	r := record()
	ev := langfuseEvents(&r)
	require.Len(t, ev, 2)
	b, err := json.Marshal(ev[1].Body)
	require.NoError(t, err)
	require.Equal(t, "generation-create", ev[1].Type)
	require.JSONEq(t, `{
		"id": "req-1-generation", "traceId": "req-1", "name": "litellm-acompletion",
		"startTime": "2026-12-08T01:00:00.000000Z", "endTime": "2026-12-08T01:00:00.800000Z",
		"completionStartTime": "2026-12-08T01:00:00.300000Z", "model": "gpt-4o-2024-08-06",
		"usage": {"input": 12, "output": 30, "total": 42, "unit": "TOKENS"},
		"usageDetails": {"input": 12, "output": 30, "total": 42},
		"costDetails": {"total": 0.00027},
		"metadata": {"model_group": "gpt-4o", "model_id": "dep-a", "api_base": "https://api.openai.com/v1",
			"custom_llm_provider": "openai", "call_type": "acompletion", "user_api_key_hash": "hash-1", "user_api_key_alias": "team-a"},
		"level": "DEFAULT"}`, string(b))
	require.Equal(t, "trace-create", ev[0].Type)
	require.Equal(t, "req-1", ev[0].Body.(langfuseTrace).ID)

	r.Status, r.Failure = 0, "connection_failure"
	gen := langfuseEvents(&r)[1].Body.(langfuseGeneration)
	require.Equal(t, "ERROR", gen.Level)
	require.Equal(t, "connection_failure", gen.StatusMessage)
}

func TestLangfuseSinkAuthAndPartialFailure(t *testing.T) {
	var auth string
	var batch []map[string]any
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/public/ingestion", r.URL.Path)
		auth = r.Header.Get("Authorization")
		var body struct {
			Batch []map[string]any `json:"batch"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		batch = body.Batch
		w.WriteHeader(207)
		if refuse {
			io.WriteString(w, `{"successes":[],"errors":[{"id":"x","status":400,"message":"invalid"}]}`)
			return
		}
		io.WriteString(w, `{"successes":[{"id":"a","status":201}],"errors":[]}`)
	}))
	defer srv.Close()
	s := newLangfuse(config.LangfuseSettings{PublicKey: "pk-lf-1", SecretKey: "sk-lf-1", Host: srv.URL})
	require.NoError(t, s.export(context.Background(), []Record{record(), record()}))
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("pk-lf-1:sk-lf-1")), auth)
	require.Len(t, batch, 4)
	refuse = true
	err := s.export(context.Background(), []Record{record()})
	require.ErrorContains(t, err, "langfuse refused 1 of 2 events")
	require.NotContains(t, err.Error(), "sk-lf-1")
}

func TestWebhookPayload(t *testing.T) {
	var got []map[string]any
	var header string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Get("X-Token")
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
	}))
	defer srv.Close()
	s := newWebhook(config.WebhookSettings{Endpoint: srv.URL, Headers: map[string]config.Secret{"X-Token": "t"}})
	failed := record()
	failed.Status, failed.Usage, failed.PromptTokens, failed.CompletionTokens, failed.Cost = 429, false, 0, 0, 0
	require.NoError(t, s.export(context.Background(), []Record{record(), failed}))
	require.Equal(t, "t", header)
	require.Len(t, got, 2)
	p := got[0]
	require.Equal(t, "req-1", p["id"])
	require.Equal(t, "acompletion", p["call_type"])
	require.Equal(t, "success", p["status"])
	require.Equal(t, "gpt-4o-2024-08-06", p["model"])
	require.Equal(t, "gpt-4o", p["model_group"])
	require.Equal(t, "dep-a", p["model_id"])
	require.Equal(t, "https://api.openai.com/v1", p["api_base"])
	require.Equal(t, 0.00027, p["response_cost"])
	require.Equal(t, 12.0, p["prompt_tokens"])
	require.Equal(t, 30.0, p["completion_tokens"])
	require.Equal(t, 42.0, p["total_tokens"])
	require.InDelta(t, float64(start.Unix()), p["startTime"], 1e-6)
	require.InDelta(t, float64(start.Unix())+0.3, p["completionStartTime"], 1e-6)
	require.InDelta(t, float64(start.Unix())+0.8, p["endTime"], 1e-6)
	require.Nil(t, p["error_str"])
	require.Nil(t, p["messages"])
	require.Equal(t, map[string]any{"user_api_key_hash": "hash-1", "user_api_key_alias": "team-a",
		"user_api_key_request_route": "/v1/chat/completions"}, p["metadata"])
	require.Equal(t, "failure", got[1]["status"])
	require.Equal(t, "status 429", got[1]["error_str"])

	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusServiceUnavailable) })
	require.ErrorContains(t, s.export(context.Background(), []Record{record()}), "answered 503: nope")
}

// blockingSink holds every export until released.
type blockingSink struct{ release chan struct{} }

func (b blockingSink) export(ctx context.Context, _ []Record) error {
	<-b.release
	return nil
}
func (blockingSink) shutdown(context.Context) error { return nil }

func TestAFullQueueDropsAndCountsNeverBlocks(t *testing.T) {
	b := blockingSink{release: make(chan struct{})}
	q := startQueue("slow", config.CallbackEvents{Success: true}, b, time.Hour, slog.New(slog.DiscardHandler))
	e := newExporter(0, slog.New(slog.DiscardHandler))
	e.queues = []*queue{q}
	begin := time.Now()
	// Records wait in two queues (for their attempts, then the
	// callback's); the goroutine holds one batch being exported.
	held := 2*queueSize + maxBatch + 1
	n := held + 50
	for range n {
		e.Request(record())
	}
	require.Less(t, time.Since(begin), 2*time.Second, "never blocks")
	require.Eventually(t, func() bool { return e.Dropped("slow") >= uint64(n-held) }, 5*time.Second, 10*time.Millisecond)
	close(b.release)
	e.Close()

	// Failures reach failure callbacks only.
	f := &countingSink{}
	q = startQueue("f", config.CallbackEvents{Failure: true}, f, time.Hour, slog.New(slog.DiscardHandler))
	e = newExporter(0, slog.New(slog.DiscardHandler))
	e.queues = []*queue{q}
	failed := record()
	failed.Status = 500
	e.Request(record())
	e.Request(failed)
	e.Close()
	require.Equal(t, []string{"status 500"}, f.errors)
}

type countingSink struct{ errors []string }

func (c *countingSink) export(_ context.Context, batch []Record) error {
	for _, r := range batch {
		c.errors = append(c.errors, r.ErrorString())
	}
	return nil
}
func (*countingSink) shutdown(context.Context) error { return nil }

func TestPrometheusAloneNeedsNoExporter(t *testing.T) {
	e, err := Open(config.Callbacks{On: map[string]config.CallbackEvents{config.CallbackPrometheus: {Success: true}}}, slog.Default())
	require.NoError(t, err)
	require.Nil(t, e)
	e.Close() // nil-safe
}

// recordingSink keeps what it was given.
type recordingSink struct {
	mu  sync.Mutex
	got []Record
}

func (s *recordingSink) export(_ context.Context, batch []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, batch...)
	return nil
}
func (*recordingSink) shutdown(context.Context) error { return nil }

func TestAnAttemptLoggedAfterItsRequestIsKept(t *testing.T) {
	// Envoy's two logs arrive on streams of their own: the request's end
	// may come first.
	s := &recordingSink{}
	e := newExporter(100*time.Millisecond, slog.New(slog.DiscardHandler))
	e.queues = []*queue{startQueue("r", config.CallbackEvents{Success: true}, s, time.Hour, slog.New(slog.DiscardHandler))}
	r := record()
	attempts := r.Attempts
	r.Attempts = nil
	e.Request(r)
	for _, a := range attempts {
		e.Attempt(a)
	}
	e.Close()
	require.Len(t, s.got, 1)
	require.Equal(t, attempts, s.got[0].Attempts)
	e.Request(record()) // after Close: dropped, no panic
	require.Equal(t, uint64(1), e.Dropped("r"))
}

func TestWebhookLogFormats(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var types []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, types = append(bodies, string(b)), append(types, r.Header.Get("Content-Type"))
	}))
	defer srv.Close()
	two := []Record{record(), record()}
	two[1].RequestID = "req-2"

	require.NoError(t, newWebhook(config.WebhookSettings{Endpoint: srv.URL, Format: "ndjson"}).export(context.Background(), two))
	require.Len(t, bodies, 1)
	require.Equal(t, "application/x-ndjson", types[0])
	lines := strings.Split(strings.TrimSuffix(bodies[0], "\n"), "\n")
	require.Len(t, lines, 2)
	var p payload
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &p))
	require.Equal(t, "req-2", p.ID)

	bodies, types = nil, nil
	require.NoError(t, newWebhook(config.WebhookSettings{Endpoint: srv.URL, Format: "single"}).export(context.Background(), two))
	require.Len(t, bodies, 2, "a request per record")
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &p))
	require.Equal(t, "req-1", p.ID)
}
