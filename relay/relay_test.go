package relay

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
)

type fakeRequest struct{ continued, done int }

func (f *fakeRequest) Continue(string) string { f.continued++; return "group_g/relay/d2" }
func (f *fakeRequest) Done()                  { f.done++ }

type fakeRequests struct{ r *fakeRequest }

func (f fakeRequests) Relayed(string) Request { return f.r }

type noMetrics struct{}

func (noMetrics) StreamContinuation(string, string) {}

// attemptsListener stands in for Envoy's relay listener: serve answers each
// request on a unix socket.
func attemptsListener(t *testing.T, serve http.HandlerFunc) string { return benchListener(t, serve) }

func benchListener(t testing.TB, serve http.HandlerFunc) string {
	sock := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: serve}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func chunkEvent(id, content, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	return `data: {"id":"` + id + `","choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":` + f + "}]}\n\n"
}

// cut writes events, then resets the connection as a dying deployment does.
func cut(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set(plan.ModelIDHeader, "d1")
	for _, e := range events {
		io.WriteString(w, e)
	}
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func TestRelaySplicesAContinuationIntoTheClientsStream(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	sock := attemptsListener(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get(plan.RouteHeader)+" "+string(b))
		first := len(bodies) == 1
		mu.Unlock()
		if first {
			cut(w, chunkEvent("c1", "Once upon ", ""))
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set(plan.ModelIDHeader, "d2")
		io.WriteString(w, chunkEvent("c2", " a time", "")+chunkEvent("c2", "", "stop")+"data: [DONE]\n\n")
	})
	req := &fakeRequest{}
	h := New(sock, fakeRequests{req}, noMetrics{}, 1<<20, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	client := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"g","stream":true,"messages":[{"role":"user","content":"go"}]}`))
	client.Header.Set(plan.RouteHeader, "group_g/relay")
	h.ServeHTTP(rec, client)

	out := rec.Body.String()
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, req.continued)
	require.Equal(t, 1, req.done)
	require.Len(t, bodies, 2)
	require.True(t, strings.HasPrefix(bodies[1], "group_g/relay/d2 "), bodies[1])
	require.Contains(t, bodies[1], `{"role":"assistant","content":"Once upon"}`)
	require.Contains(t, out, `"content":"a time"`, "the repeated whitespace dropped")
	require.NotContains(t, out, `"id":"c2"`, "one completion id")
	require.Contains(t, out, ": llmvoy: continued on deployment d2\n\n")
	require.True(t, strings.HasSuffix(out, "data: [DONE]\n\n"), out)
}

func TestRelayEndsACutStreamItCannotContinueWithAnErrorEvent(t *testing.T) {
	sock := attemptsListener(t, func(w http.ResponseWriter, r *http.Request) {
		// A tool call in flight: not continuable.
		cut(w, `data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`+"\n\n")
	})
	req := &fakeRequest{}
	h := New(sock, fakeRequests{req}, noMetrics{}, 1<<20, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"g","stream":true,"messages":[]}`)))
	require.Zero(t, req.continued)
	require.Equal(t, 1, req.done)
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], `data: {"error":{"message":"the model deployment's stream was cut`), rec.Body.String())
}

func TestRelayCompletesAFinishedAnswerWhoseDoneWasCut(t *testing.T) {
	sock := attemptsListener(t, func(w http.ResponseWriter, r *http.Request) {
		cut(w, chunkEvent("c1", "all", ""), chunkEvent("c1", "", "stop"))
	})
	req := &fakeRequest{}
	h := New(sock, fakeRequests{req}, noMetrics{}, 1<<20, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"g","stream":true,"messages":[]}`)))
	require.Zero(t, req.continued)
	require.True(t, strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n"), rec.Body.String())
}

func TestRelayDoesNotContinueForAClientThatLeft(t *testing.T) {
	started := make(chan struct{})
	sock := attemptsListener(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunkEvent("c1", "Once ", ""))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // until the relay gives up on it
	})
	req := &fakeRequest{}
	h := New(sock, fakeRequests{req}, noMetrics{}, 1<<20, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	client := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"g","stream":true,"messages":[]}`)).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, client)
	require.Zero(t, req.continued)
	require.Equal(t, 1, req.done)
	require.NotContains(t, rec.Body.String(), "stream was cut", "no error event for nobody")
}
