package extproc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// /health is an admin endpoint (its report is tested in package admin):
// through the gateway it needs the master key, not a virtual key, and its
// report comes back as it was made.
func TestGatewayHealth(t *testing.T) {
	deployment := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	defer deployment.Close()
	h, _, _ := withKey(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: `+deployment.URL+`/v1
      api_key: os.environ/OPENAI_API_KEY
    model_info: {id: dep-ok}
general_settings:
  master_key: os.environ/MASTER_KEY
`)
	e := requireAPIErrorReply(t, getThroughGateway(t, h, "GET", "/health"), 401, "auth_error")
	require.Equal(t, "Authentication Error, No api key passed in.", e.Message, "authenticated by the gateway first")
	e = requireAPIErrorReply(t, getThroughGateway(t, h, "GET", "/health", header{"authorization", "Bearer sk-app-spend"}), 401, "auth_error")
	require.Equal(t, "Authentication Error, only the master key may call /health", e.Message)
	r := getThroughGateway(t, h, "GET", "/health", bearer)
	require.Equal(t, 200, r.status)
	require.NotContains(t, string(r.body), deploymentKey)
	var report struct {
		HealthyCount   int `json:"healthy_count"`
		UnhealthyCount int `json:"unhealthy_count"`
	}
	require.NoError(t, json.Unmarshal(r.body, &report))
	require.Equal(t, 1, report.HealthyCount)
	require.Zero(t, report.UnhealthyCount)
}
