package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

func anthropicUserContent(where string, content json.RawMessage) ([]json.RawMessage, error) {
	if jsonscan.IsNull(content) || content[0] == '"' {
		parts, err := textParts(where, content)
		if err != nil {
			return nil, err
		}
		return anthropicMarshalBlocks(parts)
	}
	parts, err := contentParts(where, content)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for j, p := range parts {
		pwhere := fmt.Sprintf("%s.content[%d]", where, j)
		var block any
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, fmt.Errorf("%s.text: required", pwhere)
			}
			if *p.Text == "" {
				continue
			}
			block = messagesTextBlock{Type: "text", Text: *p.Text, CacheControl: p.CacheControl}
		case "image_url":
			b, err := anthropicImage(pwhere, p)
			if err != nil {
				return nil, err
			}
			block = b
		case "file":
			b, err := anthropicFile(pwhere, p)
			if err != nil {
				return nil, err
			}
			block = b
		case "input_audio":
			return nil, fmt.Errorf("%s: Anthropic models do not take audio input", pwhere)
		default:
			return nil, fmt.Errorf("%s: unsupported content part type %q", pwhere, p.Type)
		}
		b, err := jsonscan.Marshal(block)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// anthropicImage turns an image_url part into an image block: a data: URL
// becomes a base64 source, an http(s) URL a url source that Anthropic
// fetches itself. A data: URL of a PDF becomes a document block.
func anthropicImage(where string, p openAIContentPart) (anthropicSourceBlock, error) {
	var url string
	if len(p.ImageURL) > 0 && p.ImageURL[0] == '"' {
		url, _ = jsonscan.String(p.ImageURL) // a bare string, as LiteLLM also accepts
	} else {
		var iu struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(p.ImageURL, &iu); err != nil {
			return anthropicSourceBlock{}, fmt.Errorf("%s.image_url: want an object with url, got %s", where, jsonscan.Kind(p.ImageURL))
		}
		url = iu.URL
	}
	switch {
	case strings.HasPrefix(url, "data:"):
		mediaType, data, err := parseDataURL(url)
		if err != nil {
			return anthropicSourceBlock{}, fmt.Errorf("%s.image_url.url: %v", where, err)
		}
		kind := "image"
		if mediaType == "application/pdf" {
			kind = "document"
		}
		return anthropicSourceBlock{Type: kind, Source: anthropicSource{Type: "base64", MediaType: mediaType, Data: data}, CacheControl: p.CacheControl}, nil
	case strings.HasPrefix(url, "https://"), strings.HasPrefix(url, "http://"):
		return anthropicSourceBlock{Type: "image", Source: anthropicSource{Type: "url", URL: url}, CacheControl: p.CacheControl}, nil
	}
	return anthropicSourceBlock{}, fmt.Errorf("%s.image_url.url: want a data: or http(s) URL", where)
}

// anthropicFile turns a file part carrying file_data (a base64 data: URL,
// in practice a PDF) into a document block. File ids name OpenAI's file
// store, which Anthropic cannot read.
func anthropicFile(where string, p openAIContentPart) (anthropicSourceBlock, error) {
	var f struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	}
	if err := json.Unmarshal(p.File, &f); err != nil {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file: want an object, got %s", where, jsonscan.Kind(p.File))
	}
	if f.FileData == "" {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file: only file_data (a base64 data: URL) is supported for Anthropic deployments", where)
	}
	mediaType, data, err := parseDataURL(f.FileData)
	if err != nil {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file.file_data: %v", where, err)
	}
	kind := "document"
	if strings.HasPrefix(mediaType, "image/") {
		kind = "image"
	}
	return anthropicSourceBlock{Type: kind, Source: anthropicSource{Type: "base64", MediaType: mediaType, Data: data}, CacheControl: p.CacheControl}, nil
}

func anthropicAssistantContent(where string, m openAIChatMessage) ([]json.RawMessage, error) {
	var out []json.RawMessage
	// Thinking blocks (LiteLLM's extension, returned in earlier answers)
	// must open the turn when extended thinking is on.
	for _, tb := range m.ThinkingBlocks {
		if !jsonscan.IsNull(tb) {
			out = append(out, tb)
		}
	}
	texts, err := assistantText(where, m.Content)
	if err != nil {
		return nil, err
	}
	for _, t := range texts {
		b, _ := jsonscan.Marshal(t)
		out = append(out, b)
	}
	for j, tc := range m.ToolCalls {
		twhere := fmt.Sprintf("%s.tool_calls[%d]", where, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, fmt.Errorf("%s.type: unsupported tool call type %q", twhere, tc.Type)
		}
		input, err := toolArgumentsObject(tc.Function.Arguments)
		if err != nil {
			return nil, fmt.Errorf("%s.function.arguments: %v", twhere, err)
		}
		b, err := jsonscan.Marshal(anthropicToolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(m.FunctionCall) > 0 && !jsonscan.IsNull(m.FunctionCall) {
		return nil, fmt.Errorf("%s.function_call: deprecated and not supported for Anthropic deployments; use tool_calls", where)
	}
	anthropicCacheLast(out, m.CacheControl)
	return out, nil
}

// anthropicToolResult turns a tool message into a tool_result block; the
// caller puts it in a user turn.
func anthropicToolResult(where string, m openAIChatMessage) (json.RawMessage, error) {
	if m.ToolCallID == "" {
		return nil, fmt.Errorf("%s.tool_call_id: required", where)
	}
	content := json.RawMessage(`""`)
	switch {
	case jsonscan.IsNull(m.Content):
	case m.Content[0] == '"':
		content = m.Content
	default:
		parts, err := textParts(where, m.Content)
		if err != nil {
			return nil, err
		}
		if content, err = jsonscan.Marshal(parts); err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			content = json.RawMessage(`""`)
		}
	}
	return jsonscan.Marshal(anthropicToolResultBlock{Type: "tool_result", ToolUseID: m.ToolCallID, Content: content, CacheControl: m.CacheControl})
}

// anthropicCacheLast puts a message-level cache_control (LiteLLM's
// extension) on the message's last block.
func anthropicCacheLast(blocks []json.RawMessage, cc json.RawMessage) {
	if len(blocks) == 0 || jsonscan.IsNull(cc) {
		return
	}
	last := blocks[len(blocks)-1]
	fields, err := jsonscan.Fields(last)
	if err != nil {
		return
	}
	blocks[len(blocks)-1] = jsonscan.Set(last, fields, "cache_control", cc)
}
