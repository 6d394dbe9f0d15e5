package callbacks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmvoy/llmvoy/config"
)

// otelSink makes a span per request (and a child per attempt) with
// OpenTelemetry's GenAI semantic conventions; the SDK's batch processor
// exports them.
type otelSink struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

func newOTel(s config.OTelSettings, log *slog.Logger) (*otelSink, error) {
	ctx := context.Background()
	// The SDK's own export failures, in llmvoy's log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("callback export failed", "callback", config.CallbackOTel, "error", err)
	}))
	headers := reveal(s.Headers)
	var exp sdktrace.SpanExporter
	var err error
	switch s.Exporter {
	case "otlp_http":
		opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(headers)}
		if s.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(s.Endpoint))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	case "otlp_http_json":
		url := s.Endpoint
		if url == "" {
			url = "http://localhost:4318/v1/traces"
		}
		exp = &otlpJSONExporter{url: url, headers: headers, http: &http.Client{Timeout: exportLimit}}
	case "otlp_grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(headers)}
		if s.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(s.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	}
	if err != nil {
		return nil, fmt.Errorf("otel exporter %s: %w", s.Exporter, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(flushEvery)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", s.ServiceName))),
	)
	return &otelSink{tp: tp, tracer: tp.Tracer("github.com/llmvoy/llmvoy/callbacks")}, nil
}

func reveal(h map[string]config.Secret) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v.Reveal()
	}
	return out
}

func (o *otelSink) export(_ context.Context, batch []Record) error {
	for i := range batch {
		o.span(&batch[i])
	}
	return nil
}

func (o *otelSink) shutdown(ctx context.Context) error { return o.tp.Shutdown(ctx) }

// span records r as a server span, a child of the client's traceparent
// when it sent one, with a client span per attempt.
func (o *otelSink) span(r *Record) {
	ctx := context.Background()
	if r.TraceParent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": r.TraceParent})
	}
	ctx, sp := o.tracer.Start(ctx, spanName(r), trace.WithTimestamp(r.Start), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(spanAttributes(r)...))
	for _, a := range r.Attempts {
		_, as := o.tracer.Start(ctx, "attempt "+a.Deployment, trace.WithTimestamp(a.Start), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attemptAttributes(r, a.Deployment, a.Code, string(a.Failure))...))
		if a.Code == 0 || a.Code >= 400 || a.Failure != "" {
			as.SetStatus(codes.Error, attemptError(a.Code, string(a.Failure)))
		}
		as.End(trace.WithTimestamp(a.Start.Add(a.Duration)))
	}
	if r.Failed() {
		sp.SetStatus(codes.Error, r.ErrorString())
	}
	sp.End(trace.WithTimestamp(r.End))
}

// operation is gen_ai.operation.name for a LiteLLM call type.
func operation(callType string) string {
	switch callType {
	case "acompletion", "anthropic_messages", "aresponses":
		return "chat"
	case "atext_completion":
		return "text_completion"
	case "aembedding":
		return "embeddings"
	}
	return callType
}

// spanName follows the GenAI conventions: "{operation} {request model}".
func spanName(r *Record) string {
	if r.ModelGroup == "" {
		return operation(r.CallType)
	}
	return operation(r.CallType) + " " + r.ModelGroup
}

// providerName is gen_ai.provider.name: the conventions' well-known values
// for the providers llmvoy speaks to natively, LiteLLM's provider name for
// the OpenAI-compatible rest.
func providerName(r *Record) string {
	switch r.API {
	case config.APIAnthropic:
		return "anthropic"
	case config.APIGemini:
		return "gcp.gemini"
	case config.APIVertex, config.APIVertexAnthropic:
		return "gcp.vertex_ai"
	case config.APIBedrock:
		return "aws.bedrock"
	case config.APIAzure:
		return "azure.ai.openai"
	case config.APIAzureAI:
		return "azure.ai.inference"
	}
	return r.Provider
}

// spanAttributes are the request span's attributes.
func spanAttributes(r *Record) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", operation(r.CallType)),
		attribute.String("llmvoy.request_id", r.RequestID),
		attribute.String("url.path", r.Path),
		attribute.Int("http.response.status_code", r.Status),
		attribute.Int("llmvoy.attempts", len(r.Attempts)),
		attribute.Bool("llmvoy.stream", r.Stream),
	}
	if r.ModelGroup != "" {
		attrs = append(attrs,
			attribute.String("gen_ai.request.model", r.ModelGroup),
			attribute.String("llmvoy.model_group", r.ModelGroup),
		)
	}
	if r.ModelID != "" {
		p := providerName(r)
		attrs = append(attrs,
			attribute.String("gen_ai.provider.name", p),
			attribute.String("gen_ai.system", p),
			attribute.String("gen_ai.response.model", r.UpstreamModel),
			attribute.String("llmvoy.deployment_id", r.ModelID),
			attribute.String("llmvoy.api_base", r.APIBase),
		)
	}
	if r.Usage {
		attrs = append(attrs,
			attribute.Int("gen_ai.usage.input_tokens", r.PromptTokens),
			attribute.Int("gen_ai.usage.output_tokens", r.CompletionTokens),
			attribute.Float64("llmvoy.response_cost", r.Cost),
		)
	}
	if r.FirstByte > 0 {
		attrs = append(attrs, attribute.Float64("llmvoy.time_to_first_token_ms", float64(r.FirstByte.Microseconds())/1000))
	}
	if r.KeyAlias != "" {
		attrs = append(attrs, attribute.String("llmvoy.key_alias", r.KeyAlias))
	}
	if r.CacheHit {
		attrs = append(attrs, attribute.Bool("llmvoy.cache_hit", true))
	}
	if r.Failed() {
		attrs = append(attrs, attribute.String("error.type", errorType(r.Status, r.Failure)))
	}
	if in := messagesOf(r.Messages); in != "" {
		attrs = append(attrs, attribute.String("gen_ai.input.messages", in))
	}
	if out := choicesOf(r.Response); out != "" {
		attrs = append(attrs, attribute.String("gen_ai.output.messages", out))
	}
	return attrs
}

func attemptAttributes(r *Record, deployment string, code int, failure string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", operation(r.CallType)),
		attribute.String("llmvoy.deployment_id", deployment),
		attribute.Int("http.response.status_code", code),
	}
	if code == 0 || code >= 400 || failure != "" {
		attrs = append(attrs, attribute.String("error.type", errorType(code, failure)))
	}
	return attrs
}

// errorType is the conventions' error.type: Envoy's failure, else the
// status.
func errorType(code int, failure string) string {
	if failure != "" {
		return failure
	}
	if code == 0 {
		return "_OTHER"
	}
	return fmt.Sprint(code)
}

func attemptError(code int, failure string) string {
	if failure != "" {
		return failure
	}
	return fmt.Sprintf("status %d", code)
}

// messagesOf is the request's messages (or a completion's prompt, an
// embedding's input) as JSON; "" when not stored.
func messagesOf(body string) string {
	return firstField(body, "messages", "input", "prompt")
}

// choicesOf is the answer's choices as JSON; "" when not stored.
func choicesOf(body string) string {
	return firstField(body, "choices", "output", "content")
}

func firstField(body string, names ...string) string {
	if body == "" {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	for _, n := range names {
		if v, ok := m[n]; ok {
			return string(v)
		}
	}
	return ""
}
