package translate

import (
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

func anthropicTools(v []byte) ([]anthropicTool, error) {
	var tools []openAIChatTool
	if err := json.Unmarshal(v, &tools); err != nil {
		return nil, fmt.Errorf("tools: want a list of tools, got %s", jsonKind(v))
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
		if jsonIsNull(schema) {
			// Anthropic requires a schema; a function without
			// parameters takes an empty object.
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		cc := t.CacheControl
		if jsonIsNull(cc) {
			cc = t.Function.CacheControl
		}
		if jsonIsNull(cc) {
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
			return nil, fmt.Errorf("parallel_tool_calls: want a boolean, got %s", jsonKind(parallel))
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
	return marshalJSON(tc)
}
