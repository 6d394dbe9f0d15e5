package translate

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

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
	if !jsonscan.IsNull(req.Stop) {
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
	if jsonscan.IsNull(raw) {
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
	if !jsonscan.IsNull(rf.ResponseSchema) {
		c.ResponseMimeType, schema = "application/json", rf.ResponseSchema
	}
	if jsonscan.IsNull(schema) {
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
