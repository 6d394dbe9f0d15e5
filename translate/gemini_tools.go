package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

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
		if typ := m["type"]; !jsonscan.IsNull(typ) {
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
		if !jsonscan.IsNull(f.Parameters) {
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
	if jsonscan.IsNull(raw) {
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
