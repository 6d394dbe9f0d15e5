package responsesapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/internal/sse"
	"github.com/llmvoy/llmvoy/translate"
)

// What a gateway needs to keep responses (store, the API's default) and
// continue from one (previous_response_id): the response object a client
// got (Tap), the conversation it ends (Conversation), and a request that
// continues it made whole (Continue). Storage is the caller's.

// Tap reads a Responses answer as it goes to the client, an event stream
// or a whole body, from any deployment (passed through or bridged), and
// keeps the response object once the answer completed.
type Tap struct {
	stream bool
	sse    sse.Reader
	body   []byte
	final  []byte
}

// NewTap reads an event stream when stream, else a whole body.
func NewTap(stream bool) *Tap { return &Tap{stream: stream} }

// Write takes the next piece of the answer; end marks the last.
func (t *Tap) Write(p []byte, end bool) {
	if !t.stream {
		t.body = append(t.body, p...)
		if end && finished(t.body) {
			t.final = t.body
		}
		return
	}
	events, _ := t.sse.Feed(p, end)
	for _, ev := range events {
		var e struct {
			Type     string          `json:"type"`
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(ev, &e) == nil && (e.Type == "response.completed" || e.Type == "response.incomplete") && finished(e.Response) {
			t.final = e.Response
		}
	}
}

// Final is the response object of a completed (or incomplete) answer; nil
// for a failed or cut one, which is not kept.
func (t *Tap) Final() []byte { return t.final }

// finished reports whether b is a response object that completed.
func finished(b []byte) bool {
	var r struct {
		Object string `json:"object"`
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	return json.Unmarshal(b, &r) == nil && r.Object == "response" && r.ID != "" &&
		(r.Status == "completed" || r.Status == "incomplete")
}

// Conversation is the input items of request (a Responses request body)
// followed by the output items of response (its answer's response
// object): what a request continuing from the response starts from. Items
// lose their ids, which only the deployment that made them knows, and
// reasoning items are left out (their encrypted content is one
// deployment's); instructions are not carried over, as in OpenAI's API.
func Conversation(request, response []byte) (json.RawMessage, error) {
	var req struct {
		Input json.RawMessage `json:"input"`
	}
	var resp struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(request, &req); err != nil {
		return nil, fmt.Errorf("%w: %s", translate.ErrBadRequest, jsonscan.DecodeError(err))
	}
	if err := json.Unmarshal(response, &resp); err != nil {
		return nil, fmt.Errorf("response object: %s", jsonscan.DecodeError(err))
	}
	items, err := inputItems(req.Input)
	if err != nil {
		return nil, err
	}
	for _, it := range resp.Output {
		var m map[string]json.RawMessage
		if json.Unmarshal(it, &m) != nil || stringOf(m["type"]) == "reasoning" {
			continue
		}
		delete(m, "id")
		items = append(items, m)
	}
	return jsonscan.Marshal(items)
}

// inputItems reads a request's input as items: a string is one user
// message.
func inputItems(input json.RawMessage) ([]map[string]json.RawMessage, error) {
	input = bytes.TrimSpace(input)
	if len(input) > 0 && input[0] == '"' {
		return []map[string]json.RawMessage{{"type": json.RawMessage(`"message"`), "role": json.RawMessage(`"user"`), "content": input}}, nil
	}
	var items []map[string]json.RawMessage
	if jsonscan.IsNull(input) {
		return items, nil
	}
	if err := json.Unmarshal(input, &items); err != nil {
		return nil, fmt.Errorf("%w: input: want a string or a list of items, got %s", translate.ErrBadRequest, jsonscan.Kind(input))
	}
	for _, it := range items {
		delete(it, "id")
	}
	return items, nil
}

// Continue is request (a Responses request body naming a
// previous_response_id) made whole: its input follows conversation (what
// Conversation returned for that response), and previous_response_id is
// gone, so any deployment can take it.
func Continue(request []byte, conversation json.RawMessage) ([]byte, error) {
	fields, err := jsonscan.Fields(request)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", translate.ErrBadRequest, err)
	}
	var history []json.RawMessage
	if err := json.Unmarshal(conversation, &history); err != nil {
		return nil, fmt.Errorf("stored conversation: %s", jsonscan.DecodeError(err))
	}
	var input json.RawMessage
	if f, ok := jsonscan.Get(fields, "input"); ok {
		input = f.Value
	}
	items, err := inputItems(input)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		b, err := jsonscan.Marshal(it)
		if err != nil {
			return nil, err
		}
		history = append(history, b)
	}
	all, err := jsonscan.Marshal(history)
	if err != nil {
		return nil, err
	}
	out := jsonscan.Delete(request, fields, "previous_response_id")
	if fields, err = jsonscan.Fields(out); err != nil {
		return nil, err
	}
	return jsonscan.Set(out, fields, "input", all), nil
}

// PreviousResponseID is the previous_response_id a request body (its
// top-level fields) names, "" for none.
func PreviousResponseID(fields []jsonscan.Field) string {
	f, ok := jsonscan.Get(fields, "previous_response_id")
	if !ok {
		return ""
	}
	id, _ := jsonscan.String(f.Value)
	return id
}

// Stores reports whether a request (its top-level fields) asks for its
// response to be kept: store is true unless the request says false, as in
// OpenAI's API.
func Stores(fields []jsonscan.Field) bool {
	f, ok := jsonscan.Get(fields, "store")
	if !ok || jsonscan.IsNull(f.Value) {
		return true
	}
	b, ok := jsonscan.Bool(f.Value)
	return !ok || b
}
