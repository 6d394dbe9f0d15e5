package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// anthropic speaks Anthropic's Messages API (POST {api_base}/v1/messages):
// OpenAI chat completions are rewritten into Messages requests, and messages,
// SSE streams and errors back into OpenAI's shapes, following what LiteLLM's
// AnthropicConfig does for the same request.
type anthropic struct{}

var _ Translator = anthropic{}

func init() { register(config.APIAnthropic, anthropic{}) }

// anthropicVersion is the Messages API version llmvoy speaks, sent in the
// anthropic-version header Anthropic requires (LiteLLM sends the same).
const anthropicVersion = "2023-06-01"

// anthropicDefaultMaxTokens is max_tokens when the client sets neither
// max_tokens nor max_completion_tokens. Anthropic requires the field; LiteLLM
// fills in DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS, 4096, and so does llmvoy.
const anthropicDefaultMaxTokens = 4096

// anthropicNow is the clock for the "created" field of translated responses;
// tests fix it.
var anthropicNow = time.Now

func (anthropic) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	// The client's query string is for OpenAI's API and is not forwarded;
	// a query written in the api_base is.
	path := anthropicPath(d.APIBase.EscapedPath(), ep)
	if q := d.APIBase.RawQuery; q != "" {
		path += "?" + q
	}
	h := RequestHead{Path: path, Authority: d.APIBase.Host}
	if key := d.APIKey.Reveal(); key != "" {
		h.Set = append(h.Set, Header{Key: "x-api-key", Value: key})
	}
	h.Set = append(h.Set,
		Header{Key: "anthropic-version", Value: anthropicVersion},
		Header{Key: "content-type", Value: "application/json"},
		// llmvoy reads and rewrites the answer: it must not come back
		// compressed because the client said it accepts gzip.
		Header{Key: "accept-encoding", Value: "identity"},
	)
	return h, nil
}

// anthropicPath appends the Messages API path to an api_base path. A base
// that already ends in /v1/messages is used as written, as LiteLLM does.
// /models (the health probe) lists models instead.
func anthropicPath(base string, ep Endpoint) string {
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1/messages")
	if ep == "/models" {
		return base + "/v1/models"
	}
	return base + "/v1/messages"
}

// TranslatesResponses is true: every Anthropic answer is rewritten.
func (anthropic) TranslatesResponses(*config.Deployment) bool { return true }

// RequestBody translates an OpenAI chat completion request into a Messages
// request for d.
//
// OpenAI parameters Anthropic has no equivalent for are dropped, as LiteLLM
// does with drop_params: frequency_penalty, presence_penalty, logit_bias,
// logprobs, top_logprobs, n (one choice is returned), seed, service_tier,
// store, metadata (OpenAI's stored-completion tags), modalities, audio,
// prediction, web_search_options, functions and function_call
// (deprecated), verbosity, safety_identifier, prompt_cache_key, and any key
// llmvoy does not know. top_k and thinking are Anthropic's own parameters
// and pass through. response_format asks for JSON through a forced tool, as
// LiteLLM does (see anthropicJSONTool).
func (anthropic) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	if ep != ChatCompletions {
		return nil, nil, fmt.Errorf("%w: deployment %s speaks Anthropic's Messages API, which serves /chat/completions only, not %s", ErrBadRequest, d.ID, ep)
	}
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	req, err := anthropicTranslateRequest(fields, d.UpstreamModel)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	out, err := anthropicMarshal(req.out)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return out, &anthropicResponse{includeUsage: req.includeUsage, jsonMode: req.jsonMode, created: anthropicNow().Unix()}, nil
}

// anthropicRequest is a Messages API request, in the order fields are sent.
type anthropicRequest struct {
	Model         string             `json:"model"`
	System        json.RawMessage    `json:"system,omitempty"`
	Messages      []anthropicMessage `json:"messages"`
	MaxTokens     json.RawMessage    `json:"max_tokens"`
	StopSequences []string           `json:"stop_sequences,omitempty"`
	Temperature   json.RawMessage    `json:"temperature,omitempty"`
	TopP          json.RawMessage    `json:"top_p,omitempty"`
	TopK          json.RawMessage    `json:"top_k,omitempty"`
	Stream        bool               `json:"stream,omitempty"`
	Metadata      *anthropicMetadata `json:"metadata,omitempty"`
	Thinking      json.RawMessage    `json:"thinking,omitempty"`
	Tools         []anthropicTool    `json:"tools,omitempty"`
	ToolChoice    json.RawMessage    `json:"tool_choice,omitempty"`
}

type anthropicMessage struct {
	Role    string            `json:"role"`
	Content []json.RawMessage `json:"content"`
}

type anthropicMetadata struct {
	UserID string `json:"user_id"`
}

type anthropicTool struct {
	Name         string          `json:"name"`
	Description  *string         `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// Content blocks llmvoy writes.
type (
	anthropicTextBlock struct {
		Type         string          `json:"type"` // "text"
		Text         string          `json:"text"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
	anthropicSourceBlock struct {
		Type         string          `json:"type"` // "image" or "document"
		Source       anthropicSource `json:"source"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
	anthropicSource struct {
		Type      string `json:"type"` // "base64" or "url"
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	anthropicToolUseBlock struct {
		Type  string          `json:"type"` // "tool_use"
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	anthropicToolResultBlock struct {
		Type         string          `json:"type"` // "tool_result"
		ToolUseID    string          `json:"tool_use_id"`
		Content      json.RawMessage `json:"content"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
)

// The parts of an OpenAI chat completion request the translation reads.
type (
	anthropicClientMessage struct {
		Role           string                    `json:"role"`
		Content        json.RawMessage           `json:"content"`
		ToolCalls      []anthropicClientToolCall `json:"tool_calls"`
		ToolCallID     string                    `json:"tool_call_id"`
		CacheControl   json.RawMessage           `json:"cache_control"`
		ThinkingBlocks []json.RawMessage         `json:"thinking_blocks"`
		FunctionCall   json.RawMessage           `json:"function_call"`
	}
	anthropicClientToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	anthropicClientPart struct {
		Type         string          `json:"type"`
		Text         *string         `json:"text"`
		Refusal      *string         `json:"refusal"`
		ImageURL     json.RawMessage `json:"image_url"`
		File         json.RawMessage `json:"file"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	anthropicClientTool struct {
		Type     string `json:"type"`
		Function *struct {
			Name         string          `json:"name"`
			Description  *string         `json:"description"`
			Parameters   json.RawMessage `json:"parameters"`
			CacheControl json.RawMessage `json:"cache_control"`
		} `json:"function"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
)

// anthropicTranslated is a translated request and the request facts the
// response translation needs.
type anthropicTranslated struct {
	out          anthropicRequest
	includeUsage bool
	// jsonMode: response_format asked for JSON, which comes back as a call
	// of the anthropicJSONTool tool and goes to the client as content.
	jsonMode bool
}

// anthropicJSONTool is the tool LiteLLM adds for response_format
// (RESPONSE_FORMAT_TOOL_NAME): Anthropic has no JSON mode, but a forced
// tool call's input is JSON that follows the tool's schema.
const anthropicJSONTool = "json_tool_call"

// Thinking budgets for reasoning_effort: LiteLLM's
// DEFAULT_REASONING_EFFORT_{LOW,MEDIUM,HIGH}_THINKING_BUDGET.
var anthropicThinkingBudgets = map[string]int{"low": 1024, "medium": 2048, "high": 4096}

func anthropicTranslateRequest(fields []jsonscan.Field, model string) (anthropicTranslated, error) {
	var t anthropicTranslated
	out := &t.out
	out.Model = model
	get := func(key string) []byte {
		if f, ok := jsonscan.Get(fields, key); ok && !anthropicIsNull(f.Value) {
			return f.Value
		}
		return nil
	}

	raw := get("messages")
	if raw == nil {
		return t, fmt.Errorf("messages: required")
	}
	var msgs []anthropicClientMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return t, fmt.Errorf("messages: %v", anthropicJSONError(err))
	}
	system, messages, err := anthropicMessages(msgs)
	if err != nil {
		return t, err
	}
	out.System, out.Messages = system, messages

	// Sampling parameters go as the client wrote them; Anthropic checks
	// their ranges (its temperature stops at 1, OpenAI's at 2).
	for _, p := range []struct {
		key string
		dst *json.RawMessage
	}{{"temperature", &out.Temperature}, {"top_p", &out.TopP}, {"top_k", &out.TopK}} {
		if v := get(p.key); v != nil {
			if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
				return t, fmt.Errorf("%s: want a number, got %s", p.key, anthropicKind(v))
			}
			*p.dst = v
		}
	}

	if v := get("stop"); v != nil {
		if out.StopSequences, err = anthropicStop(v); err != nil {
			return t, err
		}
	}

	if v := get("stream"); v != nil {
		b, ok := jsonscan.Bool(v)
		if !ok {
			return t, fmt.Errorf("stream: want a boolean, got %s", anthropicKind(v))
		}
		out.Stream = b
	}
	if v := get("stream_options"); v != nil && out.Stream {
		var so struct {
			IncludeUsage *bool `json:"include_usage"`
		}
		if err := json.Unmarshal(v, &so); err != nil {
			return t, fmt.Errorf("stream_options: %v", anthropicJSONError(err))
		}
		t.includeUsage = so.IncludeUsage != nil && *so.IncludeUsage
	}

	// LiteLLM sends user as metadata.user_id unless it looks like an email
	// or a phone number, which Anthropic refuses.
	if v := get("user"); v != nil {
		if user, ok := jsonscan.String(v); ok && user != "" && !anthropicEmail.MatchString(user) && !anthropicPhone.MatchString(user) {
			out.Metadata = &anthropicMetadata{UserID: user}
		}
	}

	budget := -1
	if v := get("thinking"); v != nil {
		out.Thinking = v
		var th struct {
			Type         string          `json:"type"`
			BudgetTokens json.RawMessage `json:"budget_tokens"`
		}
		if json.Unmarshal(v, &th) == nil && th.Type == "enabled" {
			// A budget past any context window is Anthropic's to refuse;
			// it must not overflow the max_tokens computed below.
			if n, err := strconv.Atoi(string(th.BudgetTokens)); err == nil && n >= 0 && n < 1<<30 {
				budget = n
			}
		}
	} else if v := get("reasoning_effort"); v != nil {
		effort, _ := jsonscan.String(v)
		if n, ok := anthropicThinkingBudgets[effort]; ok {
			out.Thinking = json.RawMessage(`{"type":"enabled","budget_tokens":` + strconv.Itoa(n) + `}`)
			budget = n
		}
	}

	// max_completion_tokens replaced max_tokens in OpenAI's API; with
	// both, it wins.
	if out.MaxTokens = get("max_completion_tokens"); out.MaxTokens == nil {
		out.MaxTokens = get("max_tokens")
	}
	switch {
	case out.MaxTokens != nil:
	case budget >= 0:
		// Anthropic wants max_tokens above the thinking budget; LiteLLM
		// adds its default to the budget.
		out.MaxTokens = json.RawMessage(strconv.Itoa(budget + anthropicDefaultMaxTokens))
	default:
		out.MaxTokens = json.RawMessage(strconv.Itoa(anthropicDefaultMaxTokens))
	}

	if v := get("tools"); v != nil {
		if out.Tools, err = anthropicTools(v); err != nil {
			return t, err
		}
	}
	// Anthropic refuses tool_choice without tools.
	if len(out.Tools) > 0 {
		if out.ToolChoice, err = anthropicToolChoice(get("tool_choice"), get("parallel_tool_calls")); err != nil {
			return t, err
		}
	}
	if v := get("response_format"); v != nil {
		schema, ok, err := anthropicResponseFormat(v)
		if err != nil {
			return t, err
		}
		if ok {
			t.jsonMode = true
			out.Tools = append(out.Tools, anthropicTool{Name: anthropicJSONTool, InputSchema: schema})
			// LiteLLM forces the tool unless extended thinking is on,
			// which Anthropic allows only with tool_choice auto.
			if budget < 0 {
				out.ToolChoice = json.RawMessage(`{"type":"tool","name":"` + anthropicJSONTool + `"}`)
			}
		}
	}
	return t, nil
}

// anthropicResponseFormat reads response_format: json_schema gives its
// schema, json_object any object (LiteLLM's schema for it), text nothing.
func anthropicResponseFormat(v []byte) (json.RawMessage, bool, error) {
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(v, &rf); err != nil {
		return nil, false, fmt.Errorf("response_format: want an object with a type, got %s", anthropicKind(v))
	}
	switch rf.Type {
	case "text":
		return nil, false, nil
	case "json_object":
		return json.RawMessage(`{"type":"object","additionalProperties":true,"properties":{}}`), true, nil
	case "json_schema":
		if rf.JSONSchema == nil || anthropicIsNull(rf.JSONSchema.Schema) {
			return json.RawMessage(`{"type":"object","additionalProperties":true,"properties":{}}`), true, nil
		}
		if bytes.TrimSpace(rf.JSONSchema.Schema)[0] != '{' {
			return nil, false, fmt.Errorf("response_format.json_schema.schema: want an object")
		}
		return rf.JSONSchema.Schema, true, nil
	}
	return nil, false, fmt.Errorf("response_format.type: want text, json_object or json_schema, got %q", rf.Type)
}

// LiteLLM's _valid_user_id patterns.
var (
	anthropicEmail = regexp.MustCompile(`^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$`)
	anthropicPhone = regexp.MustCompile(`^\+?[\d\s\(\)-]{7,}$`)
)

// anthropicStop reads stop (a string or a list of strings). Whitespace-only
// sequences, which Anthropic refuses, are dropped, as LiteLLM does.
func anthropicStop(v []byte) ([]string, error) {
	var list []string
	if v[0] == '"' {
		s, _ := jsonscan.String(v)
		list = []string{s}
	} else if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("stop: want a string or a list of strings, got %s", anthropicKind(v))
	}
	out := list[:0]
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// anthropicMessages splits OpenAI messages into Anthropic's top-level system
// prompt and alternating user and assistant turns.
func anthropicMessages(msgs []anthropicClientMessage) (json.RawMessage, []anthropicMessage, error) {
	var system []anthropicTextBlock
	out := make([]anthropicMessage, 0, len(msgs))
	add := func(role string, blocks []json.RawMessage) {
		if len(blocks) == 0 {
			// Anthropic refuses empty turns; an empty message (an
			// assistant's "" between tool calls) says nothing anyway.
			return
		}
		// Anthropic wants user and assistant to alternate: consecutive
		// messages of one role (several tool results, a tool result and
		// the user's next question) become one turn.
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			return
		}
		out = append(out, anthropicMessage{Role: role, Content: blocks})
	}
	for i, m := range msgs {
		where := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			parts, err := anthropicTextParts(where, m.Content)
			if err != nil {
				return nil, nil, err
			}
			if len(m.CacheControl) > 0 && len(parts) > 0 {
				parts[len(parts)-1].CacheControl = m.CacheControl
			}
			system = append(system, parts...)
		case "user":
			blocks, err := anthropicUserContent(where, m.Content)
			if err != nil {
				return nil, nil, err
			}
			anthropicCacheLast(blocks, m.CacheControl)
			add("user", blocks)
		case "assistant":
			blocks, err := anthropicAssistantContent(where, m)
			if err != nil {
				return nil, nil, err
			}
			add("assistant", blocks)
		case "tool":
			block, err := anthropicToolResult(where, m)
			if err != nil {
				return nil, nil, err
			}
			add("user", []json.RawMessage{block})
		case "function":
			return nil, nil, fmt.Errorf("%s: role \"function\" is deprecated and not supported for Anthropic deployments; use tool messages", where)
		default:
			return nil, nil, fmt.Errorf("%s.role: unknown role %q", where, m.Role)
		}
	}
	sys, err := anthropicSystem(system)
	return sys, out, err
}

// anthropicSystem is the top-level system prompt: the system messages' text
// joined by blank lines, or, when some part asks for prompt caching, one
// text block per part so the cache breakpoints stay where the client put
// them.
func anthropicSystem(parts []anthropicTextBlock) (json.RawMessage, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	cached := false
	for _, p := range parts {
		cached = cached || len(p.CacheControl) > 0
	}
	if cached {
		return anthropicMarshal(parts)
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.Text
	}
	return jsonscan.QuoteString(strings.Join(texts, "\n\n")), nil
}

// anthropicTextParts reads content that may only hold text: a string or a
// list of text parts. Empty text is dropped: Anthropic refuses empty text
// blocks.
func anthropicTextParts(where string, content json.RawMessage) ([]anthropicTextBlock, error) {
	if anthropicIsNull(content) {
		return nil, nil
	}
	if content[0] == '"' {
		s, _ := jsonscan.String(content)
		if s == "" {
			return nil, nil
		}
		return []anthropicTextBlock{{Type: "text", Text: s}}, nil
	}
	var parts []anthropicClientPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, fmt.Errorf("%s.content: want a string or a list of content parts, got %s", where, anthropicKind(content))
	}
	var out []anthropicTextBlock
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return nil, fmt.Errorf("%s.content[%d]: want a text part, got type %q", where, j, p.Type)
		}
		if *p.Text != "" {
			out = append(out, anthropicTextBlock{Type: "text", Text: *p.Text, CacheControl: p.CacheControl})
		}
	}
	return out, nil
}

func anthropicUserContent(where string, content json.RawMessage) ([]json.RawMessage, error) {
	if anthropicIsNull(content) || content[0] == '"' {
		parts, err := anthropicTextParts(where, content)
		if err != nil {
			return nil, err
		}
		return anthropicMarshalBlocks(parts)
	}
	var parts []anthropicClientPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, fmt.Errorf("%s.content: want a string or a list of content parts, got %s", where, anthropicKind(content))
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
			block = anthropicTextBlock{Type: "text", Text: *p.Text, CacheControl: p.CacheControl}
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
		b, err := anthropicMarshal(block)
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
func anthropicImage(where string, p anthropicClientPart) (anthropicSourceBlock, error) {
	var url string
	if len(p.ImageURL) > 0 && p.ImageURL[0] == '"' {
		url, _ = jsonscan.String(p.ImageURL) // a bare string, as LiteLLM also accepts
	} else {
		var iu struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(p.ImageURL, &iu); err != nil {
			return anthropicSourceBlock{}, fmt.Errorf("%s.image_url: want an object with url, got %s", where, anthropicKind(p.ImageURL))
		}
		url = iu.URL
	}
	switch {
	case strings.HasPrefix(url, "data:"):
		mediaType, data, err := anthropicDataURL(url)
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
func anthropicFile(where string, p anthropicClientPart) (anthropicSourceBlock, error) {
	var f struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	}
	if err := json.Unmarshal(p.File, &f); err != nil {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file: want an object, got %s", where, anthropicKind(p.File))
	}
	if f.FileData == "" {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file: only file_data (a base64 data: URL) is supported for Anthropic deployments", where)
	}
	mediaType, data, err := anthropicDataURL(f.FileData)
	if err != nil {
		return anthropicSourceBlock{}, fmt.Errorf("%s.file.file_data: %v", where, err)
	}
	kind := "document"
	if strings.HasPrefix(mediaType, "image/") {
		kind = "image"
	}
	return anthropicSourceBlock{Type: kind, Source: anthropicSource{Type: "base64", MediaType: mediaType, Data: data}, CacheControl: p.CacheControl}, nil
}

// anthropicDataURL splits data:MEDIA;base64,DATA.
func anthropicDataURL(u string) (mediaType, data string, err error) {
	head, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	mediaType, isBase64 := strings.CutSuffix(head, ";base64")
	if !ok || !isBase64 || mediaType == "" {
		return "", "", fmt.Errorf("want a base64 data: URL (data:<media type>;base64,<data>)")
	}
	return mediaType, data, nil
}

func anthropicAssistantContent(where string, m anthropicClientMessage) ([]json.RawMessage, error) {
	var out []json.RawMessage
	// Thinking blocks (LiteLLM's extension, returned in earlier answers)
	// must open the turn when extended thinking is on.
	for _, tb := range m.ThinkingBlocks {
		if !anthropicIsNull(tb) {
			out = append(out, tb)
		}
	}
	if !anthropicIsNull(m.Content) {
		if m.Content[0] == '"' {
			if s, _ := jsonscan.String(m.Content); s != "" {
				b, _ := anthropicMarshal(anthropicTextBlock{Type: "text", Text: s})
				out = append(out, b)
			}
		} else {
			var parts []anthropicClientPart
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				return nil, fmt.Errorf("%s.content: want a string or a list of content parts, got %s", where, anthropicKind(m.Content))
			}
			for j, p := range parts {
				text := ""
				switch {
				case p.Type == "text" && p.Text != nil:
					text = *p.Text
				case p.Type == "refusal" && p.Refusal != nil:
					text = *p.Refusal
				default:
					return nil, fmt.Errorf("%s.content[%d]: want a text or refusal part, got type %q", where, j, p.Type)
				}
				if text != "" {
					b, _ := anthropicMarshal(anthropicTextBlock{Type: "text", Text: text, CacheControl: p.CacheControl})
					out = append(out, b)
				}
			}
		}
	}
	for j, tc := range m.ToolCalls {
		twhere := fmt.Sprintf("%s.tool_calls[%d]", where, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, fmt.Errorf("%s.type: unsupported tool call type %q", twhere, tc.Type)
		}
		input, err := anthropicToolInput(tc.Function.Arguments)
		if err != nil {
			return nil, fmt.Errorf("%s.function.arguments: %v", twhere, err)
		}
		b, err := anthropicMarshal(anthropicToolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(m.FunctionCall) > 0 && !anthropicIsNull(m.FunctionCall) {
		return nil, fmt.Errorf("%s.function_call: deprecated and not supported for Anthropic deployments; use tool_calls", where)
	}
	anthropicCacheLast(out, m.CacheControl)
	return out, nil
}

// anthropicToolInput turns OpenAI's arguments (a string of JSON) into a
// tool_use input, which must be an object. Empty arguments are {}.
func anthropicToolInput(args json.RawMessage) (json.RawMessage, error) {
	if anthropicIsNull(args) {
		return json.RawMessage(`{}`), nil
	}
	raw := []byte(args)
	if args[0] == '"' {
		s, _ := jsonscan.String(args)
		if strings.TrimSpace(s) == "" {
			return json.RawMessage(`{}`), nil
		}
		raw = []byte(s)
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) || raw[0] != '{' {
		return nil, fmt.Errorf("want a JSON object")
	}
	return raw, nil
}

// anthropicToolResult turns a tool message into a tool_result block; the
// caller puts it in a user turn.
func anthropicToolResult(where string, m anthropicClientMessage) (json.RawMessage, error) {
	if m.ToolCallID == "" {
		return nil, fmt.Errorf("%s.tool_call_id: required", where)
	}
	content := json.RawMessage(`""`)
	switch {
	case anthropicIsNull(m.Content):
	case m.Content[0] == '"':
		content = m.Content
	default:
		parts, err := anthropicTextParts(where, m.Content)
		if err != nil {
			return nil, err
		}
		if content, err = anthropicMarshal(parts); err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			content = json.RawMessage(`""`)
		}
	}
	return anthropicMarshal(anthropicToolResultBlock{Type: "tool_result", ToolUseID: m.ToolCallID, Content: content, CacheControl: m.CacheControl})
}

// anthropicCacheLast puts a message-level cache_control (LiteLLM's
// extension) on the message's last block.
func anthropicCacheLast(blocks []json.RawMessage, cc json.RawMessage) {
	if len(blocks) == 0 || anthropicIsNull(cc) {
		return
	}
	last := blocks[len(blocks)-1]
	fields, err := jsonscan.Fields(last)
	if err != nil {
		return
	}
	blocks[len(blocks)-1] = jsonscan.Set(last, fields, "cache_control", cc)
}

func anthropicTools(v []byte) ([]anthropicTool, error) {
	var tools []anthropicClientTool
	if err := json.Unmarshal(v, &tools); err != nil {
		return nil, fmt.Errorf("tools: want a list of tools, got %s", anthropicKind(v))
	}
	out := make([]anthropicTool, 0, len(tools))
	for i, t := range tools {
		if t.Type != "function" || t.Function == nil {
			return nil, fmt.Errorf("tools[%d]: only function tools are supported for Anthropic deployments, got type %q", i, t.Type)
		}
		if t.Function.Name == "" {
			return nil, fmt.Errorf("tools[%d].function.name: required", i)
		}
		schema := t.Function.Parameters
		if anthropicIsNull(schema) {
			// Anthropic requires a schema; a function without
			// parameters takes an empty object.
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		cc := t.CacheControl
		if anthropicIsNull(cc) {
			cc = t.Function.CacheControl
		}
		if anthropicIsNull(cc) {
			cc = nil
		}
		out = append(out, anthropicTool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema, CacheControl: cc})
	}
	return out, nil
}

// anthropicToolChoice maps tool_choice and parallel_tool_calls: auto, none
// and required (Anthropic's any) by name, a named function to
// {"type":"tool"}, and parallel_tool_calls to its inverse,
// disable_parallel_tool_use, as LiteLLM's _map_tool_choice does.
func anthropicToolChoice(choice, parallel []byte) (json.RawMessage, error) {
	var tc struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
	}
	switch {
	case choice == nil:
	case choice[0] == '"':
		s, _ := jsonscan.String(choice)
		switch s {
		case "auto", "none":
			tc.Type = s
		case "required":
			tc.Type = "any"
		default:
			return nil, fmt.Errorf("tool_choice: want auto, none, required or a function, got %q", s)
		}
	default:
		var named struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(choice, &named); err != nil || named.Function.Name == "" {
			return nil, fmt.Errorf("tool_choice: want auto, none, required or {\"type\":\"function\",\"function\":{\"name\":...}}")
		}
		tc.Type, tc.Name = "tool", named.Function.Name
	}
	if parallel != nil && tc.Type != "none" {
		p, ok := jsonscan.Bool(parallel)
		if !ok {
			return nil, fmt.Errorf("parallel_tool_calls: want a boolean, got %s", anthropicKind(parallel))
		}
		if tc.Type == "" {
			tc.Type = "auto"
		}
		disable := !p
		tc.DisableParallelToolUse = &disable
	}
	if tc.Type == "" {
		return nil, nil
	}
	return anthropicMarshal(tc)
}

// anthropicMarshal encodes v as compact JSON without encoding/json's HTML
// escaping, so text reads upstream as the client sent it.
func anthropicMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func anthropicMarshalBlocks(blocks []anthropicTextBlock) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(blocks))
	for _, b := range blocks {
		raw, err := anthropicMarshal(b)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

func anthropicIsNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// anthropicKind names a JSON value's type for error messages.
func anthropicKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// anthropicJSONError shortens encoding/json's errors to what a client can
// act on.
func anthropicJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "value"
		}
		return fmt.Sprintf("%s: want %s, got a JSON %s", where, te.Type.String(), te.Value)
	}
	return err.Error()
}
