package xds

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

// Placeholder addresses keep what decides Envoy's resources: which
// deployments share an address (and so need an egress).
func TestPlaceholders(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`model_list:
  - model_name: g
    litellm_params: {model: openai/a, api_base: "https://one.example/v1", api_key: k1}
    model_info: {id: a}
  - model_name: g
    litellm_params: {model: openai/b, api_base: "https://one.example/v1", api_key: k2}
    model_info: {id: b}
  - model_name: g
    litellm_params: {model: openai/c, api_base: "https://two.example/v1", api_key: k3}
    model_info: {id: c}
  - model_name: g
    litellm_params: {model: openai/d, api_base: "http://10.1.2.3:8080/v1", api_key: k4}
    model_info: {id: d}
`), "config.yaml", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	got := Placeholders(cfg)
	require.Len(t, got, 4)
	require.Equal(t, got["a"], got["b"], "one host and port: one address")
	require.NotEqual(t, got["a"].Addr(), got["c"].Addr(), "another host: another address")
	require.Equal(t, uint16(443), got["c"].Port())
	require.Equal(t, netip.MustParseAddrPort("10.1.2.3:8080"), got["d"], "an IP address is kept")
	require.True(t, netip.MustParsePrefix("100.64.0.0/10").Contains(got["a"].Addr()))
}
