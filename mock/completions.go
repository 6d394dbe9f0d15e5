package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The legacy text completions API (POST /v1/completions), which OpenAI
// still serves and OpenAI-compatible servers (vLLM, Ollama) speak:
// {"model", "prompt": string or [string], "stream"} → a text_completion.

type completionsRequest struct {
	Model         json.RawMessage `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	var req completionsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, couldNotParse)
		return
	}
	model, e := parseModel(req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	var prompts []string
	switch {
	case isNull(req.Prompt):
		writeError(w, missingParam("prompt"))
		return
	case json.Unmarshal(req.Prompt, &prompts) == nil && len(prompts) > 0:
	default:
		var p string
		if json.Unmarshal(req.Prompt, &p) != nil {
			writeError(w, invalidType("prompt", "a string or an array of strings", req.Prompt))
			return
		}
		prompts = []string{p}
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeError(w, e)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStatus != 0 {
		setRetryAfter(w.Header(), a.retryAfter)
		writeError(w, newInjectedError(a.failStatus, model, a.retryAfter))
		return
	}
	stop := "stop"
	c := completion{ID: s.newID("cmpl-", 29), Object: "text_completion", Created: time.Now().Unix(), Model: model}
	promptTokens, completionTokens := 0, 0
	for i, p := range prompts {
		text := Reply(opts.Name, p)
		promptTokens += EstimateTokens(p)
		completionTokens += EstimateTokens(text)
		c.Choices = append(c.Choices, completionChoice{Text: text, Index: i, FinishReason: &stop})
	}
	u := newUsage(promptTokens, completionTokens)
	if !req.Stream {
		c.Usage = &u
		writeJSON(w, http.StatusOK, c)
		return
	}
	// A stream: each choice's text in words, then its finish, then usage
	// when asked, then [DONE], as OpenAI sends them.
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	event := func(v completion) bool {
		b, _ := json.Marshal(v)
		if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
			return false
		}
		return flush(rc)
	}
	for _, ch := range c.Choices {
		for _, word := range strings.SplitAfter(ch.Text, " ") {
			chunk := c
			chunk.Choices = []completionChoice{{Text: word, Index: ch.Index}}
			if !event(chunk) {
				return
			}
		}
		chunk := c
		chunk.Choices = []completionChoice{{Index: ch.Index, FinishReason: &stop}}
		if !event(chunk) {
			return
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		last := c
		last.Choices, last.Usage = []completionChoice{}, &u
		if !event(last) {
			return
		}
	}
	w.Write([]byte("data: [DONE]\n\n"))
	flush(rc)
}
