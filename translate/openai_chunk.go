package translate

import (
	"strconv"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// chunkWriter writes a stream as OpenAI's chat.completion.chunk SSE events,
// for every provider whose stream llmvoy translates. Chunks are written by
// hand rather than marshalled: a stream sends hundreds of them, and every
// one shares the same opening (id, object, created, model), built once.
type chunkWriter struct {
	// id, model and created open every chunk; a translator sets them
	// before the first chunk (the provider's stream may name them first).
	id      string
	model   string
	created int64

	prefix []byte // `data: {"id":...,"choices":`, once the role chunk went out
}

// chunkRoleDelta opens a choice, as OpenAI's first chunk does.
var chunkRoleDelta = []byte(`{"role":"assistant","content":""}`)

// chunkDone ends a stream.
const chunkDone = "data: [DONE]\n\n"

// started reports whether the role chunk went out.
func (w *chunkWriter) started() bool { return w.prefix != nil }

// start sends the role chunk of choice 0 once, before anything else.
func (w *chunkWriter) start(out []byte) []byte {
	if w.started() {
		return out
	}
	w.open()
	return w.choice(out, 0, chunkRoleDelta, "")
}

// open builds the opening every chunk shares, without sending anything:
// for a stream whose choices each send their own role chunk.
func (w *chunkWriter) open() {
	if w.started() {
		return
	}
	p := append([]byte(`data: {"id":`), jsonscan.QuoteString(w.id)...)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, w.created, 10)
	p = append(p, `,"model":`...)
	p = append(p, jsonscan.QuoteString(w.model)...)
	w.prefix = append(p, `,"choices":`...)
}

// delta appends a chunk with choice 0 carrying delta (raw JSON) and
// finish_reason ("" for null), after the role chunk.
func (w *chunkWriter) delta(out, delta []byte, finish string) []byte {
	return w.choice(w.start(out), 0, delta, finish)
}

// choice appends a chunk with one choice, index, carrying delta (raw JSON)
// and finish_reason ("" for null).
func (w *chunkWriter) choice(out []byte, index int, delta []byte, finish string) []byte {
	out = append(out, w.prefix...)
	out = append(out, `[{"index":`...)
	out = strconv.AppendInt(out, int64(index), 10)
	out = append(out, `,"delta":`...)
	out = append(out, delta...)
	out = append(out, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		out = append(out, "null"...)
	} else {
		out = append(out, jsonscan.QuoteString(finish)...)
	}
	return append(out, "}]}\n\n"...)
}

// usage appends the chunk stream_options.include_usage asks for: no
// choices, the usage (raw JSON).
func (w *chunkWriter) usage(out, usage []byte) []byte {
	w.open()
	out = append(out, w.prefix...)
	out = append(out, `[],"usage":`...)
	out = append(out, usage...)
	return append(out, "}\n\n"...)
}

// appendEvent appends one SSE event carrying data: an error once the
// client has its 200, which the OpenAI SDKs raise as an APIError.
func appendEvent(out, data []byte) []byte {
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// chunkDeltaJSON is {"key":"value"}.
func chunkDeltaJSON(key, value string) []byte {
	b := append([]byte(`{"`), key...)
	b = append(b, `":`...)
	b = append(b, jsonscan.QuoteString(value)...)
	return append(b, '}')
}

// chunkArgsDelta is a delta carrying a piece of tool call tool's arguments.
func chunkArgsDelta(tool int, args string) []byte {
	d := append([]byte(`{"tool_calls":[{"index":`), strconv.Itoa(tool)...)
	d = append(d, `,"function":{"arguments":`...)
	d = append(d, jsonscan.QuoteString(args)...)
	return append(d, `}}]}`...)
}

// chunkToolCall is a delta opening tool call tool: its id and function
// name, with empty arguments that chunkArgsDelta then streams.
func chunkToolCall(tool int, id, name string) []byte {
	d := append([]byte(`{"tool_calls":[{"index":`), strconv.Itoa(tool)...)
	d = append(d, `,"id":`...)
	d = append(d, jsonscan.QuoteString(id)...)
	d = append(d, `,"type":"function","function":{"name":`...)
	d = append(d, jsonscan.QuoteString(name)...)
	return append(d, `,"arguments":""}}]}`...)
}

// chunkSignatureDelta is a delta carrying a thinking block's signature,
// which the client must send back with the block, in LiteLLM's
// thinking_blocks.
func chunkSignatureDelta(signature string) []byte {
	d := append([]byte(`{"thinking_blocks":[{"type":"thinking","thinking":"","signature":`), jsonscan.QuoteString(signature)...)
	return append(d, `}]}`...)
}
