package mock

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// These measure the handler alone (no network); make bench measures the system.

func benchmarkServe(b *testing.B, path, body string) {
	s := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

func BenchmarkChatCompletion(b *testing.B) { benchmarkServe(b, "/v1/chat/completions", chatBody) }

func BenchmarkChatStream(b *testing.B) { benchmarkServe(b, "/v1/chat/completions", streamUsageBody) }

func BenchmarkEmbeddings(b *testing.B) {
	benchmarkServe(b, "/v1/embeddings", `{"model":"m","input":["hello","world"],"encoding_format":"base64"}`)
}
