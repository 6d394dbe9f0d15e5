package relay

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMessagesContinuationJoinsTheOpenBlock(t *testing.T) {
	a := followerFor("/v1/messages")
	first := []string{
		`{"type":"message_start","message":{"id":"msg_1","role":"assistant","content":[]}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Roses are "}}`,
	}
	for _, ev := range first {
		out, v := a.event([]byte(ev))
		require.Equal(t, forward, v)
		require.JSONEq(t, ev, string(out))
	}
	require.True(t, a.continuable())
	require.Equal(t, "Roses are", a.prefill())

	cont := []struct {
		in, out string
		v       verdict
	}{
		{`{"type":"message_start","message":{"id":"msg_2"}}`, "", drop},
		{`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`, "", drop},
		{`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" red"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"red"}}`, forward},
		{`{"type":"content_block_stop","index":0}`, `{"type":"content_block_stop","index":0}`, forward},
		{`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`, forward},
		{`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}`, forward},
		{`{"type":"message_stop"}`, `{"type":"message_stop"}`, done},
	}
	for _, c := range cont {
		out, v := a.event([]byte(c.in))
		require.Equal(t, c.v, v, c.in)
		if c.out != "" {
			require.JSONEq(t, c.out, string(out))
		}
	}
	require.True(t, a.finished())
	require.Equal(t, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", string(a.end()))
}

func TestMessagesContinuationAfterAClosedBlockNumbersOn(t *testing.T) {
	a := followerFor("/v1/messages")
	for _, ev := range []string{
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"One."}}`,
		`{"type":"content_block_stop","index":0}`,
	} {
		a.event([]byte(ev))
	}
	a.prefill()
	out, v := a.event([]byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	require.Equal(t, forward, v)
	var e map[string]any
	require.NoError(t, json.Unmarshal(out, &e))
	require.EqualValues(t, 1, e["index"], "a new block after the client's")
}

func TestMessagesToolUseCannotBeContinued(t *testing.T) {
	a := followerFor("/v1/messages")
	a.event([]byte(`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}`))
	require.False(t, a.continuable())
	require.Contains(t, string(a.frame(a.errorBody("cut"))), "event: error\ndata: {\"type\":\"error\"")
}
