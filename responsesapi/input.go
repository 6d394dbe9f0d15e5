package responsesapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// chatMessage is one message of the chat completion ToChat writes. Content
// is a string, a list of chatPart, or nil (null: an assistant message with
// tool calls only).
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatPart struct {
	Type     string         `json:"type"`
	Text     *string        `json:"text,omitempty"`
	ImageURL *chatImageURL  `json:"image_url,omitempty"`
	File     map[string]any `json:"file,omitempty"`
}

type chatImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// inputItem is any item of a Responses input list; fields are set by type.
// Every item may carry an id, which a stateless translation ignores.
type inputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Namespace string          `json:"namespace"`
	Arguments json.RawMessage `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// inputPart is a content part of a message or a function call's output.
type inputPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *string `json:"image_url"`
	Detail   string  `json:"detail"`
	FileID   string  `json:"file_id"`
	FileData string  `json:"file_data"`
	FileURL  string  `json:"file_url"`
	Filename string  `json:"filename"`
}

// conversation builds the chat messages from input items in order.
type conversation struct {
	msgs []chatMessage
	// toolImages are images from function call outputs, which a chat tool
	// message cannot carry: they follow the run of tool messages as a user
	// message.
	toolImages []chatPart
}

func readInput(v json.RawMessage, ts tools) ([]chatMessage, error) {
	if v == nil {
		return nil, errors.New("input: required")
	}
	if v[0] == '"' {
		var s string
		_ = json.Unmarshal(v, &s)
		if s == "" {
			return nil, errors.New("input: empty")
		}
		return []chatMessage{{Role: "user", Content: s}}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fmt.Errorf("input: want a string or a list of items, got %s", jsonscan.Kind(v))
	}
	var c conversation
	for i, r := range items {
		if err := c.item(fmt.Sprintf("input[%d]", i), r, ts); err != nil {
			return nil, err
		}
	}
	c.flushToolImages()
	if len(c.msgs) == 0 {
		return nil, errors.New("input: no message to send")
	}
	return c.msgs, nil
}

func (c *conversation) item(where string, r json.RawMessage, ts tools) error {
	var it inputItem
	if err := json.Unmarshal(r, &it); err != nil {
		if jsonscan.Kind(r) != "an object" {
			return fmt.Errorf("%s: want an object, got %s", where, jsonscan.Kind(r))
		}
		return fmt.Errorf("%s: %s", where, jsonscan.DecodeError(err))
	}
	switch it.Type {
	case "message", "":
		if it.Type == "" && it.Role == "" {
			return fmt.Errorf("%s: want a message (role and content) or an item with a type", where)
		}
		return c.message(where, it)
	case "function_call":
		return c.functionCall(where, it, ts)
	case "function_call_output":
		return c.functionCallOutput(where, it)
	case "reasoning":
		// Its encrypted_content means something to OpenAI only.
		return nil
	case "item_reference":
		return fmt.Errorf("%s: item_reference needs a response store, which this gateway does not keep: send the item itself", where)
	}
	return fmt.Errorf("%s.type: unsupported input item type %q", where, it.Type)
}

func (c *conversation) message(where string, it inputItem) error {
	role := it.Role
	switch role {
	case "developer", "system":
		// Many OpenAI-compatible servers reject the developer role.
		role = "system"
	case "user", "assistant":
	default:
		return fmt.Errorf("%s.role: want user, assistant, system or developer, got %q", where, it.Role)
	}
	content, err := messageContent(where, role, it.Content)
	if err != nil {
		return err
	}
	c.flushToolImages()
	c.msgs = append(c.msgs, chatMessage{Role: role, Content: content})
	return nil
}

// messageContent maps a message's content: a string stays one; text parts
// join into one string except for a user, whose parts (images, files) stay
// parts.
func messageContent(where, role string, v json.RawMessage) (any, error) {
	v = raw(v)
	if v == nil {
		return nil, fmt.Errorf("%s.content: required", where)
	}
	if v[0] == '"' {
		var s string
		_ = json.Unmarshal(v, &s)
		return s, nil
	}
	var parts []inputPart
	if err := json.Unmarshal(v, &parts); err != nil {
		return nil, fmt.Errorf("%s.content: want a string or a list of content parts, got %s", where, jsonscan.Kind(v))
	}
	out, err := chatParts(where+".content", parts)
	if err != nil {
		return nil, err
	}
	texts, allText := joinText(out)
	if role != "user" {
		if !allText {
			return nil, fmt.Errorf("%s.content: only text is supported in %s messages", where, role)
		}
		return texts, nil
	}
	if allText && len(out) == 1 {
		return texts, nil
	}
	return out, nil
}

// joinText joins text parts, and reports whether there were only those.
func joinText(parts []chatPart) (string, bool) {
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", false
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(*p.Text)
	}
	return b.String(), true
}

func chatParts(where string, parts []inputPart) ([]chatPart, error) {
	out := make([]chatPart, 0, len(parts))
	for i, p := range parts {
		w := fmt.Sprintf("%s[%d]", where, i)
		switch p.Type {
		case "input_text", "output_text", "text":
			if p.Text == nil {
				return nil, fmt.Errorf("%s.text: required", w)
			}
			out = append(out, chatPart{Type: "text", Text: p.Text})
		case "refusal":
			if p.Refusal == nil {
				return nil, fmt.Errorf("%s.refusal: required", w)
			}
			out = append(out, chatPart{Type: "text", Text: p.Refusal})
		case "input_image":
			if p.FileID != "" {
				return nil, fmt.Errorf("%s.file_id: file ids are not supported by this gateway (no file store); send image_url with a URL or a data URL", w)
			}
			if p.ImageURL == nil || *p.ImageURL == "" {
				return nil, fmt.Errorf("%s.image_url: required", w)
			}
			out = append(out, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: *p.ImageURL, Detail: p.Detail}})
		case "input_file":
			switch {
			case p.FileID != "":
				return nil, fmt.Errorf("%s.file_id: file ids are not supported by this gateway (no file store); send file_data (base64) and filename", w)
			case p.FileURL != "":
				return nil, fmt.Errorf("%s.file_url: file URLs are not supported by this gateway; send file_data (base64) and filename", w)
			case p.FileData == "":
				return nil, fmt.Errorf("%s.file_data: required", w)
			}
			f := map[string]any{"file_data": p.FileData}
			if p.Filename != "" {
				f["filename"] = p.Filename
			}
			out = append(out, chatPart{Type: "file", File: f})
		default:
			return nil, fmt.Errorf("%s.type: unsupported content part type %q", w, p.Type)
		}
	}
	return out, nil
}

func (c *conversation) functionCall(where string, it inputItem, ts tools) error {
	if it.CallID == "" {
		return fmt.Errorf("%s.call_id: required", where)
	}
	if it.Name == "" {
		return fmt.Errorf("%s.name: required", where)
	}
	args, err := optString(where+".arguments", it.Arguments)
	if err != nil {
		return err
	}
	tc := chatToolCall{ID: it.CallID, Type: "function"}
	tc.Function.Name = ts.chatName(it.Namespace, it.Name)
	tc.Function.Arguments = args
	c.flushToolImages()
	// Consecutive calls, and the assistant message before them, are one
	// assistant turn in a chat completion.
	if n := len(c.msgs); n > 0 && c.msgs[n-1].Role == "assistant" {
		c.msgs[n-1].ToolCalls = append(c.msgs[n-1].ToolCalls, tc)
		return nil
	}
	c.msgs = append(c.msgs, chatMessage{Role: "assistant", ToolCalls: []chatToolCall{tc}})
	return nil
}

func (c *conversation) functionCallOutput(where string, it inputItem) error {
	if it.CallID == "" {
		return fmt.Errorf("%s.call_id: required", where)
	}
	out := raw(it.Output)
	var content string
	switch {
	case out == nil:
		return fmt.Errorf("%s.output: required", where)
	case out[0] == '"':
		_ = json.Unmarshal(out, &content)
	default:
		var parts []inputPart
		if err := json.Unmarshal(out, &parts); err != nil {
			return fmt.Errorf("%s.output: want a string or a list of content parts, got %s", where, jsonscan.Kind(out))
		}
		cp, err := chatParts(where+".output", parts)
		if err != nil {
			return err
		}
		var texts []string
		for _, p := range cp {
			if p.Type == "text" {
				texts = append(texts, *p.Text)
			} else {
				c.toolImages = append(c.toolImages, p)
			}
		}
		content = strings.Join(texts, "\n")
	}
	c.msgs = append(c.msgs, chatMessage{Role: "tool", ToolCallID: it.CallID, Content: content})
	return nil
}

// flushToolImages sends the images of the tool messages just written, now
// that their run ends.
func (c *conversation) flushToolImages() {
	if len(c.toolImages) == 0 {
		return
	}
	text := "The images the tool calls above returned:"
	parts := append([]chatPart{{Type: "text", Text: &text}}, c.toolImages...)
	c.msgs = append(c.msgs, chatMessage{Role: "user", Content: parts})
	c.toolImages = nil
}
