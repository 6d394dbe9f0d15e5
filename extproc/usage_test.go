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

// The usage chunk llmvoy asked for is taken out wherever the pieces split
// the stream; everything else passes in order.
func TestUsageStripperDropsTheUsageChunk(t *testing.T) {
	content := "data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}]}\n\n"
	usage := "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
	done := "data: [DONE]\n\n"
	stream := content + content + usage + done
	for split := 1; split < len(stream); split++ {
		s := &usageStripper{}
		got := string(s.write([]byte(stream[:split]), false)) + string(s.write([]byte(stream[split:]), true))
		require.Equal(t, content+content+done, got, "split at %d", split)
	}
	// A chunk with choices and usage (some servers put it on the last
	// content chunk) is the client's content: it stays.
	last := "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"total_tokens\":5}}\n\n"
	s := &usageStripper{}
	require.Equal(t, last, string(s.write([]byte(last), true)))
	// A stream cut mid-event keeps what it had.
	s = &usageStripper{}
	require.Equal(t, content+"data: {\"cho", string(s.write([]byte(content+"data: {\"cho"), false))+string(s.write(nil, true)))
}

// An abandoned answer is estimated from its prompt and the text streamed.
func TestUsageCounterEstimatesAnAbortedAnswer(t *testing.T) {
	c := &usageCounter{stream: true, promptEstimate: 50}
	c.write([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"12345678\"}}]}\n\ndata: {\"choi"))
	c.aborted = true
	p, comp := c.split()
	require.Equal(t, [2]int{50, 2}, [2]int{p, comp})
	// Non-streaming, its body never seen: the prompt.
	c = &usageCounter{promptEstimate: 50, aborted: true}
	p, comp = c.split()
	require.Equal(t, [2]int{50, 0}, [2]int{p, comp})
}
