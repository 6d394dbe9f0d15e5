package relay

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResponsesCutEndsWithANumberedErrorEvent(t *testing.T) {
	a := followerFor("/v1/responses")
	for _, ev := range []string{
		`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1"}}`,
		`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"fc_1","type":"function_call"}}`,
		`{"type":"response.function_call_arguments.delta","sequence_number":4,"item_id":"fc_1","output_index":0,"delta":"{"}`,
	} {
		_, v := a.event([]byte(ev))
		require.Equal(t, forward, v)
	}
	require.False(t, a.continuable(), "a function call in flight")
	require.Equal(t, "event: error\ndata: {\"type\":\"error\",\"code\":\"stream_cut\",\"message\":\"cut\",\"param\":null,\"sequence_number\":5}\n\n",
		string(a.errorEvent("cut")))
}

func TestResponsesContinuationJoinsTheClientsMessage(t *testing.T) {
	a := followerFor("/v1/responses")
	for _, ev := range []string{
		`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1"}}`,
		`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message"}}`,
		`{"type":"response.content_part.added","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0}`,
		`{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Once "}`,
	} {
		a.event([]byte(ev))
	}
	require.True(t, a.continuable())
	require.Equal(t, "Once", a.prefill())

	for _, ev := range []string{
		`{"type":"response.created","sequence_number":0,"response":{"id":"resp_2"}}`,
		`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_2","type":"message"}}`,
	} {
		_, v := a.event([]byte(ev))
		require.Equal(t, drop, v)
	}
	get := func(ev string) (map[string]any, verdict) {
		out, v := a.event([]byte(ev))
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m))
		return m, v
	}
	m, _ := get(`{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_2","output_index":0,"content_index":0,"delta":" upon"}`)
	require.Equal(t, "upon", m["delta"], "the whitespace the client has")
	require.Equal(t, "msg_1", m["item_id"])
	require.EqualValues(t, 4, m["sequence_number"])
	m, _ = get(`{"type":"response.output_text.done","sequence_number":4,"item_id":"msg_2","output_index":0,"content_index":0,"text":" upon"}`)
	require.Equal(t, "Once upon", m["text"])
	m, v := get(`{"type":"response.completed","sequence_number":7,"response":{"id":"resp_2","output":[{"id":"msg_2","type":"message","content":[{"type":"output_text","text":" upon"}]}]}}`)
	require.Equal(t, done, v)
	r := m["response"].(map[string]any)
	require.Equal(t, "resp_1", r["id"])
	item := r["output"].([]any)[0].(map[string]any)
	require.Equal(t, "msg_1", item["id"])
	require.Equal(t, "Once upon", item["content"].([]any)[0].(map[string]any)["text"])
	require.EqualValues(t, 6, m["sequence_number"])
}
