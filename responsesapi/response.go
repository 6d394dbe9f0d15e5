package responsesapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"time"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/translate"
)

// response is the ResponseTranslator of one attempt.
type response struct {
	req       Request
	createdAt int64
	// newID makes the ids of the response and its items; tests make it
	// deterministic.
	newID func(prefix string) string
	s     *stream
}

var _ translate.ResponseTranslator = (*response)(nil)

// NewResponse returns a translate.ResponseTranslator that turns the chat
// response of one attempt (whole JSON, or the SSE stream
// "data: {...}\n\n ... data: [DONE]") into the Responses API response
// object or event stream. Errors (status >= 400) keep OpenAI's
// {"error":{...}} shape, the same for chat completions and Responses, and
// pass through unchanged. Chunk never returns an error: a stream that
// fails ends with response.failed.
func NewResponse(req Request) translate.ResponseTranslator {
	return &response{req: req, createdAt: time.Now().Unix(), newID: randomIDs}
}

// Headers reports a stream only for a 2xx text/event-stream answer.
func (r *response) Headers(status int, contentType string) (bool, []translate.Header) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if status >= 200 && status < 300 {
		if mt == "text/event-stream" {
			return true, []translate.Header{{Key: "content-type", Value: "text/event-stream"}}
		}
		return false, []translate.Header{{Key: "content-type", Value: "application/json"}}
	}
	if contentType == "" {
		contentType = "application/json"
	}
	return false, []translate.Header{{Key: "content-type", Value: contentType}}
}

// chatCompletion is a whole chat completion answer.
type chatCompletion struct {
	Choices []struct {
		Message struct {
			Content          *string         `json:"content"`
			Refusal          *string         `json:"refusal"`
			ReasoningContent json.RawMessage `json:"reasoning_content"`
			Reasoning        json.RawMessage `json:"reasoning"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// errMalformed marks a provider answer that is no chat completion.
var errMalformed = errors.New("malformed chat completion from the provider")

// Body translates a whole chat completion; an error passes through.
func (r *response) Body(status int, body []byte) ([]byte, error) {
	if status >= 400 || status < 200 {
		return body, nil
	}
	var cc chatCompletion
	if err := json.Unmarshal(body, &cc); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(cc.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", errMalformed)
	}
	ch := cc.Choices[0]
	obj := newResponseObject(&r.req, r.newID("resp_"), r.createdAt, "completed")
	reasoning := stringOf(ch.Message.ReasoningContent)
	if reasoning == "" {
		reasoning = stringOf(ch.Message.Reasoning)
	}
	if reasoning != "" {
		obj.Output = append(obj.Output, reasoningItem{ID: r.newID("rs_"), Type: "reasoning",
			Summary: []summaryText{{Type: "summary_text", Text: reasoning}}})
	}
	text := ""
	if ch.Message.Content != nil {
		text = *ch.Message.Content
	}
	if ch.Message.Refusal != nil {
		text += *ch.Message.Refusal
	}
	if text != "" {
		obj.Output = append(obj.Output, r.message(r.newID("msg_"), text))
	}
	for _, tc := range ch.Message.ToolCalls {
		obj.Output = append(obj.Output, r.functionCall(r.newID("fc_"), tc.ID, tc.Function.Name, tc.Function.Arguments, "completed"))
	}
	obj.finish(ch.FinishReason)
	obj.Usage = cc.Usage.responses()
	return jsonscan.Marshal(obj)
}

func (r *response) message(id, text string) messageItem {
	return messageItem{ID: id, Type: "message", Status: "completed", Role: "assistant",
		Content: []outputText{{Type: "output_text", Text: text, Annotations: []any{}}}}
}

// functionCall is a function_call item; a flattened namespaced function
// gets its name and namespace back.
func (r *response) functionCall(id, callID, chatName, args, status string) functionCallItem {
	fc := functionCallItem{ID: id, Type: "function_call", Status: status, CallID: callID, Name: chatName, Arguments: args}
	if tn, ok := r.req.namespaced[chatName]; ok {
		fc.Name, fc.Namespace = tn.name, tn.namespace
	}
	return fc
}

// Chunk translates the next piece of the chat stream.
func (r *response) Chunk(data []byte, end bool) ([]byte, error) {
	if r.s == nil {
		r.s = &stream{r: r}
	}
	return r.s.chunk(data, end), nil
}
