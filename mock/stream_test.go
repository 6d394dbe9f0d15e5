package mock

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type chunkWire struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// parseChunk decodes one event and also returns its top-level keys, to tell
// "usage": null from no usage key.
func parseChunk(t *testing.T, data string) (chunkWire, map[string]json.RawMessage) {
	t.Helper()
	var c chunkWire
	require.NoError(t, json.Unmarshal([]byte(data), &c), data)
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(data), &keys))
	return c, keys
}

func TestStreamEvents(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		headers      []string
		chunks       int
		includeUsage bool
	}{
		{name: "default", body: streamBody, chunks: DefaultChunks},
		{name: "include_usage", body: streamUsageBody, chunks: DefaultChunks, includeUsage: true},
		{name: "x-mock-chunks", body: streamUsageBody, headers: []string{"x-mock-chunks", "3"}, chunks: 3, includeUsage: true},
		{name: "more chunks than runes", body: streamBody, headers: []string{"x-mock-chunks", "200"}, chunks: 200},
	}
	_, ts := start(t, Options{Name: "beta"})
	nonStream := post(t, ts, "/v1/chat/completions", strings.Replace(streamBody, `"stream":true,`, "", 1))
	var whole chatCompletionWire
	require.NoError(t, json.NewDecoder(nonStream.Body).Decode(&whole))

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, ts, "/v1/chat/completions", tt.body, tt.headers...)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
			require.Equal(t, "beta", resp.Header.Get("x-mock-name"))
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			// Framing: every event is exactly "data: <payload>\n\n".
			frames := strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n")
			for _, f := range frames {
				require.True(t, strings.HasPrefix(f, "data: "), "%q", f)
				require.NotContains(t, f, "\n")
			}
			events, err := readEvents(strings.NewReader(string(raw)))
			require.NoError(t, err)
			want := 1 + tt.chunks + 1 + 1 // role, content, finish, [DONE]
			if tt.includeUsage {
				want++
			}
			require.Len(t, events, want)
			require.Equal(t, "[DONE]", events[len(events)-1])

			var first chunkWire
			var content strings.Builder
			for i, data := range events[:len(events)-1] {
				c, keys := parseChunk(t, data)
				if i == 0 {
					first = c
				}
				require.Equal(t, first.ID, c.ID, "one id per stream")
				require.True(t, strings.HasPrefix(c.ID, "chatcmpl-"))
				require.Equal(t, "chat.completion.chunk", c.Object)
				require.Equal(t, first.Created, c.Created)
				require.Equal(t, "gpt-4o", c.Model)
				require.Equal(t, "mock:beta", c.SystemFingerprint)
				require.Equal(t, "default", c.ServiceTier)
				usage, hasUsage := keys["usage"]
				require.Equal(t, tt.includeUsage, hasUsage, "usage key only with include_usage: %s", data)

				switch {
				case i == 0: // role
					require.Len(t, c.Choices, 1)
					require.Equal(t, "assistant", *c.Choices[0].Delta.Role)
					require.Equal(t, "", *c.Choices[0].Delta.Content)
					require.Nil(t, c.Choices[0].FinishReason)
				case i <= tt.chunks: // content
					require.Len(t, c.Choices, 1)
					require.Nil(t, c.Choices[0].Delta.Role)
					require.NotNil(t, c.Choices[0].Delta.Content)
					require.Nil(t, c.Choices[0].FinishReason)
					content.WriteString(*c.Choices[0].Delta.Content)
				case i == tt.chunks+1: // finish
					require.Len(t, c.Choices, 1)
					require.Nil(t, c.Choices[0].Delta.Role)
					require.Nil(t, c.Choices[0].Delta.Content)
					require.Equal(t, "stop", *c.Choices[0].FinishReason)
				default: // usage
					require.True(t, tt.includeUsage)
					require.NotNil(t, c.Choices, "choices is [] on the usage chunk")
					require.Empty(t, c.Choices)
					require.NotNil(t, c.Usage)
					require.Equal(t, whole.Usage.PromptTokens, c.Usage.PromptTokens)
					require.Equal(t, whole.Usage.CompletionTokens, c.Usage.CompletionTokens)
					require.Equal(t, whole.Usage.TotalTokens, c.Usage.TotalTokens)
					continue
				}
				if tt.includeUsage {
					require.JSONEq(t, "null", string(usage))
				}
			}
			require.Equal(t, whole.Choices[0].Message.Content, content.String())
		})
	}
}

func TestStreamObfuscation(t *testing.T) {
	_, ts := start(t, Options{})
	for _, tt := range []struct {
		body string
		want bool
	}{
		{streamBody, true},
		{streamUsageBody, true},
		{strings.Replace(streamUsageBody, `"include_usage":true`, `"include_usage":true,"include_obfuscation":false`, 1), false},
	} {
		events, err := readEvents(post(t, ts, "/v1/chat/completions", tt.body).Body)
		require.NoError(t, err)
		for _, data := range events[:len(events)-1] {
			_, keys := parseChunk(t, data)
			_, has := keys["obfuscation"]
			require.Equal(t, tt.want, has, data)
		}
	}
}

// TestStreamChunksArriveAsSent reads the stream incrementally: if the mock
// buffered the stream, every chunk would arrive at the end together.
func TestStreamChunksArriveAsSent(t *testing.T) {
	const delay = 100 * time.Millisecond
	_, ts := start(t, Options{ChunkDelay: delay, Chunks: 5})

	began := time.Now()
	resp := post(t, ts, "/v1/chat/completions", streamBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var firstContent, done time.Time
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"delta":{"content":`) && firstContent.IsZero():
			firstContent = time.Now()
		case line == "data: [DONE]":
			done = time.Now()
		}
	}
	require.NoError(t, sc.Err())
	require.False(t, firstContent.IsZero())
	require.False(t, done.IsZero())
	// Four delays separate five content chunks; timers never fire early, so
	// the gap is at least 4*delay when chunks are flushed one by one.
	require.GreaterOrEqual(t, done.Sub(firstContent), 3*delay,
		"first content chunk at %v, [DONE] at %v", firstContent.Sub(began), done.Sub(began))
}

func TestStreamLatencyBeforeFirstChunk(t *testing.T) {
	_, ts := start(t, Options{Latency: 150 * time.Millisecond})
	began := time.Now()
	resp := post(t, ts, "/v1/chat/completions", streamBody)
	require.GreaterOrEqual(t, time.Since(began), 150*time.Millisecond)
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "[DONE]", events[len(events)-1])

	// The per-request header overrides the option.
	began = time.Now()
	resp = post(t, ts, "/v1/chat/completions", streamBody, "x-mock-latency-ms", "0")
	_, err = readEvents(resp.Body)
	require.NoError(t, err)
	require.Less(t, time.Since(began), 150*time.Millisecond)
}

func TestFailStreamAfter(t *testing.T) {
	for _, n := range []int{0, 2, 5, 9} {
		_, ts := start(t, Options{Chunks: 5})
		resp := post(t, ts, "/v1/chat/completions", streamUsageBody, "x-mock-fail-stream-after", strconv.Itoa(n))
		require.Equal(t, http.StatusOK, resp.StatusCode, "headers went out before the reset")
		events, err := readEvents(resp.Body)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "n=%d: the stream must not end cleanly", n)
		require.NotContains(t, events, "[DONE]")
		require.Len(t, events, 1+min(n, 5), "n=%d: role chunk and n content chunks", n)
		for _, e := range events {
			require.NotContains(t, e, `"finish_reason":"stop"`)
		}
	}
}

func TestFailStreamAfterOnNonStreamingResetsBeforeHeaders(t *testing.T) {
	_, ts := start(t, Options{})
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	req.Header.Set("x-mock-fail-stream-after", "0")
	resp, err := ts.Client().Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err)
}

func TestStreamStopsWhenClientGoesAway(t *testing.T) {
	s := New(Options{ChunkDelay: time.Hour})
	handlerDone := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		s.ServeHTTP(w, r)
	}))
	defer ts.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(streamBody))
	require.NoError(t, err)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan(), "the first chunk comes before the hour-long delay")
	cancel()
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still streaming after the client went away")
	}
}
