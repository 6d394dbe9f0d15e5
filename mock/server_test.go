package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestModels(t *testing.T) {
	s := New(Options{Name: "m1"})
	rec := serve(s, http.MethodGet, "/v1/models", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "m1", rec.Header().Get("x-mock-name"))
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 1)
	require.Equal(t, "mock-model", list.Data[0].ID)
	require.Equal(t, "model", list.Data[0].Object)
	require.Equal(t, "llmvoy-mock", list.Data[0].OwnedBy)
	require.NotZero(t, list.Data[0].Created)

	rec = serve(s, http.MethodGet, "/v1/models/mock-model", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"id":"mock-model","object":"model","created":1700000000,"owned_by":"llmvoy-mock"}`, rec.Body.String())

	rec = serve(s, http.MethodGet, "/v1/models/gpt-9", "")
	require.Equal(t, http.StatusNotFound, rec.Code)
	e := decodeError(t, rec.Body.Bytes())
	require.Equal(t, "model_not_found", deref(e.Error.Code))
}

func TestUnknownPaths(t *testing.T) {
	s := New(Options{Name: "u"})
	for _, tt := range []struct{ method, path string }{
		{http.MethodPost, "/v1/audio/translations"},
		{http.MethodPost, "/chat/completions"},
		{http.MethodGet, "/v1/chat/completions"},
		{http.MethodDelete, "/v1/models"},
		{http.MethodGet, "/"},
	} {
		rec := serve(s, tt.method, tt.path, "")
		require.Equal(t, http.StatusNotFound, rec.Code, "%s %s", tt.method, tt.path)
		require.Equal(t, "u", rec.Header().Get("x-mock-name"))
		e := decodeError(t, rec.Body.Bytes())
		require.Equal(t, "Invalid URL ("+tt.method+" "+tt.path+")", e.Error.Message)
		require.Equal(t, "invalid_request_error", e.Error.Type)
	}
}

func TestHealth(t *testing.T) {
	s := New(Options{Name: "h"})
	rec := serve(s, http.MethodGet, "/health", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "h", rec.Header().Get("x-mock-name"))
	require.Empty(t, s.Requests(), "health checks are not recorded")
}

func TestRecording(t *testing.T) {
	s := New(Options{})
	before := time.Now()
	serve(s, http.MethodPost, "/v1/chat/completions?api-version=2024-10-21", chatBody,
		"Authorization", "Bearer sk-deployment-key", "x-mock-status", "500")
	serve(s, http.MethodPost, "/v1/embeddings", `{"model":`)
	serve(s, http.MethodGet, "/v1/models", "")
	serve(s, http.MethodGet, "/mock/config", "")

	reqs := s.Requests()
	require.Len(t, reqs, 3, "control endpoints are not recorded")
	r0 := reqs[0]
	require.Equal(t, http.MethodPost, r0.Method)
	require.Equal(t, "/v1/chat/completions", r0.Path)
	require.Equal(t, "example.com", r0.Host, "httptest.NewRequest's host")
	require.Equal(t, "api-version=2024-10-21", r0.Query)
	require.Equal(t, "Bearer sk-deployment-key", r0.Header.Get("Authorization"))
	require.JSONEq(t, chatBody, string(r0.Body))
	require.False(t, r0.Time.Before(before))
	require.Equal(t, `{"model":`, string(reqs[1].Body), "malformed bodies are recorded as received")
	require.Equal(t, "/v1/models", reqs[2].Path)
	require.Empty(t, reqs[2].Body)

	// Callers get copies.
	reqs[0].Header.Set("Authorization", "changed")
	reqs[0].Body[0] = 'X'
	require.Equal(t, "Bearer sk-deployment-key", s.Requests()[0].Header.Get("Authorization"))
	require.JSONEq(t, chatBody, string(s.Requests()[0].Body))

	s.Reset()
	require.Empty(t, s.Requests())
}

func TestRecordingIsBounded(t *testing.T) {
	s := New(Options{})
	for i := range RecordLimit + 25 {
		serve(s, http.MethodPost, "/v1/embeddings", `{"model":"m","input":"`+strconv.Itoa(i)+`"}`)
	}
	reqs := s.Requests()
	require.Len(t, reqs, RecordLimit)
	require.JSONEq(t, `{"model":"m","input":"25"}`, string(reqs[0].Body), "oldest kept first")
	require.JSONEq(t, `{"model":"m","input":"`+strconv.Itoa(RecordLimit+24)+`"}`, string(reqs[len(reqs)-1].Body))
}

func TestControlEndpoints(t *testing.T) {
	s, ts := start(t, Options{Name: "ctl"})
	post(t, ts, "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-upstream")
	post(t, ts, "/v1/chat/completions", `not json <&>`)

	resp, err := ts.Client().Get(ts.URL + "/mock/requests")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ctl", resp.Header.Get("x-mock-name"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var reqs []Request
	require.NoError(t, json.Unmarshal(raw, &reqs), string(raw))
	require.Len(t, reqs, 2)
	require.Equal(t, "Bearer sk-upstream", reqs[0].Header.Get("Authorization"))
	require.JSONEq(t, chatBody, string(reqs[0].Body))
	var body string
	require.NoError(t, json.Unmarshal(reqs[1].Body, &body), "a non-JSON body comes back as a JSON string")
	require.Equal(t, `not json <&>`, body)

	del, err := http.NewRequest(http.MethodDelete, ts.URL+"/mock/requests", nil)
	require.NoError(t, err)
	resp, err = ts.Client().Do(del)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, s.Requests())

	resp, err = ts.Client().Get(ts.URL + "/mock/requests")
	require.NoError(t, err)
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.JSONEq(t, `[]`, string(raw))

	// Config: GET, partial PUT, and a rejected PUT that changes nothing.
	resp, err = ts.Client().Get(ts.URL + "/mock/config")
	require.NoError(t, err)
	var got Options
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.Equal(t, s.Options(), got)

	put := func(body string) *http.Response {
		req, err := http.NewRequest(http.MethodPut, ts.URL+"/mock/config", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp = put(`{"status":429,"retry_after":"2s","latency":10}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, "ctl", got.Name, "keys not sent keep their values")
	require.Equal(t, 429, got.Status)
	require.Equal(t, 2*time.Second, got.RetryAfter)
	require.Equal(t, 10*time.Millisecond, got.Latency)
	require.Equal(t, got, s.Options())
	chat := post(t, ts, "/v1/chat/completions", chatBody)
	require.Equal(t, 429, chat.StatusCode)
	require.Equal(t, "2", chat.Header.Get("Retry-After"))

	for _, bad := range []string{`{"status":302}`, `{"stauts":500}`, `{`} {
		resp = put(bad)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
		decodeError(t, mustRead(t, resp.Body))
	}
	require.Equal(t, 429, s.Options().Status)

	resp = put(`{"status":0}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusOK, post(t, ts, "/v1/chat/completions", chatBody).StatusCode)
}

func mustRead(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

// TestConcurrentUse is meant for -race: requests, option changes, reads of
// the log and resets all at once.
func TestConcurrentUse(t *testing.T) {
	s, ts := start(t, Options{Chunks: 3, FailureRate: 0.1, Seed: 1})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			o := s.Options()
			o.Chunks = 1 + i%4
			s.SetOptions(o)
			_ = s.Requests()
			if i%50 == 0 {
				s.Reset()
			}
			time.Sleep(time.Millisecond)
		}
	}()

	var clients sync.WaitGroup
	for g := range 16 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for i := range 25 {
				body := chatBody
				switch (g + i) % 3 {
				case 1:
					body = streamUsageBody
				case 2:
					body = `{"model":"e","input":["a","b"]}`
				}
				path := "/v1/chat/completions"
				if strings.Contains(body, `"input"`) {
					path = "/v1/embeddings"
				}
				req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if resp.StatusCode != http.StatusOK && resp.StatusCode != DefaultFailStatus {
					t.Errorf("status %d: %s", resp.StatusCode, b)
				}
				if resp.StatusCode == http.StatusOK && strings.Contains(body, `"stream":true`) && !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
					t.Errorf("stream did not finish: %s", b)
				}
			}
		}()
	}
	clients.Wait()
	close(stop)
	wg.Wait()
	require.LessOrEqual(t, len(s.Requests()), RecordLimit)
}
