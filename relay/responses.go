package relay

import (
	"encoding/json"
	"strconv"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// responsesAnswer follows an OpenAI Responses stream (Codex's, the Agents
// SDK's). It is not continued yet: a cut one ends with the Responses API's
// error event, numbered on from the stream's events, and a clean end, where
// Envoy alone would cut the connection.
type responsesAnswer struct {
	seq int64
}

func (a *responsesAnswer) event(data []byte) ([]byte, verdict) {
	var e struct {
		Type string `json:"type"`
		Seq  *int64 `json:"sequence_number"`
	}
	if json.Unmarshal(data, &e) == nil && e.Seq != nil {
		a.seq = *e.Seq
	}
	switch e.Type {
	case "response.completed", "response.incomplete", "response.failed", "error":
		// The stream's own end, a failure included.
		return data, done
	}
	return data, forward
}

func (a *responsesAnswer) continuable() bool { return false }
func (a *responsesAnswer) finished() bool    { return false }
func (a *responsesAnswer) prefill() string   { return "" }
func (a *responsesAnswer) sent() int         { return 0 }
func (a *responsesAnswer) end() []byte       { return nil }

func (a *responsesAnswer) frame(data []byte) []byte { return namedFrame(data) }

func (a *responsesAnswer) errorBody(message string) []byte { return errorJSON("bad_gateway", message) }

// errorEvent is the Responses API's error event.
func (a *responsesAnswer) errorEvent(message string) []byte {
	b := []byte(`{"type":"error","code":"stream_cut","message":`)
	b = jsonscan.AppendString(b, message)
	b = append(b, `,"param":null,"sequence_number":`...)
	b = strconv.AppendInt(b, a.seq+1, 10)
	return a.frame(append(b, '}'))
}
