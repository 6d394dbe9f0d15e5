package mock

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmvoy/llmvoy/internal/eventstream"
)

// Amazon Bedrock's Converse API, next to the others on the same mock:
//
//	POST /model/{modelId}/converse          a Converse response
//	POST /model/{modelId}/converse-stream   ConverseStream: AWS's binary event stream
//	                                        (application/vnd.amazon.eventstream)
//	POST /model/{modelId}/invoke            InvokeModel for Titan Text Embeddings and
//	                                        Cohere Embed (bedrock_embeddings.go)
//
// ({modelId} is path-escaped, ':' and '/' included; a path prefix before
// /model/ is served the same way.) Requests must be signed with AWS SigV4
// for service bedrock, any region, with BedrockAccessKeyID and
// BedrockSecretAccessKey; the mock recomputes the signature over what
// arrived (host, path, signed headers, body), as AWS does, and answers a
// bad one with AWS's 403 (InvalidSignatureException,
// UnrecognizedClientException, ...). The body is checked as Bedrock checks
// it: roles that alternate and start with the user, no blank text, tool
// blocks only with a toolConfig, known keys only. Errors are AWS's: the
// exception in x-amzn-errortype, {"message"} in the body; in a stream, an
// exception message (:message-type exception).
//
// The reply is Reply(name, last user text); with a toolChoice of any or
// tool, a toolUse of that tool (or the first) with the input Anthropic's
// route would make up. Event payloads carry Bedrock's "p" padding. The
// x-mock-* headers of the OpenAI routes apply (status, latency, chunk
// delay, chunks, retry-after, fail-stream-after), with Bedrock's
// exception for each status, plus:
//
//	x-mock-context-window      a prompt of more tokens than this fails with
//	                           Bedrock's "Input is too long for requested model." 400
//	x-mock-stream-error-after  a stream sends a throttlingException after N
//	                           content deltas, then ends
//	x-mock-bedrock-error       fail with this exception, at its status
//	                           (ModelNotReadyException, AccessDeniedException, ...)
func init() {
	providerRoutes = append(providerRoutes, providerRoute{match: matchBedrock, serve: (*Server).serveBedrock})
}

const hdrBedrockError = "X-Mock-Bedrock-Error"

func matchBedrock(method, path string) bool {
	return method == http.MethodPost && strings.Contains(path, "/model/") &&
		(strings.HasSuffix(path, "/converse") || strings.HasSuffix(path, "/converse-stream") || strings.HasSuffix(path, "/invoke"))
}

// bedrockExceptions are Bedrock's exceptions with their HTTP status and a
// message like AWS's.
var bedrockExceptions = map[string]awsError{
	"ValidationException":         {400, "", "Invalid request (injected by llmvoy mock)."},
	"AccessDeniedException":       {403, "", "You don't have access to the model with the specified model ID."},
	"UnrecognizedClientException": {403, "", "The security token included in the request is invalid."},
	"ResourceNotFoundException":   {404, "", "The provided model identifier is invalid."},
	"ModelTimeoutException":       {408, "", "Model has timed out in processing the request. Try your request again."},
	"ModelErrorException":         {424, "", "The model returned an error (injected by llmvoy mock)."},
	"ThrottlingException":         {429, "", "Too many requests, please wait before trying again."},
	"ModelNotReadyException":      {429, "", "Model is not ready for inference. Wait and try your request again. Refer to https://docs.aws.amazon.com/bedrock/latest/userguide/invoke-model.html#invoke-model-retry"},
	"InternalServerException":     {500, "", "The server encountered an internal error while processing the request."},
	"ServiceUnavailableException": {503, "", "Bedrock is unable to process your request."},
}

// bedrockByStatus is the exception the mock sends for an injected status.
var bedrockByStatus = map[int]string{
	400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
	408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
	500: "InternalServerException", 503: "ServiceUnavailableException",
}

func bedrockException(typ string) *awsError {
	e, ok := bedrockExceptions[typ]
	if !ok {
		return nil
	}
	e.typ = typ
	return &e
}

func bedrockInjected(status int) *awsError {
	if e := bedrockException(bedrockByStatus[status]); e != nil {
		return e
	}
	typ := "ValidationException"
	if status >= 500 {
		typ = "InternalServerException"
	}
	msg := http.StatusText(status)
	if msg == "" {
		msg = "Error " + strconv.Itoa(status) + " (injected by llmvoy mock)."
	}
	return &awsError{status, typ, msg}
}

func invalidBedrock(message string) *awsError {
	return &awsError{http.StatusBadRequest, "ValidationException", message}
}

// bedrockCall is a validated Converse request, reduced to what the mock
// uses.
type bedrockCall struct {
	model       string
	stream      bool
	inputTokens int
	lastUser    string
	maxTokens   int
	tool        *anthropicToolSpec // set: answer with a toolUse of it
}

// bedrockKeys are the top-level keys of a Converse request.
var bedrockKeys = map[string]bool{
	"messages": true, "system": true, "inferenceConfig": true, "toolConfig": true, "guardrailConfig": true,
	"additionalModelRequestFields": true, "additionalModelResponseFieldPaths": true, "promptVariables": true,
	"requestMetadata": true, "performanceConfig": true, "serviceTier": true, "outputConfig": true,
}

var (
	bedrockImageFormats    = map[string]bool{"png": true, "jpeg": true, "gif": true, "webp": true}
	bedrockDocumentFormats = map[string]bool{"pdf": true, "csv": true, "doc": true, "docx": true, "xls": true, "xlsx": true, "html": true, "txt": true, "md": true}
)

// parseBedrock validates a Converse request with Bedrock's messages for
// the faults a translating gateway could make.
func parseBedrock(body []byte) (bedrockCall, *awsError) {
	var c bedrockCall
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return c, &awsError{http.StatusBadRequest, "SerializationException", "Unable to parse the request body as JSON."}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !bedrockKeys[k] {
			return c, invalidBedrock("Malformed input request: extraneous key [" + k + "] is not permitted, please reformat your input and try again.")
		}
	}

	runes := 0
	if sys := fields["system"]; !isNull(sys) {
		var blocks []map[string]json.RawMessage
		if err := json.Unmarshal(sys, &blocks); err != nil {
			return c, invalidBedrock("system: expected a list of SystemContentBlock.")
		}
		for i, b := range blocks {
			var text string
			switch {
			case b["text"] != nil:
				if json.Unmarshal(b["text"], &text) != nil || strings.TrimSpace(text) == "" {
					return c, invalidBedrock("The text field in the SystemContentBlock object at system." + strconv.Itoa(i) + " is blank. Add text to the text field, and try again.")
				}
				runes += utf8.RuneCountInString(text)
			case b["cachePoint"] != nil:
			default:
				return c, invalidBedrock("system." + strconv.Itoa(i) + ": unknown SystemContentBlock.")
			}
		}
	}

	var tc struct {
		Tools []struct {
			ToolSpec *struct {
				Name        string `json:"name"`
				InputSchema struct {
					JSON json.RawMessage `json:"json"`
				} `json:"inputSchema"`
			} `json:"toolSpec"`
		} `json:"tools"`
		ToolChoice map[string]struct {
			Name string `json:"name"`
		} `json:"toolChoice"`
	}
	hasTools := !isNull(fields["toolConfig"])
	if hasTools {
		if err := json.Unmarshal(fields["toolConfig"], &tc); err != nil {
			return c, invalidBedrock("toolConfig: " + err.Error())
		}
		if len(tc.Tools) == 0 {
			return c, invalidBedrock("The value at toolConfig.tools failed to satisfy constraint: Member must have length greater than or equal to 1.")
		}
		specs := make([]anthropicToolSpec, len(tc.Tools))
		for i, t := range tc.Tools {
			if t.ToolSpec == nil || t.ToolSpec.Name == "" || isNull(t.ToolSpec.InputSchema.JSON) {
				return c, invalidBedrock("toolConfig.tools." + strconv.Itoa(i) + ": a toolSpec needs a name and inputSchema.json.")
			}
			specs[i] = anthropicToolSpec{Name: t.ToolSpec.Name, InputSchema: t.ToolSpec.InputSchema.JSON}
		}
		if len(tc.ToolChoice) > 1 {
			return c, invalidBedrock("toolConfig.toolChoice: exactly one of auto, any, tool.")
		}
		for kind, v := range tc.ToolChoice {
			switch kind {
			case "auto":
			case "any":
				c.tool = &specs[0]
			case "tool":
				for i := range specs {
					if specs[i].Name == v.Name {
						c.tool = &specs[i]
					}
				}
				if c.tool == nil {
					return c, invalidBedrock("toolConfig.toolChoice.tool: tool " + strconv.Quote(v.Name) + " is not in toolConfig.tools.")
				}
			default:
				return c, invalidBedrock("toolConfig.toolChoice: unknown choice " + strconv.Quote(kind) + ".")
			}
		}
	}

	if ic := fields["inferenceConfig"]; !isNull(ic) {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(ic, &cfg); err != nil {
			return c, invalidBedrock("inferenceConfig: expected an object.")
		}
		for k, v := range cfg {
			switch k {
			case "maxTokens":
				n, err := strconv.Atoi(string(v))
				if err != nil || n < 1 {
					return c, invalidBedrock("The value at inferenceConfig.maxTokens failed to satisfy constraint: Member must have value greater than or equal to 1")
				}
				c.maxTokens = n
			case "temperature", "topP":
				if _, err := strconv.ParseFloat(string(v), 64); err != nil {
					return c, invalidBedrock("inferenceConfig." + k + ": expected a number.")
				}
			case "stopSequences":
				var seqs []string
				if json.Unmarshal(v, &seqs) != nil {
					return c, invalidBedrock("inferenceConfig.stopSequences: expected a list of strings.")
				}
			default:
				return c, invalidBedrock("inferenceConfig: extraneous key [" + k + "] is not permitted.")
			}
		}
	}
	if v := fields["additionalModelRequestFields"]; !isNull(v) && strings.TrimSpace(string(v))[0] != '{' {
		return c, invalidBedrock("additionalModelRequestFields: expected an object.")
	}

	var msgs []struct {
		Role    string                       `json:"role"`
		Content []map[string]json.RawMessage `json:"content"`
	}
	if isNull(fields["messages"]) {
		return c, invalidBedrock("The messages field is required.")
	}
	if err := json.Unmarshal(fields["messages"], &msgs); err != nil {
		return c, invalidBedrock("messages: expected a list of Message.")
	}
	if len(msgs) == 0 {
		return c, invalidBedrock("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	for i, m := range msgs {
		where := "messages." + strconv.Itoa(i)
		switch {
		case m.Role != "user" && m.Role != "assistant":
			return c, invalidBedrock("The value at " + where + ".role failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
		case i == 0 && m.Role != "user":
			return c, invalidBedrock("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		case i > 0 && msgs[i-1].Role == m.Role:
			return c, invalidBedrock("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		case len(m.Content) == 0:
			return c, invalidBedrock("The content field in the Message object at " + where + " is empty. Add a ContentBlock object to the content field and try again.")
		}
		var texts []string
		for j, b := range m.Content {
			bwhere := where + ".content." + strconv.Itoa(j)
			text, e := bedrockBlockText(bwhere, b, hasTools)
			if e != nil {
				return c, e
			}
			if text != "" {
				texts = append(texts, text)
				runes += utf8.RuneCountInString(text)
			}
		}
		if m.Role == "user" && len(texts) > 0 {
			c.lastUser = strings.Join(texts, " ")
		}
	}
	c.inputTokens = tokensForRunes(runes)
	return c, nil
}

// bedrockBlockText checks one content block and returns its text: a text
// block's, or a tool result's.
func bedrockBlockText(where string, b map[string]json.RawMessage, hasTools bool) (string, *awsError) {
	if len(b) != 1 {
		return "", invalidBedrock("The ContentBlock object at " + where + " must set exactly one member.")
	}
	for kind, raw := range b {
		switch kind {
		case "text":
			var s string
			if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
				return "", invalidBedrock("The text field in the ContentBlock object at " + where + " is blank. Add text to the text field, and try again.")
			}
			return s, nil
		case "image", "document":
			var m struct {
				Format string `json:"format"`
				Name   string `json:"name"`
				Source struct {
					Bytes string `json:"bytes"`
				} `json:"source"`
			}
			if json.Unmarshal(raw, &m) != nil {
				return "", invalidBedrock(where + "." + kind + ": expected an object.")
			}
			formats := bedrockImageFormats
			if kind == "document" {
				formats = bedrockDocumentFormats
				if m.Name == "" {
					return "", invalidBedrock(where + ".document.name: the name field is required.")
				}
			}
			if !formats[m.Format] {
				return "", invalidBedrock("The value at " + where + "." + kind + ".format failed to satisfy constraint: unknown format " + strconv.Quote(m.Format) + ".")
			}
			if _, err := base64.StdEncoding.DecodeString(m.Source.Bytes); err != nil || m.Source.Bytes == "" {
				return "", invalidBedrock(where + "." + kind + ".source.bytes: Invalid base64 data.")
			}
		case "toolUse", "toolResult":
			if !hasTools {
				return "", invalidBedrock("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
			}
			var t struct {
				ToolUseID string                       `json:"toolUseId"`
				Name      string                       `json:"name"`
				Input     json.RawMessage              `json:"input"`
				Content   []map[string]json.RawMessage `json:"content"`
			}
			if json.Unmarshal(raw, &t) != nil || t.ToolUseID == "" {
				return "", invalidBedrock(where + "." + kind + ".toolUseId: the field is required.")
			}
			if kind == "toolUse" {
				if t.Name == "" || isNull(t.Input) || strings.TrimSpace(string(t.Input))[0] != '{' {
					return "", invalidBedrock(where + ".toolUse: a name and an input object are required.")
				}
				return "", nil
			}
			if len(t.Content) == 0 {
				return "", invalidBedrock(where + ".toolResult.content: at least one block is required.")
			}
			var texts []string
			for _, rc := range t.Content {
				var s string
				if json.Unmarshal(rc["text"], &s) == nil {
					texts = append(texts, s)
				}
			}
			return strings.Join(texts, " "), nil
		case "cachePoint", "reasoningContent":
		default:
			return "", invalidBedrock("The ContentBlock object at " + where + " has an unknown member " + strconv.Quote(kind) + ".")
		}
	}
	return "", nil
}

// bedrockOperation splits {prefix}/model/{modelId}/{converse|converse-stream|invoke},
// reading the model id from the path as sent (an ARN's escaped '/' is part
// of it).
func bedrockOperation(r *http.Request) (model, op string, ok bool) {
	p := r.URL.EscapedPath()
	i := strings.LastIndex(p, "/model/")
	if i < 0 {
		return "", "", false
	}
	escaped, op, found := strings.Cut(p[i+len("/model/"):], "/")
	if !found || strings.Contains(op, "/") || (op != "converse" && op != "converse-stream" && op != "invoke") {
		return "", "", false
	}
	model, err := url.PathUnescape(escaped)
	if err != nil || model == "" {
		return "", "", false
	}
	return model, op, true
}

func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	w.Header()["X-Amzn-Requestid"] = []string{s.newID("", 36)}
	model, op, ok := bedrockOperation(r)
	if !ok {
		(&awsError{http.StatusNotFound, "UnknownOperationException", "Unknown operation " + r.URL.EscapedPath()}).write(w)
		return
	}
	if e := verifySigV4(r, body, "bedrock", time.Now()); e != nil {
		e.write(w)
		return
	}
	if op == "invoke" {
		s.bedrockInvoke(w, r, model, body, opts)
		return
	}
	call, e := parseBedrock(body)
	if e != nil {
		e.write(w)
		return
	}
	call.model, call.stream = model, op == "converse-stream"
	a, bad := s.resolve(opts, r.Header)
	if bad != nil {
		invalidBedrock(bad.Message).write(w)
		return
	}
	fail := func(e *awsError) { bedrockFail(w, r, a, e) }
	if bedrockInjectedFault(w, r, a) {
		return
	}
	if v, ok := header(r.Header, hdrContextWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalidBedrock("Invalid x-mock-context-window header: expected a positive number of tokens.").write(w)
			return
		}
		if call.inputTokens > n {
			fail(invalidBedrock("Input is too long for requested model."))
			return
		}
	}
	errorAfter := -1
	if v, ok := header(r.Header, hdrStreamErrorAfter); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			invalidBedrock("Invalid x-mock-stream-error-after header: expected a non-negative number of deltas.").write(w)
			return
		}
		errorAfter = n
	}

	reply := anthropicReply{text: Reply(opts.Name, call.lastUser)}
	if call.tool != nil {
		reply = anthropicReply{toolID: s.newID("tooluse_", 22), toolName: call.tool.Name, input: anthropicToolInput(call.tool.InputSchema, call.lastUser)}
	}
	stop := "end_turn"
	if reply.toolID != "" {
		stop = "tool_use"
	}
	usage := map[string]int{"inputTokens": call.inputTokens, "outputTokens": reply.outputTokens(), "totalTokens": call.inputTokens + reply.outputTokens()}
	if call.stream {
		s.streamBedrock(w, r, a, reply, stop, usage, errorAfter)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler) // reset before any response byte
	}
	block := map[string]any{"text": reply.text}
	if reply.toolID != "" {
		block = map[string]any{"toolUse": map[string]any{"toolUseId": reply.toolID, "name": reply.toolName, "input": json.RawMessage(reply.input)}}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{block}}},
		"stopReason": stop,
		"usage":      usage,
		"metrics":    map[string]int{"latencyMs": int(a.latency.Milliseconds())},
	})
}

// bedrockFail answers with e after the attempt's latency, as AWS does.
func bedrockFail(w http.ResponseWriter, r *http.Request, a attempt, e *awsError) {
	if wait(r, a.latency) {
		setRetryAfter(w.Header(), a.retryAfter)
		e.write(w)
	}
}

// bedrockInjectedFault answers with the exception x-mock-bedrock-error
// names, or the one of an injected status, and reports whether it did.
func bedrockInjectedFault(w http.ResponseWriter, r *http.Request, a attempt) bool {
	if v, ok := header(r.Header, hdrBedrockError); ok {
		e := bedrockException(v)
		if e == nil {
			invalidBedrock("Invalid x-mock-bedrock-error header: unknown exception " + strconv.Quote(v) + ".").write(w)
			return true
		}
		bedrockFail(w, r, a, e)
		return true
	}
	if a.failStatus != 0 {
		bedrockFail(w, r, a, bedrockInjected(a.failStatus))
		return true
	}
	return false
}

// bedrockPadding is the "p" member Bedrock adds to event payloads so their
// size does not reveal the tokens; clients ignore it.
const bedrockPadding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// streamBedrock writes the reply as ConverseStream does: messageStart,
// contentBlockStart (for a tool), a.chunks contentBlockDelta events,
// contentBlockStop, messageStop, metadata, each an event stream message
// flushed on its own.
func (s *Server) streamBedrock(w http.ResponseWriter, r *http.Request, a attempt, reply anthropicReply, stop string, usage map[string]int, errorAfter int) {
	if !wait(r, a.latency) {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/vnd.amazon.eventstream"}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	n := 0
	write := func(m eventstream.Message) bool {
		b, err := eventstream.Append(nil, m)
		if err != nil {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return flush(rc)
	}
	send := func(typ string, payload map[string]any) bool {
		n++
		payload["p"] = bedrockPadding[:n%len(bedrockPadding)]
		b, err := json.Marshal(payload)
		if err != nil {
			return false
		}
		return write(eventstream.Message{Headers: []eventstream.Header{
			eventstream.String(":event-type", typ),
			eventstream.String(":content-type", "application/json"),
			eventstream.String(":message-type", "event"),
		}, Payload: b})
	}
	throttle := func() {
		write(eventstream.Message{Headers: []eventstream.Header{
			eventstream.String(":exception-type", "throttlingException"),
			eventstream.String(":content-type", "application/json"),
			eventstream.String(":message-type", "exception"),
		}, Payload: []byte(`{"message":"Too many tokens, please wait before trying again."}`)})
	}

	if !send("messageStart", map[string]any{"role": "assistant"}) {
		return
	}
	parts := splitRunes(reply.text, a.chunks)
	if reply.toolID != "" {
		if !send("contentBlockStart", map[string]any{"contentBlockIndex": 0, "start": map[string]any{"toolUse": map[string]any{"toolUseId": reply.toolID, "name": reply.toolName}}}) {
			return
		}
		parts = splitRunes(string(reply.input), a.chunks)
	}
	for i, part := range parts {
		if i == a.failStreamAfter {
			panic(http.ErrAbortHandler) // the upstream resets mid-stream
		}
		if i == errorAfter {
			throttle()
			return
		}
		if i > 0 && !wait(r, a.chunkDelay) {
			return
		}
		if part == "" {
			continue // fewer runes than chunks
		}
		delta := map[string]any{"text": part}
		if reply.toolID != "" {
			delta = map[string]any{"toolUse": map[string]any{"input": part}}
		}
		if !send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": delta}) {
			return
		}
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	if errorAfter >= len(parts) {
		throttle()
		return
	}
	_ = send("contentBlockStop", map[string]any{"contentBlockIndex": 0}) &&
		send("messageStop", map[string]any{"stopReason": stop}) &&
		send("metadata", map[string]any{"usage": usage, "metrics": map[string]int{"latencyMs": int(a.latency.Milliseconds())}})
}
