package messagesapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// chatMessage is one chat completions message. Content is a string, a list
// of chatParts, or nil (null: an assistant turn of tool calls only).
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chatPart is a content part of a user message.
type chatPart struct {
	Type     string        `json:"type"`
	Text     *string       `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
	File     *chatFile     `json:"file,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

type chatFile struct {
	Filename string `json:"filename,omitempty"`
	FileData string `json:"file_data"`
}

func textPart(s string) chatPart { return chatPart{Type: "text", Text: &s} }

// block is any Messages content block; fields are set by type.
type block struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Title     string          `json:"title"`
	Source    json.RawMessage `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// source is where an image's or document's bytes are.
type source struct {
	Type      string          `json:"type"`
	MediaType string          `json:"media_type"`
	Data      string          `json:"data"`
	URL       string          `json:"url"`
	Content   json.RawMessage `json:"content"`
}

// serverBlocks are blocks only Anthropic's servers write into an
// assistant turn (their tools' calls and results). No chat server could
// read them; their tools are dropped from the request too.
var serverBlocks = map[string]bool{
	"server_tool_use": true, "web_search_tool_result": true, "web_fetch_tool_result": true,
	"code_execution_tool_result": true, "bash_code_execution_tool_result": true,
	"text_editor_code_execution_tool_result": true, "mcp_tool_use": true, "mcp_tool_result": true,
	"container_upload": true, "tool_search_tool_result": true,
}

// appendTurn appends the chat messages of one Messages turn.
func appendTurn(out []chatMessage, where string, raw json.RawMessage) ([]chatMessage, error) {
	var t struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := asObject(where, raw, &t); err != nil {
		return nil, err
	}
	if jsonscan.IsNull(t.Content) {
		return nil, badRequest("%s.content: Field required", where)
	}
	switch t.Role {
	case "user":
		return appendUser(out, where, t.Content)
	case "assistant":
		return appendAssistant(out, where, t.Content)
	case "system":
		// Claude Code sends one after the first user turn; chat
		// completions takes a system message anywhere.
		text, err := textOnly(where+".content", t.Content)
		if err != nil || text == "" {
			return out, err
		}
		return append(out, chatMessage{Role: "system", Content: text}), nil
	}
	return nil, badRequest("%s.role: Input should be 'user' or 'assistant', got %q", where, t.Role)
}

// appendUser appends a user turn: its tool results first, as tool
// messages (chat wants them right after the assistant's tool calls), then
// the rest as one user message.
func appendUser(out []chatMessage, where string, content json.RawMessage) ([]chatMessage, error) {
	where += ".content"
	if firstByte(content) == '"' {
		s, err := asString(where, content)
		return append(out, chatMessage{Role: "user", Content: s}), err
	}
	blocks, err := asList(where, content)
	if err != nil {
		return nil, badRequest("%s: Input should be a valid string or list of content blocks, got %s", where, jsonscan.Kind(content))
	}
	// Images of tool results lead the user message, nearest to the
	// results they belong to.
	var toolImages, parts []chatPart
	for j, raw := range blocks {
		bw := where + "." + strconv.Itoa(j)
		var b block
		if err := asObject(bw, raw, &b); err != nil {
			return nil, err
		}
		switch b.Type {
		case "tool_result":
			msg, images, err := toolResult(bw, b)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
			toolImages = append(toolImages, images...)
		case "thinking", "redacted_thinking":
			// Signed for Anthropic alone; never sent on.
		default:
			p, err := userPart(bw, b)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p...)
		}
	}
	parts = append(toolImages, parts...)
	if len(parts) == 0 {
		return out, nil
	}
	return append(out, chatMessage{Role: "user", Content: partsContent(parts)}), nil
}

// partsContent is a user message's content: a string when it is all text
// (every OpenAI-compatible server takes one), else the parts.
func partsContent(parts []chatPart) any {
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" {
			return parts
		}
		texts = append(texts, *p.Text)
	}
	return joinText(texts)
}

// userPart converts a block of user content other than a tool result.
func userPart(where string, b block) ([]chatPart, error) {
	switch b.Type {
	case "text":
		if b.Text == nil {
			return nil, badRequest("%s.text: Field required", where)
		}
		return []chatPart{textPart(*b.Text)}, nil
	case "image":
		p, err := imagePart(where, b)
		return []chatPart{p}, err
	case "document":
		return documentPart(where, b)
	case "tool_use":
		return nil, badRequest("%s: tool_use blocks belong in assistant turns", where)
	}
	return nil, badRequest("%s.type: block type %q is not supported in user turns", where, b.Type)
}

func readSource(where string, raw json.RawMessage) (source, error) {
	var s source
	if jsonscan.IsNull(raw) {
		return s, badRequest("%s.source: Field required", where)
	}
	err := asObject(where+".source", raw, &s)
	return s, err
}

// imagePart is an image as chat's image_url: a data URL for base64 bytes.
func imagePart(where string, b block) (chatPart, error) {
	s, err := readSource(where, b.Source)
	if err != nil {
		return chatPart{}, err
	}
	switch s.Type {
	case "base64":
		if s.MediaType == "" {
			return chatPart{}, badRequest("%s.source.media_type: Field required", where)
		}
		return chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}}, nil
	case "url":
		if s.URL == "" {
			return chatPart{}, badRequest("%s.source.url: Field required", where)
		}
		return chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: s.URL}}, nil
	}
	return chatPart{}, badRequest("%s.source.type: image source %q is not supported by this deployment; send base64 data or a URL", where, s.Type)
}

// documentPart is a document: a PDF as chat's file part, text as text.
func documentPart(where string, b block) ([]chatPart, error) {
	s, err := readSource(where, b.Source)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case "base64":
		if s.MediaType != "application/pdf" {
			return nil, badRequest("%s.source.media_type: want application/pdf for a base64 document, got %q", where, s.MediaType)
		}
		name := b.Title
		if name == "" {
			name = "document.pdf"
		}
		return []chatPart{{Type: "file", File: &chatFile{Filename: name, FileData: "data:application/pdf;base64," + s.Data}}}, nil
	case "text":
		return []chatPart{textPart(s.Data)}, nil
	case "content":
		text, err := textOnly(where+".source.content", s.Content)
		if err != nil {
			return nil, err
		}
		return []chatPart{textPart(text)}, nil
	}
	return nil, badRequest("%s.source.type: document source %q is not supported by this deployment; send base64 PDF data or text", where, s.Type)
}

// toolResult is a tool_result block as a tool message, and the images it
// held (a tool message carries text only).
func toolResult(where string, b block) (chatMessage, []chatPart, error) {
	if b.ToolUseID == "" {
		return chatMessage{}, nil, badRequest("%s.tool_use_id: Field required", where)
	}
	var texts []string
	var images []chatPart
	switch firstByte(b.Content) {
	case 0, 'n':
	case '"':
		s, err := asString(where+".content", b.Content)
		if err != nil {
			return chatMessage{}, nil, err
		}
		texts = append(texts, s)
	default:
		blocks, err := asList(where+".content", b.Content)
		if err != nil {
			return chatMessage{}, nil, err
		}
		for k, raw := range blocks {
			cw := where + ".content." + strconv.Itoa(k)
			var c block
			if err := asObject(cw, raw, &c); err != nil {
				return chatMessage{}, nil, err
			}
			p, err := userPart(cw, c)
			if err != nil {
				return chatMessage{}, nil, err
			}
			for _, part := range p {
				if part.Type == "text" {
					texts = append(texts, *part.Text)
				} else {
					images = append(images, part)
				}
			}
		}
	}
	text := strings.Join(texts, "\n")
	if b.IsError {
		// Chat has no error flag on a tool message: the model reads it.
		text = "Error: " + text
	}
	return chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: text}, images, nil
}

// appendAssistant appends an assistant turn: its text as content, its
// tool_use blocks as tool_calls.
func appendAssistant(out []chatMessage, where string, content json.RawMessage) ([]chatMessage, error) {
	where += ".content"
	if firstByte(content) == '"' {
		s, err := asString(where, content)
		return append(out, chatMessage{Role: "assistant", Content: s}), err
	}
	blocks, err := asList(where, content)
	if err != nil {
		return nil, badRequest("%s: Input should be a valid string or list of content blocks, got %s", where, jsonscan.Kind(content))
	}
	msg := chatMessage{Role: "assistant"}
	var texts []string
	for j, raw := range blocks {
		bw := where + "." + strconv.Itoa(j)
		var b block
		if err := asObject(bw, raw, &b); err != nil {
			return nil, err
		}
		switch {
		case b.Type == "text":
			if b.Text == nil {
				return nil, badRequest("%s.text: Field required", bw)
			}
			if *b.Text != "" {
				texts = append(texts, *b.Text)
			}
		case b.Type == "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, badRequest("%s: a tool_use block needs an id and a name", bw)
			}
			tc := chatToolCall{ID: b.ID, Type: "function"}
			tc.Function.Name = b.Name
			tc.Function.Arguments = arguments(b.Input)
			msg.ToolCalls = append(msg.ToolCalls, tc)
		case b.Type == "thinking", b.Type == "redacted_thinking", serverBlocks[b.Type]:
			// See serverBlocks; thinking is signed for Anthropic alone.
		default:
			return nil, badRequest("%s.type: block type %q is not supported in assistant turns", bw, b.Type)
		}
	}
	if len(texts) > 0 {
		msg.Content = joinText(texts)
	}
	if msg.Content == nil && len(msg.ToolCalls) == 0 {
		return out, nil // only thinking: nothing a chat server could read
	}
	return append(out, msg), nil
}

// arguments is a tool_use input as chat's arguments string.
func arguments(input json.RawMessage) string {
	if jsonscan.IsNull(input) {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, input) != nil {
		return string(input)
	}
	return buf.String()
}
