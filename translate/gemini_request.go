package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// OpenAI chat completion request, as far as Gemini can use it. Fields
// Gemini has no counterpart for (user, metadata, store, logit_bias,
// parallel_tool_calls, ...) are dropped, as LiteLLM does with drop_params.
type gemOAChatRequest struct {
	Messages            []gemOAMessage   `json:"messages"`
	Stream              *bool            `json:"stream"`
	StreamOptions       *gemOAStreamOpts `json:"stream_options"`
	Temperature         *float64         `json:"temperature"`
	TopP                *float64         `json:"top_p"`
	MaxTokens           *int64           `json:"max_tokens"`
	MaxCompletionTokens *int64           `json:"max_completion_tokens"`
	Stop                json.RawMessage  `json:"stop"`
	N                   *int64           `json:"n"`
	ResponseFormat      json.RawMessage  `json:"response_format"`
	Tools               []gemOATool      `json:"tools"`
	Functions           []gemOAFunction  `json:"functions"`
	ToolChoice          json.RawMessage  `json:"tool_choice"`
	FunctionCall        json.RawMessage  `json:"function_call"`
	FrequencyPenalty    *float64         `json:"frequency_penalty"`
	PresencePenalty     *float64         `json:"presence_penalty"`
	Seed                *int64           `json:"seed"`
	Logprobs            *bool            `json:"logprobs"`
	TopLogprobs         *int64           `json:"top_logprobs"`
	ReasoningEffort     *string          `json:"reasoning_effort"`
	// SafetySettings is LiteLLM's safety_settings parameter, Gemini's
	// safetySettings as is.
	SafetySettings json.RawMessage `json:"safety_settings"`
}

type gemOAStreamOpts struct {
	IncludeUsage bool `json:"include_usage"`
}

type gemOAMessage struct {
	Role         string             `json:"role"`
	Content      json.RawMessage    `json:"content"`
	Name         string             `json:"name"`
	ToolCalls    []gemOAToolCall    `json:"tool_calls"`
	ToolCallID   string             `json:"tool_call_id"`
	FunctionCall *gemOAFunctionCall `json:"function_call"`
}

type gemOAToolCall struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Function gemOAFunctionCall `json:"function"`
}

type gemOAFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// gemOATool is a tools[] entry: {"type":"function","function":{...}}, or one of
// Google's own tools written as LiteLLM accepts them ({"googleSearch": {}}).
type gemOATool struct {
	Type     string
	Function *gemOAFunction
	// Google is the single member of a Google tool object, by name.
	Google     string
	GoogleBody json.RawMessage
}

func (t *gemOATool) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if raw, ok := m["function"]; ok {
		if typ := m["type"]; !geminiIsNull(typ) {
			if err := json.Unmarshal(typ, &t.Type); err != nil {
				return fmt.Errorf("type: %w", err)
			}
		}
		t.Function = new(gemOAFunction)
		return json.Unmarshal(raw, t.Function)
	}
	delete(m, "type")
	if len(m) == 1 {
		for k, v := range m {
			if name, ok := geminiBuiltinTools[k]; ok {
				t.Google, t.GoogleBody = name, v
				return nil
			}
		}
	}
	return errors.New(`tools: each tool must be {"type":"function","function":{...}} or one of Google's tools (googleSearch, googleSearchRetrieval, codeExecution, urlContext)`)
}

// geminiBuiltinTools are Google's tools LiteLLM passes through (both
// spellings it accepts), by the name the Gemini API uses.
var geminiBuiltinTools = map[string]string{
	"googleSearch": "googleSearch", "google_search": "googleSearch",
	"googleSearchRetrieval": "googleSearchRetrieval", "google_search_retrieval": "googleSearchRetrieval",
	"codeExecution": "codeExecution", "code_execution": "codeExecution",
	"urlContext": "urlContext", "url_context": "urlContext",
}

type gemOAFunction struct {
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// Gemini request shapes (generateContent request body). Field names are
// the API reference's JSON names.
type gmRequest struct {
	Contents          []gmContent         `json:"contents"`
	SystemInstruction *gmContent          `json:"systemInstruction,omitempty"`
	Tools             []map[string]any    `json:"tools,omitempty"`
	ToolConfig        *gmToolConfig       `json:"toolConfig,omitempty"`
	SafetySettings    json.RawMessage     `json:"safetySettings,omitempty"`
	GenerationConfig  *gmGenerationConfig `json:"generationConfig,omitempty"`
}

type gmContent struct {
	Role  string   `json:"role,omitempty"`
	Parts []gmPart `json:"parts"`
}

type gmPart struct {
	Text             string              `json:"text,omitempty"`
	Thought          bool                `json:"thought,omitempty"`
	InlineData       *gmBlob             `json:"inlineData,omitempty"`
	FileData         *gmFileData         `json:"fileData,omitempty"`
	FunctionCall     *gmFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *gmFunctionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string              `json:"thoughtSignature,omitempty"`
}

type gmBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gmFileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type gmFunctionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type gmFunctionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type gmFunctionDeclaration struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
	Parameters  any     `json:"parameters,omitempty"`
}

type gmToolConfig struct {
	FunctionCallingConfig gmFunctionCallingConfig `json:"functionCallingConfig"`
}

type gmFunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type gmGenerationConfig struct {
	Temperature      *float64          `json:"temperature,omitempty"`
	TopP             *float64          `json:"topP,omitempty"`
	MaxOutputTokens  *int64            `json:"maxOutputTokens,omitempty"`
	StopSequences    []string          `json:"stopSequences,omitempty"`
	CandidateCount   *int64            `json:"candidateCount,omitempty"`
	ResponseMimeType string            `json:"responseMimeType,omitempty"`
	ResponseSchema   any               `json:"responseSchema,omitempty"`
	PresencePenalty  *float64          `json:"presencePenalty,omitempty"`
	FrequencyPenalty *float64          `json:"frequencyPenalty,omitempty"`
	Seed             *int64            `json:"seed,omitempty"`
	ResponseLogprobs *bool             `json:"responseLogprobs,omitempty"`
	Logprobs         *int64            `json:"logprobs,omitempty"`
	ThinkingConfig   *gmThinkingConfig `json:"thinkingConfig,omitempty"`
}

type gmThinkingConfig struct {
	IncludeThoughts *bool  `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// geminiThoughtSeparator joins a tool call id and the Gemini thought
// signature of its functionCall part, so the signature comes back with the
// tool result (Gemini 3 rejects a function call turn without it). LiteLLM
// uses the same separator, so ids round-trip between the two.
const geminiThoughtSeparator = "__thought__"

func geminiBadRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// geminiChatRequest translates a chat completion into a generateContent
// request, for Gemini's API and Vertex AI's alike; path is where a method
// of d's model is (both put the model elsewhere).
func geminiChatRequest(d *config.Deployment, body []byte, path func(d *config.Deployment, method string) string) ([]byte, ResponseTranslator, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, nil, geminiBadRequest("the body must be a JSON object")
	}
	var req gemOAChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	g, err := geminiRequestFrom(d, &req)
	if err != nil {
		return nil, nil, err
	}
	out, err := geminiMarshal(g)
	if err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	stream := req.Stream != nil && *req.Stream
	includeUsage := stream && req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	legacy := len(req.Functions) > 0 && len(req.Tools) == 0
	t := newGeminiChatResponse(d, stream, includeUsage, legacy)
	if !stream {
		t.upstreamPath = path(d, geminiGenerate)
	}
	return out, t, nil
}

func geminiRequestFrom(d *config.Deployment, req *gemOAChatRequest) (*gmRequest, error) {
	if len(req.Messages) == 0 {
		return nil, geminiBadRequest("messages: want at least one message")
	}
	g := &gmRequest{Contents: []gmContent{}}
	var system []gmPart
	for i, m := range req.Messages {
		if !geminiIsSystem(m.Role) {
			continue
		}
		text, err := geminiTextOf(m.Content, fmt.Sprintf("messages[%d].content", i))
		if err != nil {
			return nil, err
		}
		if text != "" {
			system = append(system, gmPart{Text: text})
		}
	}
	if len(system) > 0 {
		g.SystemInstruction = &gmContent{Parts: system}
	}
	contents, err := geminiContents(req.Messages)
	if err != nil {
		return nil, err
	}
	g.Contents = contents

	budget := newGeminiSchemaBudget()
	if g.Tools, err = geminiTools(req.Tools, req.Functions, budget); err != nil {
		return nil, err
	}
	choice, field := req.ToolChoice, "tool_choice"
	if geminiIsNull(choice) {
		choice, field = req.FunctionCall, "function_call"
	}
	if g.ToolConfig, err = geminiToolConfig(choice, field); err != nil {
		return nil, err
	}
	if g.GenerationConfig, err = geminiGenerationConfig(d, req, budget); err != nil {
		return nil, err
	}
	if !geminiIsNull(req.SafetySettings) {
		var settings []map[string]json.RawMessage
		if err := json.Unmarshal(req.SafetySettings, &settings); err != nil {
			return nil, geminiBadRequest("safety_settings: want an array of {category, threshold}")
		}
		g.SafetySettings = req.SafetySettings
	}
	return g, nil
}

func geminiIsSystem(role string) bool { return role == "system" || role == "developer" }

// geminiContents turns the conversation into Gemini turns the way LiteLLM
// does: system messages are left out (they are the system instruction),
// consecutive user messages merge into one user turn, consecutive
// assistant messages into one model turn, and consecutive tool results into
// one turn of functionResponse parts.
func geminiContents(msgs []gemOAMessage) ([]gmContent, error) {
	// Tool call id → function name, across the conversation: a tool result
	// names its call only by id, and Gemini wants the name.
	callNames := make(map[string]string)
	for _, m := range msgs {
		for _, tc := range m.ToolCalls {
			if tc.ID != "" {
				callNames[tc.ID] = tc.Function.Name
				// A client may echo the id without the thought signature.
				base, _, _ := strings.Cut(tc.ID, geminiThoughtSeparator)
				if _, taken := callNames[base]; !taken {
					callNames[base] = tc.Function.Name
				}
			}
		}
	}
	contents := []gmContent{}
	var results []gmPart
	flushResults := func() {
		if len(results) > 0 {
			contents = append(contents, gmContent{Role: "user", Parts: results})
			results = nil
		}
	}
	for i := 0; i < len(msgs); {
		start := i
		var user []gmPart
		for ; i < len(msgs) && (msgs[i].Role == "user" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			parts, err := geminiUserParts(msgs[i].Content, fmt.Sprintf("messages[%d].content", i))
			if err != nil {
				return nil, err
			}
			user = append(user, parts...)
		}
		if len(user) > 0 {
			flushResults()
			// LiteLLM adds a blank text to a user turn of media only: the
			// API refuses a turn without a text part for some models.
			if !geminiHasText(user) {
				user = append(user, gmPart{Text: " "})
			}
			contents = append(contents, gmContent{Role: "user", Parts: user})
		}
		var model []gmPart
		for ; i < len(msgs) && (msgs[i].Role == "assistant" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			parts, err := geminiModelParts(msgs[i], i)
			if err != nil {
				return nil, err
			}
			model = append(model, parts...)
		}
		if len(model) > 0 {
			flushResults()
			contents = append(contents, gmContent{Role: "model", Parts: model})
		}
		for ; i < len(msgs) && (msgs[i].Role == "tool" || msgs[i].Role == "function" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			part, err := geminiToolResult(msgs[i], i, callNames)
			if err != nil {
				return nil, err
			}
			results = append(results, part)
		}
		if i == start {
			return nil, geminiBadRequest("messages[%d].role: unsupported role %q; want system, developer, user, assistant or tool", i, msgs[i].Role)
		}
	}
	flushResults()
	return contents, nil
}

func geminiHasText(parts []gmPart) bool {
	for _, p := range parts {
		if p.Text != "" {
			return true
		}
	}
	return false
}

// gemOAContentPart is one element of a content array.
type gemOAContentPart struct {
	Type       string          `json:"type"`
	Text       *string         `json:"text"`
	ImageURL   json.RawMessage `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileID   string `json:"file_id"`
		FileData string `json:"file_data"`
		Format   string `json:"format"`
	} `json:"file"`
}

// geminiContentParts decodes a content value: nil for null, one text part for a
// string, the parts of an array.
func geminiContentParts(raw json.RawMessage, at string) ([]gemOAContentPart, error) {
	if geminiIsNull(raw) {
		return nil, nil
	}
	if raw = bytes.TrimLeft(raw, " \t\r\n"); raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, geminiBadRequest("%s: %v", at, err)
		}
		return []gemOAContentPart{{Type: "text", Text: &s}}, nil
	}
	var parts []gemOAContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, geminiBadRequest("%s: want a string or an array of content parts: %v", at, err)
	}
	return parts, nil
}

// geminiTextOf is the text of a content value (text parts concatenated),
// for system messages and tool results.
func geminiTextOf(raw json.RawMessage, at string) (string, error) {
	parts, err := geminiContentParts(raw, at)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", geminiBadRequest("%s[%d]: only text parts are supported here, got %q", at, i, p.Type)
		}
		if p.Text != nil {
			sb.WriteString(*p.Text)
		}
	}
	return sb.String(), nil
}

func geminiUserParts(raw json.RawMessage, at string) ([]gmPart, error) {
	parts, err := geminiContentParts(raw, at)
	if err != nil {
		return nil, err
	}
	var out []gmPart
	for i, p := range parts {
		pat := fmt.Sprintf("%s[%d]", at, i)
		switch p.Type {
		case "text":
			if p.Text != nil && *p.Text != "" {
				out = append(out, gmPart{Text: *p.Text})
			}
		case "image_url":
			u, format, err := geminiImageURL(p.ImageURL, pat)
			if err != nil {
				return nil, err
			}
			part, err := geminiMediaPart(u, format, pat+".image_url")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case "input_audio":
			if p.InputAudio == nil || p.InputAudio.Data == "" || p.InputAudio.Format == "" {
				return nil, geminiBadRequest("%s.input_audio: want data and format", pat)
			}
			out = append(out, gmPart{InlineData: &gmBlob{MimeType: "audio/" + p.InputAudio.Format, Data: p.InputAudio.Data}})
		case "file":
			if p.File == nil {
				return nil, geminiBadRequest("%s.file: missing", pat)
			}
			switch {
			case p.File.FileData != "":
				part, err := geminiMediaPart(p.File.FileData, p.File.Format, pat+".file.file_data")
				if err != nil {
					return nil, err
				}
				out = append(out, part)
			case p.File.FileID != "":
				out = append(out, gmPart{FileData: &gmFileData{FileURI: p.File.FileID, MimeType: p.File.Format}})
			default:
				return nil, geminiBadRequest("%s.file: want file_id or file_data", pat)
			}
		default:
			return nil, geminiBadRequest("%s.type: unsupported content part type %q", pat, p.Type)
		}
	}
	return out, nil
}

// geminiImageURL reads image_url, a string or {"url", "detail", "format"}
// (format is LiteLLM's way to give the media type).
func geminiImageURL(raw json.RawMessage, at string) (u, format string, err error) {
	if geminiIsNull(raw) {
		return "", "", geminiBadRequest("%s.image_url: missing", at)
	}
	if err := json.Unmarshal(raw, &u); err == nil {
		return u, "", nil
	}
	var obj struct {
		URL    string `json:"url"`
		Format string `json:"format"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", geminiBadRequest("%s.image_url: want a string or an object with url", at)
	}
	return obj.URL, obj.Format, nil
}

// geminiMediaPart turns a media reference into a part. data: URLs become
// inline data. Gemini Files API URIs and gs:// URIs become file data. Other
// http(s) URLs are refused: LiteLLM downloads them, but fetching from the
// ext_proc would stall the request path.
func geminiMediaPart(ref, format, at string) (gmPart, error) {
	switch {
	case strings.HasPrefix(ref, "data:"):
		mime, data, err := geminiParseDataURL(ref)
		if err != nil {
			return gmPart{}, geminiBadRequest("%s: %v", at, err)
		}
		if format != "" {
			mime = format
		}
		if mime == "" {
			return gmPart{}, geminiBadRequest("%s: the data URL has no media type", at)
		}
		return gmPart{InlineData: &gmBlob{MimeType: mime, Data: data}}, nil
	case strings.HasPrefix(ref, "gs://"):
		if format == "" {
			format = geminiMIMEFromExtension(ref)
		}
		if format == "" {
			return gmPart{}, geminiBadRequest("%s: cannot tell the media type of %q; set format", at, ref)
		}
		return gmPart{FileData: &gmFileData{FileURI: ref, MimeType: format}}, nil
	case strings.HasPrefix(ref, "https://generativelanguage.googleapis.com/"):
		if format == "" {
			format = geminiMIMEFromExtension(ref)
		}
		return gmPart{FileData: &gmFileData{FileURI: ref, MimeType: format}}, nil
	case strings.HasPrefix(ref, "http://"), strings.HasPrefix(ref, "https://"):
		return gmPart{}, geminiBadRequest("%s: remote URLs are not fetched for Gemini deployments; send the media inline as a base64 data: URL, or upload it with the Gemini Files API and pass its URI", at)
	}
	return gmPart{}, geminiBadRequest("%s: want a data: URL", at)
}

// geminiParseDataURL splits "data:[<media type>][;base64],<data>" (RFC 2397) into
// the media type and base64 data; data not marked base64 is
// percent-decoded and encoded.
func geminiParseDataURL(s string) (mime, data string, err error) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !ok {
		return "", "", errors.New("malformed data URL: no comma")
	}
	params := strings.Split(meta, ";")
	mime = strings.TrimSpace(params[0])
	isBase64 := false
	for _, p := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			isBase64 = true
		}
	}
	if isBase64 {
		return mime, payload, nil
	}
	raw, err := url.PathUnescape(payload)
	if err != nil {
		return "", "", fmt.Errorf("malformed data URL: %v", err)
	}
	return mime, base64.StdEncoding.EncodeToString([]byte(raw)), nil
}

// geminiMIMEFromExtension is LiteLLM's table of media types Gemini takes by file
// extension (_get_image_mime_type_from_url).
func geminiMIMEFromExtension(ref string) string {
	if u, err := url.Parse(ref); err == nil {
		ref = u.Path
	}
	switch strings.ToLower(path.Ext(ref)) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".mp4":
		return "video/mp4"
	case ".mov":
		return "video/mov"
	case ".mpeg", ".mpg":
		return "video/mpeg"
	case ".avi":
		return "video/avi"
	case ".wmv":
		return "video/wmv"
	case ".mpegps":
		return "video/mpegps"
	case ".flv":
		return "video/flv"
	case ".mp3":
		return "audio/mp3"
	case ".wav":
		return "audio/wav"
	case ".pdf":
		return "application/pdf"
	case ".txt":
		return "text/plain"
	}
	return ""
}

// geminiModelParts converts an assistant message: its text, then its tool
// calls as functionCall parts (the legacy function_call too).
func geminiModelParts(m gemOAMessage, i int) ([]gmPart, error) {
	at := fmt.Sprintf("messages[%d]", i)
	var out []gmPart
	parts, err := geminiContentParts(m.Content, at+".content")
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		// Like LiteLLM, only text goes back to the model; a refusal or
		// audio part has no Gemini counterpart.
		if p.Type == "text" && p.Text != nil && *p.Text != "" {
			out = append(out, gmPart{Text: *p.Text})
		}
	}
	for j, tc := range m.ToolCalls {
		part, err := geminiFunctionCallPart(tc.ID, tc.Function, fmt.Sprintf("%s.tool_calls[%d]", at, j))
		if err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	if m.FunctionCall != nil && len(m.ToolCalls) == 0 {
		part, err := geminiFunctionCallPart("", *m.FunctionCall, at+".function_call")
		if err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	return out, nil
}

func geminiFunctionCallPart(id string, fc gemOAFunctionCall, at string) (gmPart, error) {
	if fc.Name == "" {
		return gmPart{}, geminiBadRequest("%s.function.name: missing", at)
	}
	args := json.RawMessage("{}")
	if strings.TrimSpace(fc.Arguments) != "" {
		raw := []byte(fc.Arguments)
		if !json.Valid(raw) || bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
			return gmPart{}, geminiBadRequest("%s.function.arguments: want a JSON object", at)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw)
		args = buf.Bytes()
	}
	part := gmPart{FunctionCall: &gmFunctionCall{Name: fc.Name, Args: args}}
	if _, sig, ok := strings.Cut(id, geminiThoughtSeparator); ok {
		part.ThoughtSignature = sig
	}
	return part, nil
}

// geminiToolResult converts a tool (or legacy function) message to a
// functionResponse part. A result that is a JSON object is the response
// itself; anything else is wrapped as {"content": text} (LiteLLM's
// convert_to_gemini_tool_call_result).
func geminiToolResult(m gemOAMessage, i int, callNames map[string]string) (gmPart, error) {
	at := fmt.Sprintf("messages[%d]", i)
	text, err := geminiTextOf(m.Content, at+".content")
	if err != nil {
		return gmPart{}, err
	}
	name := callNames[m.ToolCallID]
	if name == "" {
		name = m.Name
	}
	if name == "" {
		return gmPart{}, geminiBadRequest("%s: no assistant tool call has id %q; Gemini needs the function name of every tool result", at, m.ToolCallID)
	}
	var response json.RawMessage
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(t))
		response = buf.Bytes()
	} else {
		response, _ = geminiMarshal(map[string]string{"content": text})
	}
	return gmPart{FunctionResponse: &gmFunctionResponse{Name: name, Response: response}}, nil
}

func geminiTools(tools []gemOATool, functions []gemOAFunction, budget *geminiSchemaBudget) ([]map[string]any, error) {
	if len(tools) == 0 && len(functions) == 0 {
		return nil, nil
	}
	tool := map[string]any{}
	var decls []gmFunctionDeclaration
	add := func(f *gemOAFunction, at string) error {
		if f == nil || f.Name == "" {
			return geminiBadRequest("%s.name: missing", at)
		}
		decl := gmFunctionDeclaration{Name: f.Name, Description: f.Description}
		if !geminiIsNull(f.Parameters) {
			// LiteLLM sends {"type": "object"} for parameters of "".
			if string(bytes.TrimSpace(f.Parameters)) == `""` {
				decl.Parameters = json.RawMessage(`{"type":"object"}`)
			} else {
				schema, err := geminiSchema(f.Parameters, false, budget)
				if err != nil {
					return geminiBadRequest("%s.parameters: %v", at, err)
				}
				decl.Parameters = schema
			}
		}
		decls = append(decls, decl)
		return nil
	}
	for i, t := range tools {
		at := fmt.Sprintf("tools[%d]", i)
		if t.Google != "" {
			tool[t.Google] = t.GoogleBody
			continue
		}
		if t.Type != "" && t.Type != "function" {
			return nil, geminiBadRequest("%s.type: unsupported tool type %q", at, t.Type)
		}
		if err := add(t.Function, at+".function"); err != nil {
			return nil, err
		}
	}
	for i := range functions {
		if err := add(&functions[i], fmt.Sprintf("functions[%d]", i)); err != nil {
			return nil, err
		}
	}
	if len(decls) > 0 {
		tool["functionDeclarations"] = decls
	}
	return []map[string]any{tool}, nil
}

// geminiToolConfig maps tool_choice (or the legacy function_call) to the
// function calling mode, as LiteLLM's map_tool_choice_values does.
func geminiToolConfig(raw json.RawMessage, field string) (*gmToolConfig, error) {
	if geminiIsNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		mode := map[string]string{"none": "NONE", "auto": "AUTO", "required": "ANY"}[s]
		if mode == "" || (field == "function_call" && s == "required") {
			return nil, geminiBadRequest("%s: unsupported value %q; want none, auto, required or a function", field, s)
		}
		return &gmToolConfig{FunctionCallingConfig: gmFunctionCallingConfig{Mode: mode}}, nil
	}
	var obj struct {
		Name     string `json:"name"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, geminiBadRequest("%s: want a string or an object naming a function", field)
	}
	name := obj.Name
	if obj.Function != nil {
		name = obj.Function.Name
	}
	if name == "" {
		return nil, geminiBadRequest("%s: missing function name", field)
	}
	return &gmToolConfig{FunctionCallingConfig: gmFunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{name}}}, nil
}

func geminiGenerationConfig(d *config.Deployment, req *gemOAChatRequest, budget *geminiSchemaBudget) (*gmGenerationConfig, error) {
	c := &gmGenerationConfig{
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		CandidateCount:   req.N,
		PresencePenalty:  req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty,
		Seed:             req.Seed,
		Logprobs:         req.TopLogprobs,
	}
	if req.Logprobs != nil && *req.Logprobs {
		c.ResponseLogprobs = req.Logprobs
	}
	c.MaxOutputTokens = req.MaxCompletionTokens
	if c.MaxOutputTokens == nil {
		c.MaxOutputTokens = req.MaxTokens
	}
	if !geminiIsNull(req.Stop) {
		var one string
		if json.Unmarshal(req.Stop, &one) == nil {
			if one != "" {
				c.StopSequences = []string{one}
			}
		} else if err := json.Unmarshal(req.Stop, &c.StopSequences); err != nil {
			return nil, geminiBadRequest("stop: want a string or an array of strings")
		}
	}
	if err := geminiResponseFormat(c, req.ResponseFormat, budget); err != nil {
		return nil, err
	}
	if req.ReasoningEffort != nil {
		tc, err := geminiThinking(d.UpstreamModel, *req.ReasoningEffort)
		if err != nil {
			return nil, err
		}
		c.ThinkingConfig = tc
	}
	if reflect.ValueOf(*c).IsZero() {
		return nil, nil
	}
	return c, nil
}

// geminiResponseFormat maps response_format as LiteLLM's
// apply_response_schema_transformation does: JSON modes set the response
// MIME type, a schema becomes responseSchema (with propertyOrdering, so
// fields come back in the order written).
func geminiResponseFormat(c *gmGenerationConfig, raw json.RawMessage, budget *geminiSchemaBudget) error {
	if geminiIsNull(raw) {
		return nil
	}
	var rf struct {
		Type           string          `json:"type"`
		ResponseSchema json.RawMessage `json:"response_schema"`
		JSONSchema     *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return geminiBadRequest("response_format: %v", err)
	}
	var schema json.RawMessage
	switch rf.Type {
	case "text":
		c.ResponseMimeType = "text/plain"
	case "json_object":
		c.ResponseMimeType = "application/json"
	case "json_schema":
		c.ResponseMimeType = "application/json"
		if rf.JSONSchema != nil {
			schema = rf.JSONSchema.Schema
		}
	default:
		return geminiBadRequest("response_format.type: unsupported value %q", rf.Type)
	}
	if !geminiIsNull(rf.ResponseSchema) {
		c.ResponseMimeType, schema = "application/json", rf.ResponseSchema
	}
	if geminiIsNull(schema) {
		return nil
	}
	out, err := geminiSchema(schema, true, budget)
	if err != nil {
		return geminiBadRequest("response_format: %v", err)
	}
	c.ResponseSchema = out
	return nil
}

// geminiThinking maps reasoning_effort to a thinking config with LiteLLM's
// budgets (litellm/constants.py) for Gemini 2.x, and thinking levels for
// Gemini 3 and later.
func geminiThinking(model, effort string) (*gmThinkingConfig, error) {
	yes, no := true, false
	budget := func(n int64) *gmThinkingConfig { return &gmThinkingConfig{IncludeThoughts: &yes, ThinkingBudget: &n} }
	if geminiMajorVersion(model) >= 3 {
		switch effort {
		case "minimal", "low":
			return &gmThinkingConfig{IncludeThoughts: &yes, ThinkingLevel: "low"}, nil
		case "medium", "high":
			return &gmThinkingConfig{IncludeThoughts: &yes, ThinkingLevel: "high"}, nil
		case "none", "disable":
			return &gmThinkingConfig{IncludeThoughts: &no, ThinkingLevel: "low"}, nil
		}
		return nil, geminiBadRequest("reasoning_effort: unsupported value %q", effort)
	}
	switch effort {
	case "minimal":
		switch {
		case strings.Contains(model, "gemini-2.5-flash-lite"):
			return budget(512), nil
		case strings.Contains(model, "gemini-2.5-flash"):
			return budget(1), nil
		}
		return budget(128), nil
	case "low":
		return budget(1024), nil
	case "medium":
		return budget(2048), nil
	case "high":
		return budget(4096), nil
	case "none", "disable":
		zero := int64(0)
		return &gmThinkingConfig{IncludeThoughts: &no, ThinkingBudget: &zero}, nil
	}
	return nil, geminiBadRequest("reasoning_effort: unsupported value %q", effort)
}

// geminiMajorVersion reads N from "gemini-N..." (0 when absent).
func geminiMajorVersion(model string) int {
	_, rest, ok := strings.Cut(strings.ToLower(model), "gemini-")
	if !ok {
		return 0
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

func geminiIsNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// geminiMarshal encodes v without HTML escaping: "<" and "&" in prompts go
// out as written.
func geminiMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
