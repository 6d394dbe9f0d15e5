package mock

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// start runs a mock on a real listener for tests that need a real client
// (streaming, timing, connection resets).
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// post sends body to ts+path with headers given as "key", "value" pairs.
func post(t *testing.T, ts *httptest.Server, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// serve runs one request through s in-process.
func serve(s *Server, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// decodeError checks that body is exactly OpenAI's error shape: one "error"
// object with message, type, param and code keys, nothing else.
func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var shape map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &shape), string(body))
	require.Len(t, shape, 1, string(body))
	require.Contains(t, shape, "error")
	keys := make([]string, 0, 4)
	for k := range shape["error"] {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"message", "type", "param", "code"}, keys)
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e))
	require.NotEmpty(t, e.Error.Message)
	return e
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// readEvents reads an SSE body to the end and returns the data payloads. err
// is the read error, if the stream did not end cleanly.
func readEvents(body io.Reader) (events []string, err error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		}
	}
	return events, sc.Err()
}

const chatBody = `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}`

const streamBody = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"What is the capital of France?"}]}`

const streamUsageBody = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is the capital of France?"}]}`

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
