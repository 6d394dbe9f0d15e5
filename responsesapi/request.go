package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/translate"
)

// ErrNeedsStore marks a request that continues a stored response
// (previous_response_id): llmvoy keeps no response store yet. ToChat's
// error wraps it and translate.ErrBadRequest both, so a gateway that does
// not look for it still answers 400 with its message.
var ErrNeedsStore = errors.New("previous_response_id needs a response store")

// Request is what the gateway needs to know about a Responses request, and
// what its response echoes. JSON members are kept as the client wrote them
// (nil when absent or null).
type Request struct {
	// Model is the model the client asked for, which picks the route.
	Model string
	// Stream is whether the client wants an event stream.
	Stream bool
	// PreviousResponseID is set only on a request ToChat refused with
	// ErrNeedsStore.
	PreviousResponseID string
	// User is user, else safety_identifier.
	User string

	Instructions      json.RawMessage
	Tools             json.RawMessage
	ToolChoice        json.RawMessage
	ParallelToolCalls json.RawMessage
	Temperature       json.RawMessage
	TopP              json.RawMessage
	MaxOutputTokens   json.RawMessage
	Text              json.RawMessage
	Reasoning         json.RawMessage
	Store             json.RawMessage
	Metadata          json.RawMessage

	// namespaced maps a flattened chat function name back to the namespace
	// tool it came from.
	namespaced map[string]toolName
}

// responsesRequest is a POST /v1/responses body, members the translation
// reads kept raw so each is checked with an error naming it.
type responsesRequest struct {
	Model              json.RawMessage `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       json.RawMessage `json:"instructions"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ParallelToolCalls  json.RawMessage `json:"parallel_tool_calls"`
	Temperature        json.RawMessage `json:"temperature"`
	TopP               json.RawMessage `json:"top_p"`
	MaxOutputTokens    json.RawMessage `json:"max_output_tokens"`
	Text               json.RawMessage `json:"text"`
	Reasoning          json.RawMessage `json:"reasoning"`
	Store              json.RawMessage `json:"store"`
	Metadata           json.RawMessage `json:"metadata"`
	PreviousResponseID json.RawMessage `json:"previous_response_id"`
	User               json.RawMessage `json:"user"`
	SafetyIdentifier   json.RawMessage `json:"safety_identifier"`
	Stream             json.RawMessage `json:"stream"`
}

// chatRequest is the chat completion body ToChat writes.
type chatRequest struct {
	Model             string          `json:"model"`
	Messages          []chatMessage   `json:"messages"`
	Tools             []chatTool      `json:"tools,omitempty"`
	ToolChoice        any             `json:"tool_choice,omitempty"`
	ParallelToolCalls json.RawMessage `json:"parallel_tool_calls,omitempty"`
	Temperature       json.RawMessage `json:"temperature,omitempty"`
	TopP              json.RawMessage `json:"top_p,omitempty"`
	MaxTokens         json.RawMessage `json:"max_tokens,omitempty"`
	User              string          `json:"user,omitempty"`
	ResponseFormat    any             `json:"response_format,omitempty"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *streamOptions  `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ToChat converts a Responses request body (POST /v1/responses) into an
// OpenAI chat completions body. Errors wrap translate.ErrBadRequest with a
// message a client can act on; a request continuing a stored response
// wraps ErrNeedsStore too.
func ToChat(body []byte) (chat []byte, req Request, err error) {
	chat, req, err = toChat(body)
	switch {
	case errors.Is(err, ErrNeedsStore):
		return nil, req, fmt.Errorf("%w: %w", translate.ErrBadRequest, err)
	case err != nil:
		return nil, req, fmt.Errorf("%w: %v", translate.ErrBadRequest, err)
	}
	return chat, req, nil
}

func toChat(body []byte) ([]byte, Request, error) {
	var req Request
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, req, errors.New("the body must be a JSON object")
	}
	var in responsesRequest
	if err := json.Unmarshal(trimmed, &in); err != nil {
		return nil, req, fmt.Errorf("the body is not valid JSON: %v", err)
	}
	var err error
	if req.Model, err = optString("model", in.Model); err != nil {
		return nil, req, err
	}
	if req.Model == "" {
		return nil, req, errors.New("model: required")
	}
	if v := raw(in.Stream); v != nil {
		if err := json.Unmarshal(v, &req.Stream); err != nil {
			return nil, req, fmt.Errorf("stream: want a boolean, got %s", jsonscan.Kind(v))
		}
	}
	if req.PreviousResponseID, err = optString("previous_response_id", in.PreviousResponseID); err != nil {
		return nil, req, err
	}
	if req.PreviousResponseID != "" {
		return nil, req, ErrNeedsStore
	}
	if req.User, err = optString("user", in.User); err != nil {
		return nil, req, err
	}
	if req.User == "" {
		if req.User, err = optString("safety_identifier", in.SafetyIdentifier); err != nil {
			return nil, req, err
		}
	}
	instructions, err := optString("instructions", in.Instructions)
	if err != nil {
		return nil, req, err
	}
	req.Instructions = raw(in.Instructions)
	req.Tools, req.ToolChoice = raw(in.Tools), raw(in.ToolChoice)
	req.Text, req.Reasoning, req.Metadata = raw(in.Text), raw(in.Reasoning), raw(in.Metadata)
	for _, f := range []struct {
		key string
		v   json.RawMessage
		dst *json.RawMessage
	}{
		{"temperature", in.Temperature, &req.Temperature},
		{"top_p", in.TopP, &req.TopP},
		{"max_output_tokens", in.MaxOutputTokens, &req.MaxOutputTokens},
	} {
		if v := raw(f.v); v != nil {
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil || v[0] == '"' {
				return nil, req, fmt.Errorf("%s: want a number, got %s", f.key, jsonscan.Kind(v))
			}
			*f.dst = v
		}
	}
	for _, f := range []struct {
		key string
		v   json.RawMessage
		dst *json.RawMessage
	}{
		{"parallel_tool_calls", in.ParallelToolCalls, &req.ParallelToolCalls},
		{"store", in.Store, &req.Store},
	} {
		if v := raw(f.v); v != nil {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, req, fmt.Errorf("%s: want a boolean, got %s", f.key, jsonscan.Kind(v))
			}
			*f.dst = v
		}
	}

	out := chatRequest{
		Model:       req.Model,
		Temperature: req.Temperature,
		TopP:        req.TopP,
		MaxTokens:   req.MaxOutputTokens,
		User:        req.User,
		Stream:      req.Stream,
	}
	if req.Stream {
		// The usage arrives in the last chunk only when asked for; the
		// Responses stream must carry it in response.completed.
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if instructions != "" {
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: instructions})
	}
	var ts tools
	if ts, err = readTools(req.Tools); err != nil {
		return nil, req, err
	}
	req.namespaced = ts.namespaced
	msgs, err := readInput(raw(in.Input), ts)
	if err != nil {
		return nil, req, err
	}
	out.Messages = append(out.Messages, msgs...)
	if len(ts.chat) > 0 {
		out.Tools = ts.chat
		// Chat completions refuse tool_choice and parallel_tool_calls
		// without tools.
		if out.ToolChoice, err = ts.choice(req.ToolChoice); err != nil {
			return nil, req, err
		}
		out.ParallelToolCalls = req.ParallelToolCalls
	} else if _, err := ts.choice(req.ToolChoice); err != nil {
		return nil, req, err
	}
	if out.ResponseFormat, err = responseFormat(req.Text); err != nil {
		return nil, req, err
	}
	chat, err := jsonscan.Marshal(out)
	if err != nil {
		return nil, req, err
	}
	return chat, req, nil
}

// responseFormat maps text.format to the chat response_format (nil for
// plain text).
func responseFormat(text json.RawMessage) (any, error) {
	if text == nil {
		return nil, nil
	}
	var t struct {
		Format json.RawMessage `json:"format"`
	}
	if err := json.Unmarshal(text, &t); err != nil {
		return nil, fmt.Errorf("text: want an object, got %s", jsonscan.Kind(text))
	}
	if raw(t.Format) == nil {
		return nil, nil
	}
	var f struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	}
	if err := json.Unmarshal(t.Format, &f); err != nil {
		return nil, fmt.Errorf("text.format: %v", jsonscan.DecodeError(err))
	}
	switch f.Type {
	case "text":
		return nil, nil
	case "json_object":
		return map[string]string{"type": "json_object"}, nil
	case "json_schema":
		if f.Name == "" {
			return nil, errors.New("text.format.name: required for json_schema")
		}
		if raw(f.Schema) == nil {
			return nil, errors.New("text.format.schema: required for json_schema")
		}
		type jsonSchema struct {
			Name        string          `json:"name"`
			Description *string         `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		return struct {
			Type       string     `json:"type"`
			JSONSchema jsonSchema `json:"json_schema"`
		}{"json_schema", jsonSchema{f.Name, f.Description, f.Schema, f.Strict}}, nil
	}
	return nil, fmt.Errorf("text.format.type: want text, json_object or json_schema, got %q", f.Type)
}
