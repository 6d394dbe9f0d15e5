package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// The OpenAI chat completion → Converse request translation, after
// LiteLLM's AmazonConverseConfig. The generic JSON helpers (jsonIsNull,
// jsonKind, marshalJSON, ...) are shared with the Anthropic
// translator.

// bedrockRequest is a Converse request, in the order fields are sent. The
// model id is in the path, not the body.
type bedrockRequest struct {
	Messages                     []messagesTurn          `json:"messages"`
	System                       []json.RawMessage       `json:"system,omitempty"`
	InferenceConfig              *bedrockInferenceConfig `json:"inferenceConfig,omitempty"`
	ToolConfig                   *bedrockToolConfig      `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields map[string]any          `json:"additionalModelRequestFields,omitempty"`
}

type bedrockInferenceConfig struct {
	MaxTokens     json.RawMessage `json:"maxTokens,omitempty"`
	Temperature   json.RawMessage `json:"temperature,omitempty"`
	TopP          json.RawMessage `json:"topP,omitempty"`
	StopSequences []string        `json:"stopSequences,omitempty"`
}

type bedrockToolConfig struct {
	Tools      []bedrockTool   `json:"tools"`
	ToolChoice json.RawMessage `json:"toolChoice,omitempty"`
}

type bedrockTool struct {
	ToolSpec bedrockToolSpec `json:"toolSpec"`
}

type bedrockToolSpec struct {
	Name        string      `json:"name"`
	Description *string     `json:"description,omitempty"`
	InputSchema bedrockJSON `json:"inputSchema"`
}

type bedrockJSON struct {
	JSON json.RawMessage `json:"json"`
}

// Content blocks llmvoy writes; each is an object with one member.
type (
	bedrockTextBlock struct {
		Text string `json:"text"`
	}
	bedrockImageBlock struct {
		Image bedrockMedia `json:"image"`
	}
	bedrockDocumentBlock struct {
		Document bedrockMedia `json:"document"`
	}
	bedrockMedia struct {
		Format string        `json:"format"`
		Name   string        `json:"name,omitempty"` // documents only
		Source bedrockSource `json:"source"`
	}
	bedrockSource struct {
		Bytes string `json:"bytes"` // base64, as the JSON protocol carries blobs
	}
	bedrockToolUseBlock struct {
		ToolUse struct {
			ToolUseID string          `json:"toolUseId"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
		} `json:"toolUse"`
	}
	bedrockToolResultBlock struct {
		ToolResult struct {
			ToolUseID string             `json:"toolUseId"`
			Content   []bedrockTextBlock `json:"content"`
		} `json:"toolResult"`
	}
	bedrockReasoningBlock struct {
		ReasoningContent bedrockReasoning `json:"reasoningContent"`
	}
	bedrockReasoning struct {
		ReasoningText *struct {
			Text      string `json:"text"`
			Signature string `json:"signature,omitempty"`
		} `json:"reasoningText,omitempty"`
		RedactedContent string `json:"redactedContent,omitempty"`
	}
)

// bedrockCachePoint marks a prompt-cache breakpoint after the block before
// it (LiteLLM writes one for a part with cache_control).
var bedrockCachePoint = json.RawMessage(`{"cachePoint":{"type":"default"}}`)

// bedrockTranslated is a translated request and the request facts the
// response translation needs.
type bedrockTranslated struct {
	out          bedrockRequest
	stream       bool
	includeUsage bool
	// jsonMode: response_format asked for JSON, which comes back as a
	// call of jsonModeTool and goes to the client as content.
	jsonMode bool
}

// Bedrock's image formats, by media type.
var bedrockImageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp",
}

// Bedrock's document formats, by media type.
var bedrockDocumentFormats = map[string]string{
	"application/pdf":    "pdf",
	"text/csv":           "csv",
	"application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html":     "html",
	"text/plain":    "txt",
	"text/markdown": "md",
}

// bedrockTranslateRequest reads an OpenAI chat completion request.
//
// Mapped: messages (system and developer → system), max_completion_tokens
// or max_tokens, temperature, top_p, stop → inferenceConfig; tools and
// tool_choice → toolConfig; response_format → a forced JSON tool (LiteLLM's
// JSON mode); top_k, thinking and reasoning_effort → additionalModelRequestFields
// for Anthropic models. Dropped, as LiteLLM does with drop_params:
// frequency_penalty, presence_penalty, logit_bias, logprobs, n, seed,
// user, metadata, parallel_tool_calls, service_tier, store, ... and unknown
// keys.
func bedrockTranslateRequest(body []byte, modelID string) (bedrockTranslated, error) {
	var t bedrockTranslated
	in, err := readOpenAIRequest(body)
	if err != nil {
		return t, err
	}
	get := in.get
	out := &t.out

	msgs, err := in.messages()
	if err != nil {
		return t, err
	}
	if out.System, out.Messages, err = bedrockMessages(msgs); err != nil {
		return t, err
	}

	var ic bedrockInferenceConfig
	for _, p := range []struct {
		key string
		dst *json.RawMessage
	}{{"temperature", &ic.Temperature}, {"top_p", &ic.TopP}} {
		if *p.dst, err = in.number(p.key); err != nil {
			return t, err
		}
	}
	maxKey, maxTokens := in.maxTokens()
	ic.MaxTokens = maxTokens
	if ic.MaxTokens != nil {
		if n, err := strconv.ParseUint(string(ic.MaxTokens), 10, 31); err != nil || n == 0 {
			return t, fmt.Errorf("%s: want a positive integer, got %s", maxKey, ic.MaxTokens)
		}
	}
	anthropicModel := bedrockIsAnthropic(modelID)
	if v := get("stop"); v != nil {
		if ic.StopSequences, err = bedrockStop(v, anthropicModel); err != nil {
			return t, err
		}
	}

	if t.stream, t.includeUsage, err = in.stream(); err != nil {
		return t, err
	}

	if v := get("tools"); v != nil {
		tools, err := bedrockTools(v)
		if err != nil {
			return t, err
		}
		if len(tools) > 0 {
			out.ToolConfig = &bedrockToolConfig{Tools: tools}
			if out.ToolConfig.ToolChoice, err = bedrockToolChoice(get("tool_choice")); err != nil {
				return t, err
			}
		}
	}

	// Anthropic's own parameters, for Anthropic's models only: others
	// refuse keys they do not know.
	extra := map[string]any{}
	if v := get("top_k"); v != nil && anthropicModel {
		extra["top_k"] = json.RawMessage(v)
	}
	thinking, budget := false, -1
	if th := readThinking(in); anthropicModel && th.raw != nil {
		extra["thinking"] = th.raw
		thinking, budget = th.enabled, th.budget
	} else if anthropicModel && th.effort >= 0 {
		extra["thinking"] = map[string]any{"type": "enabled", "budget_tokens": th.effort}
		thinking, budget = true, th.effort
	}
	if len(extra) > 0 {
		out.AdditionalModelRequestFields = extra
	}
	if ic.MaxTokens == nil && budget >= 0 {
		// Anthropic wants max_tokens above the thinking budget; LiteLLM
		// adds its default to the budget.
		ic.MaxTokens = json.RawMessage(strconv.Itoa(budget + messagesDefaultMaxTokens))
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || ic.StopSequences != nil {
		out.InferenceConfig = &ic
	}

	if v := get("response_format"); v != nil {
		schema, ok, err := responseFormatSchema(v)
		if err != nil {
			return t, err
		}
		if ok {
			t.jsonMode = true
			if out.ToolConfig == nil {
				out.ToolConfig = &bedrockToolConfig{}
			}
			out.ToolConfig.Tools = append(out.ToolConfig.Tools, bedrockTool{ToolSpec: bedrockToolSpec{Name: jsonModeTool, InputSchema: bedrockJSON{JSON: schema}}})
			// Forced, as LiteLLM does, unless extended thinking is on,
			// which allows only an automatic tool choice.
			if !thinking {
				out.ToolConfig.ToolChoice = json.RawMessage(`{"tool":{"name":"` + jsonModeTool + `"}}`)
			}
		}
	}
	if out.ToolConfig == nil && bedrockHasToolBlocks(out.Messages) {
		// Bedrock refuses toolUse and toolResult blocks without a
		// toolConfig; say so in OpenAI's terms rather than AWS's.
		return t, fmt.Errorf("tools: required when the conversation has tool calls or tool results (Bedrock refuses them without a tool configuration)")
	}
	return t, nil
}

// bedrockStop reads stop (a string or a list of strings). Empty sequences
// are dropped, as LiteLLM does (Converse refuses them); whitespace-only
// ones too for Anthropic's models, which refuse those.
func bedrockStop(v []byte, anthropicModel bool) ([]string, error) {
	var list []string
	if v[0] == '"' {
		s, _ := jsonscan.String(v)
		list = []string{s}
	} else if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("stop: want a string or a list of strings, got %s", jsonscan.Kind(v))
	}
	var out []string
	for _, s := range list {
		if s != "" && (!anthropicModel || strings.TrimSpace(s) != "") {
			out = append(out, s)
		}
	}
	return out, nil
}

// bedrockIsAnthropic reports whether a model id (base model, inference
// profile or ARN) names one of Anthropic's models, which take
// Anthropic's own parameters in additionalModelRequestFields.
func bedrockIsAnthropic(modelID string) bool {
	return strings.Contains(modelID, "anthropic.")
}

// bedrockMessages splits OpenAI messages into Converse's system blocks and
// alternating user and assistant turns.
func bedrockMessages(msgs []openAIChatMessage) ([]json.RawMessage, []messagesTurn, error) {
	var system []json.RawMessage
	docs := 0
	turns, err := messagesRoles{
		provider: "Bedrock",
		system: func(parts []messagesTextBlock, m openAIChatMessage) {
			for j, p := range parts {
				system = append(system, bedrockText(p.Text))
				if len(p.CacheControl) > 0 || (j == len(parts)-1 && !jsonscan.IsNull(m.CacheControl)) {
					system = append(system, bedrockCachePoint)
				}
			}
		},
		user: func(where string, m openAIChatMessage) ([]json.RawMessage, error) {
			blocks, err := bedrockUserContent(where, m.Content, &docs)
			if len(blocks) > 0 && !jsonscan.IsNull(m.CacheControl) {
				blocks = append(blocks, bedrockCachePoint)
			}
			return blocks, err
		},
		assistant:  bedrockAssistantContent,
		toolResult: bedrockToolResult,
	}.turns(msgs)
	if err != nil {
		return nil, nil, err
	}
	return system, turns, nil
}

func bedrockText(s string) json.RawMessage {
	b, _ := jsonscan.Marshal(bedrockTextBlock{Text: s}) // a string: cannot fail
	return b
}

// bedrockUserContent turns a user message's content into blocks. Empty
// text is dropped: Bedrock refuses blank text blocks.
func bedrockUserContent(where string, content json.RawMessage, docs *int) ([]json.RawMessage, error) {
	if jsonscan.IsNull(content) {
		return nil, nil
	}
	if content[0] == '"' {
		if s, _ := jsonscan.String(content); s != "" {
			return []json.RawMessage{bedrockText(s)}, nil
		}
		return nil, nil
	}
	parts, err := contentParts(where, content)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for j, p := range parts {
		pwhere := fmt.Sprintf("%s.content[%d]", where, j)
		var block json.RawMessage
		var err error
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, fmt.Errorf("%s.text: required", pwhere)
			}
			if *p.Text == "" {
				continue
			}
			block = bedrockText(*p.Text)
		case "image_url":
			block, err = bedrockImage(pwhere, p, docs)
		case "file":
			block, err = bedrockFile(pwhere, p, docs)
		case "input_audio":
			return nil, fmt.Errorf("%s: Bedrock's Converse API does not take audio input", pwhere)
		default:
			return nil, fmt.Errorf("%s: unsupported content part type %q", pwhere, p.Type)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, block)
		if !jsonscan.IsNull(p.CacheControl) {
			out = append(out, bedrockCachePoint)
		}
	}
	return out, nil
}

// bedrockImage turns an image_url part with a base64 data: URL into an
// image block (a PDF or another document type into a document block).
// Remote URLs are refused: Bedrock takes bytes or S3 locations only, and
// fetching the image on the request path (what LiteLLM does) would stall
// it.
func bedrockImage(where string, p openAIContentPart, docs *int) (json.RawMessage, error) {
	var u string
	if len(p.ImageURL) > 0 && p.ImageURL[0] == '"' {
		u, _ = jsonscan.String(p.ImageURL)
	} else {
		var iu struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(p.ImageURL, &iu); err != nil {
			return nil, fmt.Errorf("%s.image_url: want an object with url, got %s", where, jsonscan.Kind(p.ImageURL))
		}
		u = iu.URL
	}
	if !strings.HasPrefix(u, "data:") {
		return nil, fmt.Errorf("%s.image_url.url: Bedrock deployments take images as base64 data: URLs (data:image/png;base64,...), not remote URLs", where)
	}
	mediaType, data, err := parseDataURL(u)
	if err != nil {
		return nil, fmt.Errorf("%s.image_url.url: %v", where, err)
	}
	return bedrockMediaBlock(where+".image_url.url", mediaType, data, docs)
}

// bedrockFile turns a file part carrying file_data (a base64 data: URL)
// into a document or image block. File ids name OpenAI's file store.
func bedrockFile(where string, p openAIContentPart, docs *int) (json.RawMessage, error) {
	var f struct {
		FileData string `json:"file_data"`
	}
	if err := json.Unmarshal(p.File, &f); err != nil {
		return nil, fmt.Errorf("%s.file: want an object, got %s", where, jsonscan.Kind(p.File))
	}
	if f.FileData == "" {
		return nil, fmt.Errorf("%s.file: only file_data (a base64 data: URL) is supported for Bedrock deployments", where)
	}
	mediaType, data, err := parseDataURL(f.FileData)
	if err != nil {
		return nil, fmt.Errorf("%s.file.file_data: %v", where, err)
	}
	return bedrockMediaBlock(where+".file.file_data", mediaType, data, docs)
}

func bedrockMediaBlock(where, mediaType, data string, docs *int) (json.RawMessage, error) {
	mediaType = strings.ToLower(mediaType)
	if format, ok := bedrockImageFormats[mediaType]; ok {
		return jsonscan.Marshal(bedrockImageBlock{Image: bedrockMedia{Format: format, Source: bedrockSource{Bytes: data}}})
	}
	if format, ok := bedrockDocumentFormats[mediaType]; ok {
		// Bedrock wants a name per document, unique in the request.
		*docs++
		name := "document-" + strconv.Itoa(*docs)
		return jsonscan.Marshal(bedrockDocumentBlock{Document: bedrockMedia{Format: format, Name: name, Source: bedrockSource{Bytes: data}}})
	}
	return nil, fmt.Errorf("%s: media type %q is not one Bedrock takes (images: png, jpeg, gif, webp; documents: pdf, csv, doc, docx, xls, xlsx, html, txt, md)", where, mediaType)
}

func bedrockAssistantContent(where string, m openAIChatMessage) ([]json.RawMessage, error) {
	var out []json.RawMessage
	// Reasoning from an earlier answer (LiteLLM's thinking_blocks) goes
	// back first, signature included, as extended thinking requires.
	for j, tb := range m.ThinkingBlocks {
		if jsonscan.IsNull(tb) {
			continue
		}
		var b struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
			Data      string `json:"data"`
		}
		if err := json.Unmarshal(tb, &b); err != nil {
			return nil, fmt.Errorf("%s.thinking_blocks[%d]: want an object, got %s", where, j, jsonscan.Kind(tb))
		}
		var r bedrockReasoningBlock
		switch b.Type {
		case "thinking":
			r.ReasoningContent.ReasoningText = &struct {
				Text      string `json:"text"`
				Signature string `json:"signature,omitempty"`
			}{b.Thinking, b.Signature}
		case "redacted_thinking":
			r.ReasoningContent.RedactedContent = b.Data
		default:
			return nil, fmt.Errorf("%s.thinking_blocks[%d].type: want thinking or redacted_thinking, got %q", where, j, b.Type)
		}
		block, err := jsonscan.Marshal(r)
		if err != nil {
			return nil, err
		}
		out = append(out, block)
	}
	texts, err := assistantText(where, m.Content)
	if err != nil {
		return nil, err
	}
	for _, t := range texts {
		out = append(out, bedrockText(t.Text))
	}
	for j, tc := range m.ToolCalls {
		twhere := fmt.Sprintf("%s.tool_calls[%d]", where, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, fmt.Errorf("%s.type: unsupported tool call type %q", twhere, tc.Type)
		}
		if tc.ID == "" {
			return nil, fmt.Errorf("%s.id: required", twhere)
		}
		input, err := toolArgumentsObject(tc.Function.Arguments)
		if err != nil {
			return nil, fmt.Errorf("%s.function.arguments: %v", twhere, err)
		}
		var b bedrockToolUseBlock
		b.ToolUse.ToolUseID, b.ToolUse.Name, b.ToolUse.Input = tc.ID, tc.Function.Name, input
		block, err := jsonscan.Marshal(b)
		if err != nil {
			return nil, err
		}
		out = append(out, block)
	}
	if len(m.FunctionCall) > 0 && !jsonscan.IsNull(m.FunctionCall) {
		return nil, fmt.Errorf("%s.function_call: deprecated and not supported for Bedrock deployments; use tool_calls", where)
	}
	if len(out) > 0 && !jsonscan.IsNull(m.CacheControl) {
		out = append(out, bedrockCachePoint)
	}
	return out, nil
}

// bedrockToolResult turns a tool message into a toolResult block with the
// result's text; the caller puts it in a user turn.
func bedrockToolResult(where string, m openAIChatMessage) (json.RawMessage, error) {
	if m.ToolCallID == "" {
		return nil, fmt.Errorf("%s.tool_call_id: required", where)
	}
	var b bedrockToolResultBlock
	b.ToolResult.ToolUseID = m.ToolCallID
	switch {
	case jsonscan.IsNull(m.Content):
		b.ToolResult.Content = []bedrockTextBlock{{Text: ""}}
	case m.Content[0] == '"':
		s, _ := jsonscan.String(m.Content)
		b.ToolResult.Content = []bedrockTextBlock{{Text: s}}
	default:
		parts, err := textParts(where, m.Content)
		if err != nil {
			return nil, err
		}
		var text strings.Builder
		for _, p := range parts {
			text.WriteString(p.Text)
		}
		b.ToolResult.Content = []bedrockTextBlock{{Text: text.String()}}
	}
	return jsonscan.Marshal(b)
}

func bedrockTools(v []byte) ([]bedrockTool, error) {
	tools, err := readTools(v)
	if err != nil {
		return nil, err
	}
	out := make([]bedrockTool, 0, len(tools))
	for i, t := range tools {
		if err := t.checkFunction(i, "Bedrock"); err != nil {
			return nil, err
		}
		schema := t.Function.Parameters
		if jsonscan.IsNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		} else if bytes.TrimSpace(schema)[0] != '{' {
			return nil, fmt.Errorf("tools[%d].function.parameters: want a JSON schema object, got %s", i, jsonscan.Kind(schema))
		}
		out = append(out, bedrockTool{ToolSpec: bedrockToolSpec{Name: t.Function.Name, Description: t.Function.Description, InputSchema: bedrockJSON{JSON: schema}}})
	}
	return out, nil
}

// bedrockToolChoice maps tool_choice as LiteLLM does: auto and required
// (Bedrock's any) by name, a named function to {"tool":{"name"}}. Bedrock
// has no "none": it is dropped (LiteLLM with drop_params), which leaves
// the choice to the model.
func bedrockToolChoice(choice []byte) (json.RawMessage, error) {
	mode, function, err := readToolChoice(choice)
	switch {
	case err != nil:
		return nil, err
	case mode == "auto":
		return json.RawMessage(`{"auto":{}}`), nil
	case mode == "required":
		return json.RawMessage(`{"any":{}}`), nil
	case mode == "function":
		return jsonscan.Marshal(map[string]any{"tool": map[string]string{"name": function}})
	}
	return nil, nil
}

// bedrockHasToolBlocks reports whether any turn carries a toolUse or a
// toolResult block.
func bedrockHasToolBlocks(msgs []messagesTurn) bool {
	for _, m := range msgs {
		for _, b := range m.Content {
			if bytes.HasPrefix(b, []byte(`{"toolUse":`)) || bytes.HasPrefix(b, []byte(`{"toolResult":`)) {
				return true
			}
		}
	}
	return false
}
