package messagesapi

import (
	"bytes"
	"encoding/json"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Estimate constants of CountTokens.
const (
	// bytesPerToken: English text and code run about four bytes a token
	// in the tokenizers of today's models.
	bytesPerToken = 4
	// attachmentTokens is an image or document whose size cannot be told
	// without decoding it: about what Anthropic charges for an image of
	// the largest size it keeps (1.15 megapixels).
	attachmentTokens = 1600
)

// CountTokens answers POST /v1/messages/count_tokens for deployments that
// have no counting endpoint, with an estimate: {"input_tokens": N}, N the
// bytes of every string in system and messages (roles, text, tool names,
// inputs and results; not the type, id and cache_control fields) plus the bytes of
// the tools' JSON, divided by four and rounded up, plus 1,600 for each
// image or document sent as data. Errors wrap translate.ErrBadRequest.
func CountTokens(body []byte) ([]byte, error) {
	var in struct {
		System   json.RawMessage `json:"system"`
		Messages json.RawMessage `json:"messages"`
		Tools    json.RawMessage `json:"tools"`
	}
	if firstByte(body) != '{' || json.Unmarshal(body, &in) != nil {
		return nil, badRequest("the request body must be a JSON object")
	}
	if jsonscan.IsNull(in.Messages) {
		return nil, badRequest("messages: Field required")
	}
	if _, err := asList("messages", in.Messages); err != nil {
		return nil, err
	}
	var c counter
	for _, raw := range []json.RawMessage{in.System, in.Messages} {
		if jsonscan.IsNull(raw) {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil {
			c.walk(v)
		}
	}
	if !jsonscan.IsNull(in.Tools) {
		var buf bytes.Buffer
		if json.Compact(&buf, in.Tools) == nil {
			c.bytes += int64(buf.Len())
		}
	}
	n := (c.bytes+bytesPerToken-1)/bytesPerToken + c.attachments*attachmentTokens
	return mustJSON(struct {
		InputTokens int64 `json:"input_tokens"`
	}{n}), nil
}

type counter struct {
	bytes, attachments int64
}

// skipped are fields that name or mark content rather than hold it.
var skipped = map[string]bool{"type": true, "id": true, "tool_use_id": true, "cache_control": true, "signature": true, "media_type": true}

func (c *counter) walk(v any) {
	switch v := v.(type) {
	case string:
		c.bytes += int64(len(v))
	case []any:
		for _, e := range v {
			c.walk(e)
		}
	case map[string]any:
		for k, e := range v {
			switch {
			case skipped[k]:
			case k == "source":
				if s, ok := e.(map[string]any); ok && s["type"] != "text" && s["type"] != "content" {
					c.attachments++
					continue
				}
				c.walk(e)
			default:
				c.walk(e)
			}
		}
	}
}
