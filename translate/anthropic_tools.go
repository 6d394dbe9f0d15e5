package translate

import (
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

func anthropicTools(v []byte) ([]anthropicTool, error) {
	tools, err := readTools(v)
	if err != nil {
		return nil, err
	}
	out := make([]anthropicTool, 0, len(tools))
	for i, t := range tools {
		if err := t.checkFunction(i, "Anthropic"); err != nil {
			return nil, err
		}
		schema := t.Function.Parameters
		if jsonscan.IsNull(schema) {
			// Anthropic requires a schema; a function without
			// parameters takes an empty object.
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		cc := t.CacheControl
		if jsonscan.IsNull(cc) {
			cc = t.Function.CacheControl
		}
		if jsonscan.IsNull(cc) {
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
	mode, function, err := readToolChoice(choice)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "auto", "none":
		tc.Type = mode
	case "required":
		tc.Type = "any"
	case "function":
		tc.Type, tc.Name = "tool", function
	}
	if parallel != nil && tc.Type != "none" {
		p, ok := jsonscan.Bool(parallel)
		if !ok {
			return nil, fmt.Errorf("parallel_tool_calls: want a boolean, got %s", jsonscan.Kind(parallel))
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
	return jsonscan.Marshal(tc)
}
