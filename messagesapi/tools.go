package messagesapi

import (
	"encoding/json"
	"strconv"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// chatTool is a function tool of chat completions.
type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// tools converts the custom tools; Anthropic's server tools (any other
// type: web_search_20250305, bash_20250124, text_editor_*, computer_*,
// code_execution_*, ...) run on Anthropic's side and are dropped.
func tools(raw json.RawMessage) ([]chatTool, error) {
	if jsonscan.IsNull(raw) {
		return nil, nil
	}
	list, err := asList("tools", raw)
	if err != nil {
		return nil, err
	}
	var out []chatTool
	for i, t := range list {
		where := "tools." + strconv.Itoa(i)
		var tool struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		}
		if err := asObject(where, t, &tool); err != nil {
			return nil, err
		}
		if tool.Type != "" && tool.Type != "custom" {
			continue
		}
		if tool.Name == "" {
			return nil, badRequest("%s.name: Field required", where)
		}
		if firstByte(tool.InputSchema) != '{' {
			return nil, badRequest("%s.input_schema: Input should be a valid dictionary, got %s", where, jsonscan.Kind(tool.InputSchema))
		}
		out = append(out, chatTool{Type: "function", Function: chatFunction{
			Name:        tool.Name,
			Description: tool.Description,
			Parameters:  withoutSchemaKeyword(tool.InputSchema),
		}})
	}
	return out, nil
}

// withoutSchemaKeyword drops $schema from a schema's top level: Claude Code
// sends one on every tool, and some servers (Gemini's OpenAI endpoint
// among them) refuse keywords they do not know.
func withoutSchemaKeyword(schema json.RawMessage) json.RawMessage {
	fields, err := jsonscan.Fields(schema)
	if err != nil {
		return schema
	}
	return jsonscan.Delete(schema, fields, "$schema")
}

// toolChoice converts tool_choice and its disable_parallel_tool_use. Chat
// servers refuse either without tools, so both go only with tools.
func toolChoice(raw json.RawMessage, haveTools bool) (choice any, parallel *bool, err error) {
	if jsonscan.IsNull(raw) {
		return nil, nil, nil
	}
	var tc struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	if err := asObject("tool_choice", raw, &tc); err != nil {
		return nil, nil, err
	}
	switch tc.Type {
	case "auto":
		choice = "auto"
	case "any":
		choice = "required"
	case "none":
		choice = "none"
	case "tool":
		if tc.Name == "" {
			return nil, nil, badRequest("tool_choice.name: Field required")
		}
		choice = map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}}
	default:
		return nil, nil, badRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', got %q", tc.Type)
	}
	if !haveTools {
		return nil, nil, nil
	}
	if tc.DisableParallelToolUse && tc.Type != "none" {
		f := false
		parallel = &f
	}
	return choice, parallel, nil
}
