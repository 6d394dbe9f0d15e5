package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// geminiContents turns the conversation into Gemini turns the way LiteLLM
// does: system messages are left out (they are the system instruction),
// consecutive user messages merge into one user turn, consecutive
// assistant messages into one model turn, and consecutive tool results into
// one turn of functionResponse parts.
func geminiContents(msgs []openAIChatMessage) ([]gmContent, error) {
	// Tool call id → function name, across the conversation: a tool result
	// names its call only by id, and Gemini wants the name.
	callNames := make(map[string]string)
	for _, m := range msgs {
		for _, tc := range m.ToolCalls {
			if tc.ID != "" {
				callNames[tc.ID] = tc.Function.Name
				// A client may echo the id without the thought signature.
				base, _, _ := strings.Cut(tc.ID, geminiThoughtSeparator)
				if _, taken := callNames[base]; !taken {
					callNames[base] = tc.Function.Name
				}
			}
		}
	}
	contents := []gmContent{}
	var results []gmPart
	flushResults := func() {
		if len(results) > 0 {
			contents = append(contents, gmContent{Role: "user", Parts: results})
			results = nil
		}
	}
	for i := 0; i < len(msgs); {
		start := i
		var user []gmPart
		for ; i < len(msgs) && (msgs[i].Role == "user" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			parts, err := geminiUserParts(msgs[i].Content, fmt.Sprintf("messages[%d].content", i))
			if err != nil {
				return nil, err
			}
			user = append(user, parts...)
		}
		if len(user) > 0 {
			flushResults()
			// LiteLLM adds a blank text to a user turn of media only: the
			// API refuses a turn without a text part for some models.
			if !geminiHasText(user) {
				user = append(user, gmPart{Text: " "})
			}
			contents = append(contents, gmContent{Role: "user", Parts: user})
		}
		var model []gmPart
		for ; i < len(msgs) && (msgs[i].Role == "assistant" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			parts, err := geminiModelParts(msgs[i], i)
			if err != nil {
				return nil, err
			}
			model = append(model, parts...)
		}
		if len(model) > 0 {
			flushResults()
			contents = append(contents, gmContent{Role: "model", Parts: model})
		}
		for ; i < len(msgs) && (msgs[i].Role == "tool" || msgs[i].Role == "function" || geminiIsSystem(msgs[i].Role)); i++ {
			if geminiIsSystem(msgs[i].Role) {
				continue
			}
			part, err := geminiToolResult(msgs[i], i, callNames)
			if err != nil {
				return nil, err
			}
			results = append(results, part)
		}
		if i == start {
			return nil, geminiBadRequest("messages[%d].role: unsupported role %q; want system, developer, user, assistant or tool", i, msgs[i].Role)
		}
	}
	flushResults()
	return contents, nil
}

func geminiHasText(parts []gmPart) bool {
	for _, p := range parts {
		if p.Text != "" {
			return true
		}
	}
	return false
}

// gemOAContentPart is one element of a content array.
type gemOAContentPart struct {
	Type       string          `json:"type"`
	Text       *string         `json:"text"`
	ImageURL   json.RawMessage `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileID   string `json:"file_id"`
		FileData string `json:"file_data"`
		Format   string `json:"format"`
	} `json:"file"`
}

// geminiContentParts decodes a content value: nil for null, one text part for a
// string, the parts of an array.
func geminiContentParts(raw json.RawMessage, at string) ([]gemOAContentPart, error) {
	if jsonscan.IsNull(raw) {
		return nil, nil
	}
	if raw = bytes.TrimLeft(raw, " \t\r\n"); raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, geminiBadRequest("%s: %v", at, err)
		}
		return []gemOAContentPart{{Type: "text", Text: &s}}, nil
	}
	var parts []gemOAContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, geminiBadRequest("%s: want a string or an array of content parts: %v", at, err)
	}
	return parts, nil
}

// geminiTextOf is the text of a content value (text parts concatenated),
// for system messages and tool results.
func geminiTextOf(raw json.RawMessage, at string) (string, error) {
	parts, err := geminiContentParts(raw, at)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", geminiBadRequest("%s[%d]: only text parts are supported here, got %q", at, i, p.Type)
		}
		if p.Text != nil {
			sb.WriteString(*p.Text)
		}
	}
	return sb.String(), nil
}

func geminiUserParts(raw json.RawMessage, at string) ([]gmPart, error) {
	parts, err := geminiContentParts(raw, at)
	if err != nil {
		return nil, err
	}
	var out []gmPart
	for i, p := range parts {
		pat := fmt.Sprintf("%s[%d]", at, i)
		switch p.Type {
		case "text":
			if p.Text != nil && *p.Text != "" {
				out = append(out, gmPart{Text: *p.Text})
			}
		case "image_url":
			u, format, err := geminiImageURL(p.ImageURL, pat)
			if err != nil {
				return nil, err
			}
			part, err := geminiMediaPart(u, format, pat+".image_url")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case "input_audio":
			if p.InputAudio == nil || p.InputAudio.Data == "" || p.InputAudio.Format == "" {
				return nil, geminiBadRequest("%s.input_audio: want data and format", pat)
			}
			out = append(out, gmPart{InlineData: &gmBlob{MimeType: "audio/" + p.InputAudio.Format, Data: p.InputAudio.Data}})
		case "file":
			if p.File == nil {
				return nil, geminiBadRequest("%s.file: missing", pat)
			}
			switch {
			case p.File.FileData != "":
				part, err := geminiMediaPart(p.File.FileData, p.File.Format, pat+".file.file_data")
				if err != nil {
					return nil, err
				}
				out = append(out, part)
			case p.File.FileID != "":
				out = append(out, gmPart{FileData: &gmFileData{FileURI: p.File.FileID, MimeType: p.File.Format}})
			default:
				return nil, geminiBadRequest("%s.file: want file_id or file_data", pat)
			}
		default:
			return nil, geminiBadRequest("%s.type: unsupported content part type %q", pat, p.Type)
		}
	}
	return out, nil
}

// geminiImageURL reads image_url, a string or {"url", "detail", "format"}
// (format is LiteLLM's way to give the media type).
func geminiImageURL(raw json.RawMessage, at string) (u, format string, err error) {
	if jsonscan.IsNull(raw) {
		return "", "", geminiBadRequest("%s.image_url: missing", at)
	}
	if err := json.Unmarshal(raw, &u); err == nil {
		return u, "", nil
	}
	var obj struct {
		URL    string `json:"url"`
		Format string `json:"format"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", geminiBadRequest("%s.image_url: want a string or an object with url", at)
	}
	return obj.URL, obj.Format, nil
}

// geminiMediaPart turns a media reference into a part. data: URLs become
// inline data. Gemini Files API URIs and gs:// URIs become file data. Other
// http(s) URLs are refused: LiteLLM downloads them, but fetching from the
// ext_proc would stall the request path.
func geminiMediaPart(ref, format, at string) (gmPart, error) {
	switch {
	case strings.HasPrefix(ref, "data:"):
		mime, data, err := geminiParseDataURL(ref)
		if err != nil {
			return gmPart{}, geminiBadRequest("%s: %v", at, err)
		}
		if format != "" {
			mime = format
		}
		if mime == "" {
			return gmPart{}, geminiBadRequest("%s: the data URL has no media type", at)
		}
		return gmPart{InlineData: &gmBlob{MimeType: mime, Data: data}}, nil
	case strings.HasPrefix(ref, "gs://"):
		if format == "" {
			format = geminiMIMEFromExtension(ref)
		}
		if format == "" {
			return gmPart{}, geminiBadRequest("%s: cannot tell the media type of %q; set format", at, ref)
		}
		return gmPart{FileData: &gmFileData{FileURI: ref, MimeType: format}}, nil
	case strings.HasPrefix(ref, "https://generativelanguage.googleapis.com/"):
		if format == "" {
			format = geminiMIMEFromExtension(ref)
		}
		return gmPart{FileData: &gmFileData{FileURI: ref, MimeType: format}}, nil
	case strings.HasPrefix(ref, "http://"), strings.HasPrefix(ref, "https://"):
		return gmPart{}, geminiBadRequest("%s: remote URLs are not fetched for Gemini deployments; send the media inline as a base64 data: URL, or upload it with the Gemini Files API and pass its URI", at)
	}
	return gmPart{}, geminiBadRequest("%s: want a data: URL", at)
}

// geminiParseDataURL splits "data:[<media type>][;base64],<data>" (RFC 2397) into
// the media type and base64 data; data not marked base64 is
// percent-decoded and encoded.
func geminiParseDataURL(s string) (mime, data string, err error) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !ok {
		return "", "", errors.New("malformed data URL: no comma")
	}
	params := strings.Split(meta, ";")
	mime = strings.TrimSpace(params[0])
	isBase64 := false
	for _, p := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			isBase64 = true
		}
	}
	if isBase64 {
		return mime, payload, nil
	}
	raw, err := url.PathUnescape(payload)
	if err != nil {
		return "", "", fmt.Errorf("malformed data URL: %v", err)
	}
	return mime, base64.StdEncoding.EncodeToString([]byte(raw)), nil
}

// geminiMIMEFromExtension is LiteLLM's table of media types Gemini takes by file
// extension (_get_image_mime_type_from_url).
func geminiMIMEFromExtension(ref string) string {
	if u, err := url.Parse(ref); err == nil {
		ref = u.Path
	}
	switch strings.ToLower(path.Ext(ref)) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".mp4":
		return "video/mp4"
	case ".mov":
		return "video/mov"
	case ".mpeg", ".mpg":
		return "video/mpeg"
	case ".avi":
		return "video/avi"
	case ".wmv":
		return "video/wmv"
	case ".mpegps":
		return "video/mpegps"
	case ".flv":
		return "video/flv"
	case ".mp3":
		return "audio/mp3"
	case ".wav":
		return "audio/wav"
	case ".pdf":
		return "application/pdf"
	case ".txt":
		return "text/plain"
	}
	return ""
}

// geminiModelParts converts an assistant message: its text, then its tool
// calls as functionCall parts (the legacy function_call too).
func geminiModelParts(m openAIChatMessage, i int) ([]gmPart, error) {
	at := fmt.Sprintf("messages[%d]", i)
	var out []gmPart
	parts, err := geminiContentParts(m.Content, at+".content")
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		// Like LiteLLM, only text goes back to the model; a refusal or
		// audio part has no Gemini counterpart.
		if p.Type == "text" && p.Text != nil && *p.Text != "" {
			out = append(out, gmPart{Text: *p.Text})
		}
	}
	for j, tc := range m.ToolCalls {
		tat := fmt.Sprintf("%s.tool_calls[%d]", at, j)
		args, err := geminiString(tc.Function.Arguments, tat+".function.arguments")
		if err != nil {
			return nil, err
		}
		part, err := geminiFunctionCallPart(tc.ID, gemOAFunctionCall{Name: tc.Function.Name, Arguments: args}, tat)
		if err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	if !jsonscan.IsNull(m.FunctionCall) && len(m.ToolCalls) == 0 {
		var fc gemOAFunctionCall
		if err := json.Unmarshal(m.FunctionCall, &fc); err != nil {
			return nil, geminiBadRequest("%s.function_call: %v", at, jsonscan.DecodeError(err))
		}
		part, err := geminiFunctionCallPart("", fc, at+".function_call")
		if err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	return out, nil
}

func geminiFunctionCallPart(id string, fc gemOAFunctionCall, at string) (gmPart, error) {
	if fc.Name == "" {
		return gmPart{}, geminiBadRequest("%s.function.name: missing", at)
	}
	args := json.RawMessage("{}")
	if strings.TrimSpace(fc.Arguments) != "" {
		raw := []byte(fc.Arguments)
		if !json.Valid(raw) || bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
			return gmPart{}, geminiBadRequest("%s.function.arguments: want a JSON object", at)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw)
		args = buf.Bytes()
	}
	part := gmPart{FunctionCall: &gmFunctionCall{Name: fc.Name, Args: args}}
	if _, sig, ok := strings.Cut(id, geminiThoughtSeparator); ok {
		part.ThoughtSignature = sig
	}
	return part, nil
}

// geminiToolResult converts a tool (or legacy function) message to a
// functionResponse part. A result that is a JSON object is the response
// itself; anything else is wrapped as {"content": text} (LiteLLM's
// convert_to_gemini_tool_call_result).
func geminiToolResult(m openAIChatMessage, i int, callNames map[string]string) (gmPart, error) {
	at := fmt.Sprintf("messages[%d]", i)
	text, err := geminiTextOf(m.Content, at+".content")
	if err != nil {
		return gmPart{}, err
	}
	name := callNames[m.ToolCallID]
	if name == "" {
		if name, err = geminiString(m.Name, at+".name"); err != nil {
			return gmPart{}, err
		}
	}
	if name == "" {
		return gmPart{}, geminiBadRequest("%s: no assistant tool call has id %q; Gemini needs the function name of every tool result", at, m.ToolCallID)
	}
	var response json.RawMessage
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(t))
		response = buf.Bytes()
	} else {
		response, _ = jsonscan.Marshal(map[string]string{"content": text})
	}
	return gmPart{FunctionResponse: &gmFunctionResponse{Name: name, Response: response}}, nil
}

// geminiString reads a message member Gemini takes as a string (a tool
// call's arguments, a function message's name); null is "".
func geminiString(raw json.RawMessage, at string) (string, error) {
	var s string
	if !jsonscan.IsNull(raw) && json.Unmarshal(raw, &s) != nil {
		return "", geminiBadRequest("%s: want a string, got %s", at, jsonscan.Kind(raw))
	}
	return s, nil
}
