package messagesapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Request is what the gateway needs to know about a Messages request.
type Request struct {
	// Model is the model the client named: the gateway routes on it and
	// the answer names it back.
	Model string
	// Stream is whether the client asked for an event stream.
	Stream bool
}

// maxUserLen bounds the user chat completions receives from
// metadata.user_id. Claude Code sends a JSON string of ids there (about 150
// bytes); the bound keeps a client from shipping kilobytes to a
// provider's abuse logs while leaving such ids whole.
const maxUserLen = 256

// messagesRequest is the part of a Messages request ToChat reads; every
// other field is dropped (see the package doc). Raw values let each field
// be checked with an error that names it.
type messagesRequest struct {
	Model         json.RawMessage `json:"model"`
	MaxTokens     json.RawMessage `json:"max_tokens"`
	Messages      json.RawMessage `json:"messages"`
	System        json.RawMessage `json:"system"`
	Temperature   json.RawMessage `json:"temperature"`
	TopP          json.RawMessage `json:"top_p"`
	StopSequences json.RawMessage `json:"stop_sequences"`
	Stream        json.RawMessage `json:"stream"`
	Metadata      json.RawMessage `json:"metadata"`
	Tools         json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage `json:"tool_choice"`
}

// chatRequest is the chat completions body ToChat writes.
type chatRequest struct {
	Model             string         `json:"model"`
	Messages          []chatMessage  `json:"messages"`
	MaxTokens         int64          `json:"max_tokens"`
	Temperature       *float64       `json:"temperature,omitempty"`
	TopP              *float64       `json:"top_p,omitempty"`
	Stop              []string       `json:"stop,omitempty"`
	Stream            bool           `json:"stream,omitempty"`
	StreamOptions     *streamOptions `json:"stream_options,omitempty"`
	Tools             []chatTool     `json:"tools,omitempty"`
	ToolChoice        any            `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool          `json:"parallel_tool_calls,omitempty"`
	User              string         `json:"user,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ToChat converts a Messages request body (POST /v1/messages) into an
// OpenAI chat completions body. Errors wrap translate.ErrBadRequest; their
// text is a message the client can act on.
func ToChat(body []byte) (chat []byte, req Request, err error) {
	var in messagesRequest
	if firstByte(body) != '{' || json.Unmarshal(body, &in) != nil {
		return nil, Request{}, badRequest("the request body must be a JSON object")
	}
	out := chatRequest{}
	if jsonscan.IsNull(in.Model) {
		return nil, Request{}, badRequest("model: Field required")
	}
	if out.Model, err = asString("model", in.Model); err != nil {
		return nil, Request{}, err
	}
	if jsonscan.IsNull(in.MaxTokens) {
		return nil, Request{}, badRequest("max_tokens: Field required")
	}
	if err := json.Unmarshal(in.MaxTokens, &out.MaxTokens); err != nil {
		return nil, Request{}, badRequest("max_tokens: Input should be a valid integer, got %s", jsonscan.Kind(in.MaxTokens))
	}
	if out.MaxTokens < 1 {
		return nil, Request{}, badRequest("max_tokens: Input should be greater than or equal to 1")
	}
	if out.Temperature, err = number("temperature", in.Temperature); err != nil {
		return nil, Request{}, err
	}
	if out.TopP, err = number("top_p", in.TopP); err != nil {
		return nil, Request{}, err
	}
	if !jsonscan.IsNull(in.StopSequences) {
		if json.Unmarshal(in.StopSequences, &out.Stop) != nil || firstByte(in.StopSequences) != '[' {
			return nil, Request{}, badRequest("stop_sequences: Input should be a valid list of strings")
		}
	}
	if !jsonscan.IsNull(in.Stream) {
		if json.Unmarshal(in.Stream, &out.Stream) != nil {
			return nil, Request{}, badRequest("stream: Input should be a valid boolean, got %s", jsonscan.Kind(in.Stream))
		}
	}
	if out.Stream {
		// The usage comes in a last chunk only when asked for; a
		// Messages stream always reports it.
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if out.User, err = user(in.Metadata); err != nil {
		return nil, Request{}, err
	}
	if out.Messages, err = system(in.System); err != nil {
		return nil, Request{}, err
	}
	if jsonscan.IsNull(in.Messages) {
		return nil, Request{}, badRequest("messages: Field required")
	}
	turns, err := asList("messages", in.Messages)
	if err != nil {
		return nil, Request{}, err
	}
	if len(turns) == 0 {
		return nil, Request{}, badRequest("messages: at least one message is required")
	}
	for i, t := range turns {
		if out.Messages, err = appendTurn(out.Messages, "messages."+strconv.Itoa(i), t); err != nil {
			return nil, Request{}, err
		}
	}
	if out.Tools, err = tools(in.Tools); err != nil {
		return nil, Request{}, err
	}
	if out.ToolChoice, out.ParallelToolCalls, err = toolChoice(in.ToolChoice, len(out.Tools) > 0); err != nil {
		return nil, Request{}, err
	}
	chat, err = jsonscan.Marshal(out)
	if err != nil {
		return nil, Request{}, badRequest("the request cannot be encoded: %v", err)
	}
	return chat, Request{Model: out.Model, Stream: out.Stream}, nil
}

// number reads an optional number field.
func number(where string, raw json.RawMessage) (*float64, error) {
	if jsonscan.IsNull(raw) {
		return nil, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return nil, badRequest("%s: Input should be a valid number, got %s", where, jsonscan.Kind(raw))
	}
	return &f, nil
}

// user is metadata.user_id as chat's user, cut at maxUserLen on a
// character boundary.
func user(metadata json.RawMessage) (string, error) {
	if jsonscan.IsNull(metadata) {
		return "", nil
	}
	var m struct {
		UserID json.RawMessage `json:"user_id"`
	}
	if err := asObject("metadata", metadata, &m); err != nil {
		return "", err
	}
	if jsonscan.IsNull(m.UserID) {
		return "", nil
	}
	id, err := asString("metadata.user_id", m.UserID)
	if err != nil {
		return "", err
	}
	if len(id) > maxUserLen {
		cut := maxUserLen
		for cut > 0 && !utf8.RuneStart(id[cut]) {
			cut--
		}
		id = id[:cut]
	}
	return id, nil
}

// system is the leading system message: a string, or text blocks joined
// with a blank line (every OpenAI-compatible server takes a string; not
// all take parts in a system message).
func system(raw json.RawMessage) ([]chatMessage, error) {
	if jsonscan.IsNull(raw) {
		return nil, nil
	}
	text, err := textOnly("system", raw)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, nil
	}
	return []chatMessage{{Role: "system", Content: text}}, nil
}

// textOnly reads content that may only hold text: a string or a list of
// text blocks, joined with a blank line.
func textOnly(where string, raw json.RawMessage) (string, error) {
	if firstByte(raw) == '"' {
		return asString(where, raw)
	}
	blocks, err := asList(where, raw)
	if err != nil {
		return "", badRequest("%s: Input should be a valid string or list of text blocks, got %s", where, jsonscan.Kind(raw))
	}
	var texts []string
	for j, b := range blocks {
		bw := where + "." + strconv.Itoa(j)
		var tb struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := asObject(bw, b, &tb); err != nil {
			return "", err
		}
		if tb.Type != "text" || tb.Text == nil {
			return "", badRequest("%s: want a text block, got type %q", bw, tb.Type)
		}
		if *tb.Text != "" {
			texts = append(texts, *tb.Text)
		}
	}
	return joinText(texts), nil
}

// joinText joins text blocks with a blank line, as paragraphs.
func joinText(texts []string) string {
	if len(texts) == 1 {
		return texts[0]
	}
	var b bytes.Buffer
	for i, t := range texts {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	return b.String()
}
