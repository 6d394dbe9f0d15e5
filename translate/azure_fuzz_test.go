package translate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/llmvoy/llmvoy/config"
)

// FuzzAzureRequestHead checks that any deployment name, api_version, base
// path and client query give a well-formed :path: the deployment name
// arrives as one path segment, the api-version the deployment decides is
// the only one, and the client's other parameters survive.
func FuzzAzureRequestHead(f *testing.F) {
	for _, s := range []struct{ base, model, version, query string }{
		{"https://r.openai.azure.com", "gpt-4o", "2024-10-21", ""},
		{"https://r.openai.azure.com/openai/", "o_series/o3", "", "api-version=x&a=1"},
		{"https://r.openai.azure.com/openai/v1", "gpt-4.1", "v1", "a=%20"},
		{"http://127.0.0.1:1/p%2Fq/openai/deployments/x", "d", "2024-02-01", ""},
		{"https://r.openai.azure.com?api-version=2024-06-01", "a b/../c?d#e", "2024-10-21", "&&"},
		{"https://r.openai.azure.com", "gpt5_series/", "latest", "api-version"},
		{"https://r.openai.azure.com", "\xff\x00é", "v 1&x=y", "x=%zz"},
	} {
		f.Add(s.base, s.model, s.version, s.query)
	}
	f.Fuzz(func(t *testing.T, base, model, version, query string) {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			t.Skip()
		}
		// Envoy has already refused a client :path with these, and config
		// an api_base (url.Parse) with them in the path.
		if strings.ContainsAny(query+u.RawQuery, " #\x00\r\n") {
			t.Skip()
		}
		d := &config.Deployment{ID: "dep", Provider: "azure", API: config.APIAzure, UpstreamModel: model,
			APIBase: u, APIKey: "k", APIVersion: version}
		h, err := azure{}.RequestHead(d, ChatCompletions, query)
		if err != nil {
			t.Fatalf("error %v", err)
		}
		if !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " #\x00\r\n") {
			t.Fatalf("malformed :path %q", h.Path)
		}
		path, rawQuery, _ := strings.Cut(h.Path, "?")
		if !strings.HasSuffix(path, "/chat/completions") {
			t.Fatalf("path %q does not end with the endpoint", path)
		}
		v1 := azureV1(azureAPIVersion(d))
		basePath := strings.TrimRight(u.EscapedPath(), "/")
		if !v1 && !strings.Contains(basePath, "/openai/deployments/") {
			seg := strings.TrimSuffix(path, "/chat/completions")
			i := strings.LastIndex(seg, "/")
			name, err := url.PathUnescape(seg[i+1:])
			if err != nil || name != azureDeployment(d) {
				t.Fatalf("deployment segment %q of %q, want %q (%v)", seg[i+1:], path, azureDeployment(d), err)
			}
		}
		// The client's query never adds an api-version: there is the
		// deployment's, or those the api_base carries.
		want := countKey(u.RawQuery, "api-version")
		if want == 0 && !v1 {
			want = 1
		}
		if n := countKey(rawQuery, "api-version"); n != want {
			t.Fatalf("%d api-version parameters in %q, want %d", n, rawQuery, want)
		}
		for part := range strings.SplitSeq(query, "&") {
			if k, _, _ := strings.Cut(part, "="); k != "api-version" && part != "" && !strings.Contains("&"+rawQuery+"&", "&"+part+"&") {
				t.Fatalf("client parameter %q lost: %q", part, rawQuery)
			}
		}
	})
}

// FuzzAzureResponseBody checks the error rewrite: it never fails (a
// provider's error must not become a gateway error), leaves anything that is
// not a content-filter error byte for byte, and turns one into a valid
// OpenAI error with code content_policy_violation.
func FuzzAzureResponseBody(f *testing.F) {
	f.Add(400, []byte(azureContentFilterBody))
	f.Add(400, []byte(`{"error":{"message":"x","code":"content_filter","innererror":null,"param":null}}`))
	f.Add(400, []byte(`{"error":{"code":"DeploymentNotFound","message":"nope"}}`))
	f.Add(401, []byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`))
	f.Add(400, []byte(`{"error":{"message":"<b>\u2028 \ud800 your request was rejected as a result of our safety system"}}`))
	f.Add(200, []byte(`{"choices":[{"finish_reason":"content_filter"}]}`))
	f.Add(400, []byte(`{"error":{"message":"m","code":"content_filter","error":{"code":1}},"error":null}`))
	f.Add(500, []byte("\xff"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		orig := bytes.Clone(body)
		out, err := (&azureResponse{}).Body(status, body)
		if err != nil {
			t.Fatalf("error %v", err)
		}
		if !bytes.Equal(orig, body) {
			t.Fatalf("the provider's body was modified in place")
		}
		if bytes.Equal(out, body) {
			return
		}
		if status < 400 || status > 499 {
			t.Fatalf("status %d body rewritten", status)
		}
		var e struct {
			Error map[string]json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(out, &e); err != nil || e.Error == nil {
			t.Fatalf("rewrite %q is not an error object: %v", out, err)
		}
		for _, k := range []string{"message", "type", "param", "code"} {
			if _, ok := e.Error[k]; !ok {
				t.Fatalf("rewrite %q lacks %q", out, k)
			}
		}
		if string(e.Error["code"]) != `"content_policy_violation"` {
			t.Fatalf("code %s", e.Error["code"])
		}
	})
}

func countKey(rawQuery, key string) int {
	n := 0
	for part := range strings.SplitSeq(rawQuery, "&") {
		if k, _, _ := strings.Cut(part, "="); k == key {
			n++
		}
	}
	return n
}
