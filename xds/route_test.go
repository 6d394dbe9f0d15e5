package xds

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

// A group that retries nothing still has a retry policy, of no retries: a
// request's own num_retries (x-envoy-max-retries) retries by its
// conditions and host predicates.
func TestRetryPolicyWithoutRetries(t *testing.T) {
	p := makeRetryPolicy(config.RouterSettings{NumRetries: 0}, []uint32{0, 0}, false)
	require.NotNil(t, p)
	require.Equal(t, uint32(0), p.GetNumRetries().GetValue())
	require.Contains(t, p.GetRetryOn(), "5xx")
	require.NotEmpty(t, p.GetRetryHostPredicate())

	// A retry_policy that retries no error class has no conditions: none.
	none := config.RouterSettings{NumRetries: 2, RetryPolicy: map[config.ErrorClass]int{}}
	for _, c := range config.ErrorClasses {
		none.RetryPolicy[c] = 0
	}
	require.Nil(t, makeRetryPolicy(none, nil, false))
}
