package admin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/admin"
)

// /health probes every deployment by listing its models and reports which
// answered, without showing credentials.
func TestHealth(t *testing.T) {
	var mu sync.Mutex
	var gotAuth []string
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	cfg := parseConfig(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: `+healthy.URL+`/v1
      api_key: os.environ/DEP_OK_KEY
    model_info: {id: dep-ok}
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: `+failing.URL+`/v1
    model_info: {id: dep-down}
  - model_name: claude
    litellm_params:
      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b
      api_base: `+healthy.URL+`
    model_info: {id: dep-sagemaker}
  - model_name: claude
    litellm_params:
      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-13b
    model_info: {id: dep-no-base}
  - model_name: private
    litellm_params:
      model: openai/private
      api_base: http://user:pa55word@`+strings.TrimPrefix(healthy.URL, "http://")+`/v1?token=t0ken
    model_info: {id: dep-userinfo}
general_settings:
  master_key: os.environ/MASTER_KEY
`, map[string]string{"MASTER_KEY": masterKey, "DEP_OK_KEY": deploymentKey}) // no OPENAI_API_KEY: the keyless deployment would take it
	h := &admin.Handler{Config: cfg, Log: slog.New(slog.DiscardHandler)}

	r := call(t, h, master, "GET", "/health", "")
	require.Equal(t, 200, r.status)
	require.NotContains(t, string(r.body), deploymentKey)
	require.NotContains(t, string(r.body), masterKey)
	require.NotContains(t, string(r.body), "pa55word")
	require.NotContains(t, string(r.body), "t0ken")
	// dep-ok sends its key; dep-userinfo has none, and its api_base's user
	// info does not become basic auth.
	mu.Lock()
	require.ElementsMatch(t, []string{"Bearer " + deploymentKey, ""}, gotAuth)
	mu.Unlock()

	type endpoint struct {
		Model     string `json:"model"`
		ModelName string `json:"model_name"`
		ModelID   string `json:"model_id"`
		APIBase   string `json:"api_base"`
		Error     string `json:"error"`
	}
	var report struct {
		Healthy        []endpoint `json:"healthy_endpoints"`
		Unhealthy      []endpoint `json:"unhealthy_endpoints"`
		HealthyCount   int        `json:"healthy_count"`
		UnhealthyCount int        `json:"unhealthy_count"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&report))
	// Config order in both lists.
	require.Equal(t, []endpoint{
		{Model: "openai/gpt-4o", ModelName: "gpt-4o", ModelID: "dep-ok", APIBase: healthy.URL + "/v1"},
		{Model: "openai/private", ModelName: "private", ModelID: "dep-userinfo", APIBase: healthy.URL + "/v1"},
	}, report.Healthy)
	require.Equal(t, 2, report.HealthyCount)
	require.Equal(t, 3, report.UnhealthyCount)
	require.Len(t, report.Unhealthy, 3)
	down, sagemaker, noBase := report.Unhealthy[0], report.Unhealthy[1], report.Unhealthy[2]
	assert.Equal(t, "dep-down", down.ModelID)
	assert.Contains(t, down.Error, "503")
	assert.Equal(t, "dep-sagemaker", sagemaker.ModelID)
	assert.Equal(t, "sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b", sagemaker.Model)
	assert.Contains(t, sagemaker.Error, "not supported")
	// No api_base at all (SageMaker has no default in llmvoy).
	assert.Equal(t, endpoint{Model: "sagemaker/jumpstart-dft-meta-textgeneration-llama-2-13b", ModelName: "claude", ModelID: "dep-no-base", Error: noBase.Error}, noBase)
	assert.Contains(t, noBase.Error, "not supported")
}
