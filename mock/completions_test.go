package mock

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompletions(t *testing.T) {
	s := New(Options{Name: "c1"})
	rec := serve(s, "POST", "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	var c completion
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, "text_completion", c.Object)
	require.Equal(t, "gpt-3.5-turbo-instruct", c.Model)
	require.True(t, strings.HasPrefix(c.ID, "cmpl-"))
	require.Equal(t, Reply("c1", "Say this is a test"), c.Choices[0].Text)
	require.Equal(t, "stop", *c.Choices[0].FinishReason)
	require.Equal(t, EstimateTokens("Say this is a test"), c.Usage.PromptTokens)

	rec = serve(s, "POST", "/v1/completions", `{"model":"m","prompt":["a","b"]}`)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Len(t, c.Choices, 2)
	require.Equal(t, 1, c.Choices[1].Index)
}

func TestCompletionsStream(t *testing.T) {
	s := New(Options{Name: "c1"})
	rec := serve(s, "POST", "/v1/completions", `{"model":"m","prompt":"hi there","stream":true,"stream_options":{"include_usage":true}}`)
	require.Equal(t, "text/event-stream", rec.Header().Get("Content-Type"))
	events, err := readEvents(rec.Body)
	require.NoError(t, err)
	require.Equal(t, "[DONE]", events[len(events)-1])
	var text strings.Builder
	var last completion
	for _, ev := range events[:len(events)-1] {
		require.NoError(t, json.Unmarshal([]byte(ev), &last))
		for _, ch := range last.Choices {
			text.WriteString(ch.Text)
		}
	}
	require.Equal(t, Reply("c1", "hi there"), text.String())
	require.NotNil(t, last.Usage, "the usage chunk comes last")
	require.Empty(t, last.Choices)
}

func TestCompletionsBadRequests(t *testing.T) {
	s := New(Options{Name: "c1"})
	for body, param := range map[string]string{
		`{"model":"m"}`:            "prompt",
		`{"model":"m","prompt":1}`: "prompt",
		`{"prompt":"x"}`:           "model",
	} {
		rec := serve(s, "POST", "/v1/completions", body)
		require.Equal(t, 400, rec.Code, body)
		require.Contains(t, decodeError(t, rec.Body.Bytes()).Error.Message, param, body)
	}
}
