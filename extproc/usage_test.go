package extproc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsageCounterReadsCompletionUsage(t *testing.T) {
	c := &usageCounter{}
	c.write([]byte(`{"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}`))
	require.Equal(t, 12, c.tokens())
	c = &usageCounter{}
	c.write([]byte(`{"error":{"message":"no"}}`))
	require.Equal(t, 0, c.tokens())
}

func TestUsageCounterReadsTheUsageChunkAcrossPieces(t *testing.T) {
	stream := "data: {\"choices\":[{\"delta\":{\"content\":\"Hello there\"}}]}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n" +
		"data: [DONE]\n\n"
	for split := range len(stream) {
		c := &usageCounter{stream: true, promptEstimate: 100}
		c.write([]byte(stream[:split]))
		c.write([]byte(stream[split:]))
		require.Equal(t, 5, c.tokens(), "split at %d", split)
	}
}

func TestUsageCounterEstimatesAStreamWithoutUsage(t *testing.T) {
	c := &usageCounter{stream: true, promptEstimate: 10}
	c.write([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ijkl\"}}]}\n\ndata: [DONE]\n\n"))
	require.Equal(t, 10+3, c.tokens())
}
