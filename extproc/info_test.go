package extproc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// What the info endpoints answer is package admin's (admin/info_test.go);
// these check the gateway's part: the key checked first, the caller's key
// handed on, the answer carried to Envoy.

// Both endpoints need a key, like every endpoint but the probes, and only
// answer GET.
func TestInfoNeedsKeyAndGET(t *testing.T) {
	h := startGateway(t)
	for _, path := range []string{"/model/info", "/v1/model/info", "/model_group/info", "/model/info?litellm_model_id=dep-a"} {
		r := getThroughGateway(t, h, "GET", path)
		requireAPIErrorReply(t, r, 401, "auth_error")
		r = getThroughGateway(t, h, "GET", path, header{"authorization", "Bearer sk-wrong"})
		requireAPIErrorReply(t, r, 401, "auth_error")
		r = getThroughGateway(t, h, "POST", path, bearer)
		e := requireAPIErrorReply(t, r, 405, "invalid_request_error")
		require.True(t, strings.HasSuffix(e.Message, "use GET"), e.Message)
	}
}

// The master key sees every deployment and group; a virtual key only the
// groups it may call.
func TestInfoThroughGateway(t *testing.T) {
	h, k, token := withKey(t, gatewayConfig)
	ctx := context.Background()
	key, err := k.Store().Get(ctx, token)
	require.NoError(t, err)
	key.Models = []string{"claude"}
	require.NoError(t, k.Store().Update(ctx, key))
	k.Invalidate(token)

	names := func(path string, auth header, field string) []string {
		t.Helper()
		r := getThroughGateway(t, h, "GET", path, auth)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.NotContains(t, string(r.body), deploymentKey)
		require.NotContains(t, string(r.body), masterKey)
		var body struct {
			Data []map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		var out []string
		for _, d := range body.Data {
			if field == "id" {
				out = append(out, d["model_info"].(map[string]any)["id"].(string))
			} else {
				out = append(out, d[field].(string))
			}
		}
		return out
	}
	virtual := header{"authorization", "Bearer sk-app-spend"}
	require.Equal(t, []string{"dep-a", "dep-e", "dep-b", "dep-c"}, names("/model/info", bearer, "id"))
	require.Equal(t, gatewayGroups, names("/model_group/info", bearer, "model_group"))
	require.Equal(t, []string{"dep-c"}, names("/v1/model/info", virtual, "id"))
	require.Equal(t, []string{"claude"}, names("/model_group/info", virtual, "model_group"))
	r := getThroughGateway(t, h, "GET", "/model/info?litellm_model_id=dep-a", virtual)
	requireAPIErrorReply(t, r, 404, "not_found_error")
}
