package extproc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/keys"
)

// A relayed answer's attempts are one spend record, written when the relay
// is done; after that, a late attempt's record is the caller's to write.
func TestRelayStateHoldsOneSpendRecord(t *testing.T) {
	rs := &relayState{}
	start := time.Unix(100, 0)
	require.True(t, rs.hold(keys.SpendLog{RequestID: "r", PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13, Spend: 0.5,
		Model: "a-model", ModelID: "a", StartTime: start, EndTime: start.Add(time.Second)}))
	require.True(t, rs.hold(keys.SpendLog{RequestID: "r", PromptTokens: 14, CompletionTokens: 7, TotalTokens: 21, Spend: 0.25,
		Model: "b-model", ModelID: "b", StartTime: start.Add(2 * time.Second), EndTime: start.Add(3 * time.Second), Response: "whole"}))
	p := rs.pending
	require.Equal(t, int64(24), p.PromptTokens)
	require.Equal(t, int64(10), p.CompletionTokens)
	require.Equal(t, int64(34), p.TotalTokens)
	require.InDelta(t, 0.75, p.Spend, 1e-12)
	require.Equal(t, "b", p.ModelID, "named after the deployment that finished the answer")
	require.Equal(t, start, p.StartTime)
	require.Equal(t, start.Add(3*time.Second), p.EndTime)

	rs.server = &Server{} // no key store: Done records nothing, but is done
	rs.Done()
	require.Nil(t, rs.pending)
	require.False(t, rs.hold(keys.SpendLog{RequestID: "r"}), "after Done the attempt writes its own")
}
