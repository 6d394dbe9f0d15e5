package responsesapi

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// toolName is a function's name as the Responses API spells it: a
// function inside a namespace tool has a name and a namespace.
type toolName struct{ namespace, name string }

// flatName is the chat function name of a namespaced function: Codex's own
// flat spelling (namespace__name, the underscores around the delimiter
// trimmed), so a model that has seen Codex's tools sees the same names.
func flatName(namespace, name string) string {
	return strings.TrimRight(namespace, "_") + "__" + strings.TrimLeft(name, "_")
}

// tools is what the request's tools become: the chat function tools, and
// what a function call's name needs to be read back.
type tools struct {
	chat       []chatTool
	functions  map[string]bool     // chat function names
	namespaced map[string]toolName // flat chat name -> namespace and name
	dropped    map[string]bool     // built-in tool types the request named
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// responsesTool is any tool of a Responses request; fields are set by type.
type responsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
	Tools       json.RawMessage `json:"tools"` // a namespace's
}

// builtinTools are OpenAI's hosted tools and tool kinds a chat completion
// cannot carry: they are dropped (see the package doc).
var builtinTools = map[string]bool{
	"web_search": true, "web_search_preview": true, "web_search_preview_2025_03_11": true,
	"web_search_2025_08_26": true, "file_search": true, "code_interpreter": true,
	"computer_use_preview": true, "computer_use": true, "computer": true,
	"image_generation": true, "local_shell": true, "shell": true, "apply_patch": true,
	"mcp": true, "custom": true, "tool_search": true,
}

func readTools(v json.RawMessage) (tools, error) {
	ts := tools{functions: map[string]bool{}, namespaced: map[string]toolName{}, dropped: map[string]bool{}}
	if v == nil {
		return ts, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		return ts, fmt.Errorf("tools: want a list of tools, got %s", jsonscan.Kind(v))
	}
	for i, r := range list {
		where := fmt.Sprintf("tools[%d]", i)
		var t responsesTool
		if err := json.Unmarshal(r, &t); err != nil {
			return ts, fmt.Errorf("%s: %s", where, jsonscan.DecodeError(err))
		}
		switch {
		case t.Type == "function":
			if err := ts.addFunction(where, "", t); err != nil {
				return ts, err
			}
		case t.Type == "namespace":
			if t.Name == "" {
				return ts, fmt.Errorf("%s.name: required", where)
			}
			var nested []responsesTool
			if err := json.Unmarshal(t.Tools, &nested); err != nil {
				return ts, fmt.Errorf("%s.tools: want a list of tools, got %s", where, jsonscan.Kind(t.Tools))
			}
			for j, n := range nested {
				if n.Type != "function" {
					ts.dropped[n.Type] = true
					continue
				}
				if err := ts.addFunction(fmt.Sprintf("%s.tools[%d]", where, j), t.Name, n); err != nil {
					return ts, err
				}
			}
		case builtinTools[t.Type] || strings.HasPrefix(t.Type, "web_search"):
			ts.dropped[t.Type] = true
		default:
			return ts, fmt.Errorf("%s.type: unknown tool type %q", where, t.Type)
		}
	}
	return ts, nil
}

func (ts *tools) addFunction(where, namespace string, t responsesTool) error {
	if t.Name == "" {
		return fmt.Errorf("%s.name: required", where)
	}
	name := t.Name
	if namespace != "" {
		name = flatName(namespace, t.Name)
		ts.namespaced[name] = toolName{namespace: namespace, name: t.Name}
	}
	if ts.functions[name] {
		return fmt.Errorf("%s.name: function %q is defined twice", where, name)
	}
	ts.functions[name] = true
	ts.chat = append(ts.chat, chatTool{Type: "function", Function: chatFunction{
		Name: name, Description: t.Description, Parameters: raw(t.Parameters), Strict: t.Strict,
	}})
	return nil
}

// chatName is the chat function name of a function the Responses API
// names with name and namespace.
func (ts *tools) chatName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return flatName(namespace, name)
}

// choice maps tool_choice to the chat one (nil: leave the default). A
// choice naming a tool that was dropped, or a hosted tool, becomes "auto".
func (ts *tools) choice(v json.RawMessage) (any, error) {
	if v == nil {
		return nil, nil
	}
	if v[0] == '"' {
		var s string
		_ = json.Unmarshal(v, &s)
		switch s {
		case "auto", "none", "required":
			return s, nil
		}
		return nil, fmt.Errorf("tool_choice: want auto, none, required or an object, got %q", s)
	}
	var c struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("tool_choice: want auto, none, required or an object, got %s", jsonscan.Kind(v))
	}
	if c.Type == "function" {
		name := ts.chatName(c.Namespace, c.Name)
		if ts.functions[name] {
			return map[string]any{"type": "function", "function": map[string]string{"name": name}}, nil
		}
	}
	return "auto", nil
}
