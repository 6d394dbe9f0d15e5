package relay

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResponsesCutEndsWithANumberedErrorEvent(t *testing.T) {
	a := followerFor("/v1/responses")
	for _, ev := range []string{
		`{"type":"response.created","sequence_number":0,"response":{}}`,
		`{"type":"response.output_text.delta","sequence_number":4,"delta":"Hi"}`,
	} {
		_, v := a.event([]byte(ev))
		require.Equal(t, forward, v)
	}
	require.False(t, a.continuable())
	require.Equal(t, "event: error\ndata: {\"type\":\"error\",\"code\":\"stream_cut\",\"message\":\"cut\",\"param\":null,\"sequence_number\":5}\n\n",
		string(a.errorEvent("cut")))
	_, v := a.event([]byte(`{"type":"response.completed","sequence_number":9,"response":{}}`))
	require.Equal(t, done, v)
}
