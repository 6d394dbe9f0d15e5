package extproc

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// usageCounter reads the tokens an OpenAI-format answer used, for the tpm
// limits of usage-based routing: usage.total_tokens of a completion, or of
// a stream's usage chunk. A stream the client did not ask usage for carries
// none; its tokens are estimated from the text it streamed (four characters
// a token) plus the prompt estimate, which errs low.
type usageCounter struct {
	stream bool
	// promptEstimate is the prompt's tokens as the gateway estimated them.
	promptEstimate int
	pending        []byte // a stream's partial event
	// total, prompt and completion are from a usage object; total is 0
	// when none was seen.
	total, prompt, completion int
	contentRunes              int
	// aborted: the answer ended before its end (see upstream.close); what
	// was produced is estimated as for a stream without usage.
	aborted bool
}

// write feeds a piece of the answer (the whole of it when not streaming).
func (c *usageCounter) write(p []byte) {
	if !c.stream {
		c.readUsage(p)
		return
	}
	c.pending = append(c.pending, p...)
	for {
		i := bytes.Index(c.pending, []byte("\n\n"))
		if i < 0 {
			return
		}
		c.event(c.pending[:i])
		c.pending = c.pending[i+2:]
	}
}

func (c *usageCounter) event(ev []byte) {
	for _, line := range bytes.Split(ev, []byte("\n")) {
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok || bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
			continue
		}
		// (`"usage` covers Gemini's usageMetadata too.)
		if bytes.Contains(data, []byte(`"usage`)) && c.readUsage(data) {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal(data, &chunk) == nil {
			for _, ch := range chunk.Choices {
				c.contentRunes += utf8.RuneCountInString(ch.Delta.Content)
			}
		}
	}
}

// usageObject is a usage in any format an answer can reach the counter in:
// OpenAI chat's (prompt_tokens, completion_tokens, total_tokens), or, for
// an agent API passed through to a deployment that speaks it, Anthropic
// Messages' (input_tokens without the cached ones, output_tokens) and
// OpenAI Responses' (input_tokens with them); on a provider pass-through
// route, Bedrock Converse's too (inputTokens, outputTokens).
type usageObject struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	InputTokens         int `json:"input_tokens"`
	OutputTokens        int `json:"output_tokens"`
	CacheReadTokens     int `json:"cache_read_input_tokens"`
	CacheCreationTokens int `json:"cache_creation_input_tokens"`
	ConverseInput       int `json:"inputTokens"`
	ConverseOutput      int `json:"outputTokens"`
}

// geminiUsage is Gemini's usageMetadata (a pass-through answer's).
type geminiUsage struct {
	Prompt     int `json:"promptTokenCount"`
	Candidates int `json:"candidatesTokenCount"`
	Thoughts   int `json:"thoughtsTokenCount"`
}

// readUsage takes the usage of a completion or chunk; of a Messages
// message_start or message_delta event (Anthropic splits it between the
// two); of a Responses response or its response.completed event.
func (c *usageCounter) readUsage(b []byte) bool {
	var v struct {
		Usage   *usageObject `json:"usage"`
		Message *struct {
			Usage *usageObject `json:"usage"`
		} `json:"message"`
		Response *struct {
			Usage *usageObject `json:"usage"`
		} `json:"response"`
		UsageMetadata *geminiUsage `json:"usageMetadata"`
	}
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	u := v.Usage
	switch {
	case u == nil && v.UsageMetadata != nil:
		m := v.UsageMetadata
		u = &usageObject{InputTokens: m.Prompt, OutputTokens: m.Candidates + m.Thoughts}
	case u != nil && u.ConverseInput+u.ConverseOutput > 0:
		u = &usageObject{InputTokens: u.ConverseInput, OutputTokens: u.ConverseOutput}
	case u != nil:
	case v.Message != nil && v.Message.Usage != nil:
		u = v.Message.Usage
	case v.Response != nil && v.Response.Usage != nil:
		u = v.Response.Usage
	default:
		return false
	}
	if u.TotalTokens > 0 && u.InputTokens == 0 && u.OutputTokens == 0 {
		c.total, c.prompt, c.completion = u.TotalTokens, u.PromptTokens, u.CompletionTokens
		return true
	}
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheCreationTokens
	if prompt+u.OutputTokens <= 0 {
		return false
	}
	// Anthropic's later events repeat or grow the counts: keep the largest.
	c.prompt, c.completion = max(c.prompt, prompt), max(c.completion, u.OutputTokens)
	c.total = c.prompt + c.completion
	return true
}

// split is the answer's prompt and completion tokens: from its usage, else
// (a stream without usage) estimated as tokens() is.
func (c *usageCounter) split() (prompt, completion int) {
	if c.total > 0 {
		if c.prompt+c.completion == 0 {
			return c.total, 0 // embeddings report prompt tokens only, or total alone
		}
		return c.prompt, c.completion
	}
	if !c.stream && !c.aborted {
		return 0, 0
	}
	return c.promptEstimate, c.contentRunes / 4
}

// tokens is the answer's total tokens.
func (c *usageCounter) tokens() int {
	if c.total > 0 {
		return c.total
	}
	prompt, completion := c.split()
	return prompt + completion
}

// usageStripper takes out of an OpenAI stream the usage-only chunk (choices
// empty, usage set) that llmvoy asked for with stream_options.include_usage
// when the client did not: the client gets the stream it asked for. Pieces
// pass on as whole events; a partial event waits for the rest.
type usageStripper struct {
	pending []byte
}

// write takes the next piece of the stream and returns what goes on to
// the client; end flushes whatever is held.
func (s *usageStripper) write(p []byte, end bool) []byte {
	var out []byte
	if len(s.pending) == 0 {
		// The common case: the piece is whole events, passed on as they are
		// unless one is the usage chunk.
		last := bytes.LastIndex(p, []byte("\n\n"))
		if last == len(p)-2 && !bytes.Contains(p, []byte(`"usage"`)) {
			return p
		}
	}
	s.pending = append(s.pending, p...)
	for {
		i := bytes.Index(s.pending, []byte("\n\n"))
		if i < 0 {
			break
		}
		ev := s.pending[:i+2]
		if !usageOnly(ev) {
			out = append(out, ev...)
		}
		s.pending = s.pending[i+2:]
	}
	if end {
		out = append(out, s.pending...)
		s.pending = nil
	} else if len(s.pending) == 0 {
		s.pending = nil
	}
	return out
}

// usageOnly reports whether an event is a chunk with a usage and no
// choices.
func usageOnly(ev []byte) bool {
	if !bytes.Contains(ev, []byte(`"usage"`)) {
		return false
	}
	for _, line := range bytes.Split(ev, []byte("\n")) {
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		var chunk struct {
			Choices []json.RawMessage `json:"choices"`
			Usage   json.RawMessage   `json:"usage"`
		}
		if json.Unmarshal(data, &chunk) != nil {
			return false
		}
		return chunk.Choices != nil && len(chunk.Choices) == 0 && len(chunk.Usage) > 0 && string(chunk.Usage) != "null"
	}
	return false
}
