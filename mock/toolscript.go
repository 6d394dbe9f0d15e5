package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// The tool-call script: how a test makes a mock call one of the tools a client
// offers, so an agent's tool loop can run against a mock deterministically.
// The OpenAI chat completions, OpenAI Responses and Anthropic Messages mocks
// follow the same rules, checked in this order:
//
//  1. The request offers tools, the last turn is the user's (not a tool
//     result), and a text of that turn holds a line
//
//     MOCK_TOOL_CALL <tool-name> <json-arguments>
//
//     The marker may stand anywhere on its line, before it only text the
//     mock ignores; <tool-name> is the run of non-space characters after
//     it; <json-arguments> is the rest of that line, a JSON object (nothing,
//     or only spaces, means {}). The answer is one call of that tool with
//     those arguments, in the provider's format. A name that is not among
//     the request's tools, or arguments that are not a JSON object, are a
//     400 in the provider's error shape, so a test sees a broken tool
//     mapping instead of a silent text answer.
//  2. The last turn is a tool result (OpenAI chat: a "tool" message;
//     Responses: a function_call_output item; Anthropic: a user turn with
//     tool_result blocks): the answer is text quoting the whole result,
//     ToolResultReply(name, result).
//  3. Otherwise the answer is what it was before the script: Reply(name,
//     last user text), or Anthropic's tool_use forced by tool_choice.
//
// Anthropic's forced tool_choice ("any", "tool") keeps its meaning and goes
// before rule 2; a marker goes before both.

// ToolCallMarker starts a scripted tool call in a user message.
const ToolCallMarker = "MOCK_TOOL_CALL"

// ToolResultReply is the text a mock answers to a tool result: the whole
// result, not cut like a prompt in Reply. For a result of up to 40 runes it is
// Reply(name, result).
func ToolResultReply(name, result string) string {
	return "Hello from mock " + name + "! You said: " + result
}

// scriptedCall is a tool call asked for by a MOCK_TOOL_CALL line.
type scriptedCall struct {
	name string
	args []byte // a compact JSON object
}

// errNoMarker: the text holds no MOCK_TOOL_CALL.
var errNoMarker = errors.New("no " + ToolCallMarker + " marker")

// findToolCall reads the first MOCK_TOOL_CALL line in text. It returns
// errNoMarker when there is none, and another error for a malformed one.
func findToolCall(text string) (scriptedCall, error) {
	for line := range strings.Lines(text) {
		i := strings.Index(line, ToolCallMarker)
		if i < 0 {
			continue
		}
		rest := strings.TrimRight(line[i+len(ToolCallMarker):], "\r\n")
		if rest != "" && !unicode.IsSpace(rune(rest[0])) {
			continue // MOCK_TOOL_CALLS or similar: not the marker
		}
		rest = strings.TrimSpace(rest)
		name, args := rest, ""
		if j := strings.IndexFunc(rest, unicode.IsSpace); j >= 0 {
			name, args = rest[:j], rest[j:]
		}
		if name == "" {
			return scriptedCall{}, errors.New(ToolCallMarker + ": a tool name must follow the marker")
		}
		args = strings.TrimSpace(args)
		if args == "" {
			args = "{}"
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(args), &obj) != nil || obj == nil {
			return scriptedCall{}, errors.New(ToolCallMarker + " " + name + ": the arguments must be a JSON object on the same line, got " + strconv.Quote(args))
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(args)) // valid: just decoded
		return scriptedCall{name: name, args: buf.Bytes()}, nil
	}
	return scriptedCall{}, errNoMarker
}

// scriptToolCall applies rule 1: the call asked for by texts (the last user
// turn's texts, each searched on its own) among the offered tools. ok is
// false when the rule does not apply; a non-empty problem is the 400 message.
func scriptToolCall(texts []string, tools []string) (call scriptedCall, ok bool, problem string) {
	if len(tools) == 0 {
		return call, false, ""
	}
	for _, text := range texts {
		c, err := findToolCall(text)
		if errors.Is(err, errNoMarker) {
			continue
		}
		if err != nil {
			return call, false, "mock: " + err.Error()
		}
		for _, t := range tools {
			if t == c.name {
				return c, true, ""
			}
		}
		return call, false, "mock: " + ToolCallMarker + " names tool " + strconv.Quote(c.name) +
			", which is not among the request's tools (" + strings.Join(tools, ", ") + ")"
	}
	return call, false, ""
}
