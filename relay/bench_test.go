package relay

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmvoy/llmvoy/plan"
)

// BenchmarkRelayStream relays a 20-chunk chat completion stream from a
// fake relay listener: the Go side of what a relayed stream costs.
func BenchmarkRelayStream(b *testing.B) {
	var events strings.Builder
	events.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
	for range 20 {
		events.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}` + "\n\n")
	}
	events.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n")
	body := events.String()
	sock := benchListener(b, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set(plan.ModelIDHeader, "d1")
		io.WriteString(w, body)
	})
	h := New(sock, fakeRequests{&fakeRequest{}}, noMetrics{}, 1<<20, slog.New(slog.DiscardHandler))
	req := `{"model":"g","stream":true,"messages":[{"role":"user","content":"go"}]}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(req)))
	}
}
