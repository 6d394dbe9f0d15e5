package translate

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// OpenAI chat completion request, as far as Gemini can use it. Fields
// Gemini has no counterpart for (user, metadata, store, logit_bias,
// parallel_tool_calls, ...) are dropped, as LiteLLM does with drop_params.
type gemOAChatRequest struct {
	Messages            []openAIChatMessage `json:"messages"`
	Stream              *bool               `json:"stream"`
	StreamOptions       *gemOAStreamOpts    `json:"stream_options"`
	Temperature         *float64            `json:"temperature"`
	TopP                *float64            `json:"top_p"`
	MaxTokens           *int64              `json:"max_tokens"`
	MaxCompletionTokens *int64              `json:"max_completion_tokens"`
	Stop                json.RawMessage     `json:"stop"`
	N                   *int64              `json:"n"`
	ResponseFormat      json.RawMessage     `json:"response_format"`
	Tools               []gemOATool         `json:"tools"`
	Functions           []gemOAFunction     `json:"functions"`
	ToolChoice          json.RawMessage     `json:"tool_choice"`
	FunctionCall        json.RawMessage     `json:"function_call"`
	FrequencyPenalty    *float64            `json:"frequency_penalty"`
	PresencePenalty     *float64            `json:"presence_penalty"`
	Seed                *int64              `json:"seed"`
	Logprobs            *bool               `json:"logprobs"`
	TopLogprobs         *int64              `json:"top_logprobs"`
	ReasoningEffort     *string             `json:"reasoning_effort"`
	// SafetySettings is LiteLLM's safety_settings parameter, Gemini's
	// safetySettings as is.
	SafetySettings json.RawMessage `json:"safety_settings"`
}

type gemOAStreamOpts struct {
	IncludeUsage bool `json:"include_usage"`
}

type gemOAFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
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
	out, err := jsonscan.Marshal(g)
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
	if jsonscan.IsNull(choice) {
		choice, field = req.FunctionCall, "function_call"
	}
	if g.ToolConfig, err = geminiToolConfig(choice, field); err != nil {
		return nil, err
	}
	if g.GenerationConfig, err = geminiGenerationConfig(d, req, budget); err != nil {
		return nil, err
	}
	if !jsonscan.IsNull(req.SafetySettings) {
		var settings []map[string]json.RawMessage
		if err := json.Unmarshal(req.SafetySettings, &settings); err != nil {
			return nil, geminiBadRequest("safety_settings: want an array of {category, threshold}")
		}
		g.SafetySettings = req.SafetySettings
	}
	return g, nil
}

func geminiIsSystem(role string) bool { return role == "system" || role == "developer" }
