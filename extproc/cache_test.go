package extproc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

func TestReadCacheControls(t *testing.T) {
	for body, want := range map[string]cacheControls{
		`{"model":"m"}`: {},
		`{"cache":{"no-cache":true,"no-store":true,"ttl":1.5,"s-maxage":30,"namespace":"ns","use-cache":true}}`: {
			use: true, noCache: true, noStore: true, ttl: 1500 * time.Millisecond, maxAge: 30 * time.Second, namespace: "ns"},
		`{"cache":{"s-max-age":5}}`:                  {maxAge: 5 * time.Second},
		`{"cache":{"no-cache":"yes","ttl":-1}}`:      {},
		`{"cache":"no"}`:                             {},
		`{"caching":false}`:                          {off: true},
		`{"caching":true,"cache":{"no-store":true}}`: {noStore: true},
	} {
		fields, err := jsonscan.Fields([]byte(body))
		require.NoError(t, err)
		require.Equal(t, want, readCacheControls(fields), body)
	}
}

func TestCompleteAnswer(t *testing.T) {
	require.True(t, completeAnswer([]byte(`{"id":"x","choices":[]}`), false))
	require.False(t, completeAnswer([]byte(`{"error":{"message":"no"}}`), false))
	require.False(t, completeAnswer([]byte(`{"id":`), false))
	require.True(t, completeAnswer([]byte("data: {\"id\":\"x\"}\n\ndata: [DONE]\n\n"), true))
	require.False(t, completeAnswer([]byte("data: {\"id\":\"x\"}\n\n"), true), "cut before its end")
	require.False(t, completeAnswer([]byte(`{"id":"x"}`), true), "not a stream")
}
