package extproc_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	llmkeys "github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
)

// What the admin endpoints answer is package admin's (admin/*_test.go);
// these check the gateway's part: who the caller is, when the body is
// waited for, and the answer carried to Envoy.

// A POST with a body is answered once the body has come; one without is
// answered at its headers.
func TestAdminWaitsForTheBody(t *testing.T) {
	h, _, _ := withKey(t, gatewayConfig)
	body := []byte(`{"key_alias":"app","models":["gpt-4o"]}`)
	r := requireImmediate(t, postThroughGateway(t, h, "/key/generate", body, bearer))
	require.Equal(t, 200, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.headers["content-type"])
	var k struct {
		Key      string   `json:"key"`
		Token    string   `json:"token"`
		KeyAlias string   `json:"key_alias"`
		Models   []string `json:"models"`
	}
	require.NoError(t, json.Unmarshal(r.body, &k))
	require.Equal(t, llmkeys.Hash(k.Key), k.Token)
	require.Equal(t, "app", k.KeyAlias)
	require.Equal(t, []string{"gpt-4o"}, k.Models)

	// The new key works at once: it lists the models it may call.
	models := getThroughGateway(t, h, "GET", "/v1/models", header{"authorization", "Bearer " + k.Key})
	require.Equal(t, 200, models.status)
	require.Contains(t, string(models.body), `"gpt-4o"`)
	require.NotContains(t, string(models.body), `"claude"`)

	// No body at all: answered at the headers.
	stream := h.open(t, plan.ProcessorGateway)
	r = requireImmediate(t, exchange(t, stream, requestHeaders("POST", "/key/generate", true, bearer)))
	require.Equal(t, 200, r.status, "body: %s", r.body)
	finish(t, stream)
}

// A caller the endpoint refuses is answered at the headers: its body is
// never waited for.
func TestAdminRefusesAtTheHeaders(t *testing.T) {
	h, _, _ := withKey(t, gatewayConfig)
	virtual := header{"authorization", "Bearer sk-app-spend"}
	body := []byte(`{"key_alias":"mine"}`)
	for _, path := range []string{"/key/generate", "/key/update", "/key/delete", "/key/block", "/key/unblock"} {
		stream := h.open(t, plan.ProcessorGateway)
		e := requireAPIError(t, exchange(t, stream, postHeaders(path, body, virtual)), 401, "auth_error")
		require.Equal(t, "Authentication Error, only the master key may call "+path, e.Message)
		finish(t, stream)

		stream = h.open(t, plan.ProcessorGateway)
		e = requireAPIError(t, exchange(t, stream, requestHeaders("GET", path, true, bearer)), 405, "invalid_request_error")
		require.Equal(t, "method GET not allowed on "+path+"; use POST", e.Message)
		finish(t, stream)
	}
	for _, path := range []string{"/key/list", "/spend/logs", "/v1/spend/logs", "/global/spend", "/key/info?key=sk-app-spend"} {
		requireAPIErrorReply(t, getThroughGateway(t, h, "GET", path, virtual), 401, "auth_error")
	}
}

// A virtual key reads its own /key/info: the gateway hands on who called.
func TestAdminKeyReadsItself(t *testing.T) {
	h, _, token := withKey(t, gatewayConfig)
	for _, path := range []string{"/key/info", "/v1/key/info"} {
		r := getThroughGateway(t, h, "GET", path, header{"authorization", "Bearer sk-app-spend"})
		require.Equal(t, 200, r.status, "body: %s", r.body)
		var got struct {
			Key  string `json:"key"`
			Info struct {
				Token string `json:"token"`
			} `json:"info"`
		}
		require.NoError(t, json.Unmarshal(r.body, &got))
		require.Equal(t, token, got.Key)
		require.Equal(t, token, got.Info.Token)
	}
	r := getThroughGateway(t, h, "GET", "/key/info?key=sk-app-spend", bearer)
	require.Equal(t, 200, r.status, "body: %s", r.body)
}

// Without a key store the endpoints say what they need.
func TestAdminWithoutStore(t *testing.T) {
	h := startGateway(t)
	e := requireAPIErrorReply(t, getThroughGateway(t, h, "GET", "/key/list", bearer), 400, "invalid_request_error")
	require.Equal(t, "/key/list: virtual keys and spend need general_settings.master_key (and a store: the SQLite file under --data-dir, or general_settings.database_url)", e.Message)
	requireAPIErrorReply(t, getThroughGateway(t, h, "GET", "/key/list"), 401, "auth_error")
}
