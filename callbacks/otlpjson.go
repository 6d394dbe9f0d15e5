package callbacks

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpJSONExporter sends spans as OTLP/HTTP JSON
// (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), which the Go SDK's exporter does
// not encode: the OTLP JSON mapping of ExportTraceServiceRequest (ids in
// hex, enums as numbers, 64-bit integers as strings). Batching, ids and
// sampling stay the SDK's.
type otlpJSONExporter struct {
	url     string
	headers map[string]string
	http    *http.Client
}

var _ sdktrace.SpanExporter = (*otlpJSONExporter)(nil)

type jsonKeyValue struct {
	Key   string    `json:"key"`
	Value jsonValue `json:"value"`
}

type jsonValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
	IntValue    *string  `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
}

type jsonStatus struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type jsonSpan struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	ParentSpanID      string         `json:"parentSpanId,omitempty"`
	Name              string         `json:"name"`
	Kind              int            `json:"kind"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	EndTimeUnixNano   string         `json:"endTimeUnixNano"`
	Attributes        []jsonKeyValue `json:"attributes,omitempty"`
	Status            jsonStatus     `json:"status"`
}

type jsonScopeSpans struct {
	Scope struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	} `json:"scope"`
	Spans []jsonSpan `json:"spans"`
}

type jsonResourceSpans struct {
	Resource struct {
		Attributes []jsonKeyValue `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []jsonScopeSpans `json:"scopeSpans"`
}

func jsonAttributes(kvs []attribute.KeyValue) []jsonKeyValue {
	out := make([]jsonKeyValue, 0, len(kvs))
	for _, kv := range kvs {
		var v jsonValue
		switch kv.Value.Type() {
		case attribute.BOOL:
			b := kv.Value.AsBool()
			v.BoolValue = &b
		case attribute.INT64:
			s := strconv.FormatInt(kv.Value.AsInt64(), 10)
			v.IntValue = &s
		case attribute.FLOAT64:
			f := kv.Value.AsFloat64()
			v.DoubleValue = &f
		default:
			s := kv.Value.String()
			v.StringValue = &s
		}
		out = append(out, jsonKeyValue{Key: string(kv.Key), Value: v})
	}
	return out
}

// jsonStatusOf maps the SDK's status codes to OTLP's (Unset 0, Ok 1,
// Error 2; the SDK numbers Error 1 and Ok 2).
func jsonStatusOf(s sdktrace.Status) jsonStatus {
	switch s.Code {
	case codes.Ok:
		return jsonStatus{Code: 1}
	case codes.Error:
		return jsonStatus{Code: 2, Message: s.Description}
	}
	return jsonStatus{}
}

// otlpJSON is spans as an ExportTraceServiceRequest in OTLP's JSON.
func otlpJSON(spans []sdktrace.ReadOnlySpan) ([]byte, error) {
	var rs jsonResourceSpans
	scopes := make(map[string]int)
	for _, s := range spans {
		if rs.Resource.Attributes == nil {
			rs.Resource.Attributes = jsonAttributes(s.Resource().Attributes())
		}
		sc := s.InstrumentationScope()
		i, ok := scopes[sc.Name]
		if !ok {
			i = len(rs.ScopeSpans)
			scopes[sc.Name] = i
			var ss jsonScopeSpans
			ss.Scope.Name, ss.Scope.Version = sc.Name, sc.Version
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		js := jsonSpan{
			TraceID: s.SpanContext().TraceID().String(), SpanID: s.SpanContext().SpanID().String(),
			Name: s.Name(), Kind: int(s.SpanKind()),
			StartTimeUnixNano: strconv.FormatInt(s.StartTime().UnixNano(), 10),
			EndTimeUnixNano:   strconv.FormatInt(s.EndTime().UnixNano(), 10),
			Attributes:        jsonAttributes(s.Attributes()), Status: jsonStatusOf(s.Status()),
		}
		if p := s.Parent(); p.SpanID().IsValid() {
			js.ParentSpanID = p.SpanID().String()
		}
		rs.ScopeSpans[i].Spans = append(rs.ScopeSpans[i].Spans, js)
	}
	return json.Marshal(map[string][]jsonResourceSpans{"resourceSpans": {rs}})
}

func (x *otlpJSONExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := otlpJSON(spans)
	if err != nil {
		return err
	}
	_, err = post(ctx, x.http, x.url, x.headers, "application/json", body)
	return err
}

func (x *otlpJSONExporter) Shutdown(context.Context) error { return nil }
