package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/admin"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/keys"
)

const masterKey = "sk-master-admin-7c1d"

// adminConfig has two model groups, an alias and a hidden alias, and a
// master key.
const adminConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://h:1/v1
    model_info: {id: dep-a}
  - model_name: claude
    litellm_params:
      model: openai/claude-compatible
      api_base: http://h:2/v1
    model_info: {id: dep-b}
router_settings:
  model_group_alias: {"alias-4o": "gpt-4o", "hidden-4o": {"model": "gpt-4o", "hidden": true}}
general_settings:
  master_key: ` + masterKey + `
`

func parseConfig(t testing.TB, yaml string, env map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse([]byte(yaml), "test.yaml", func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

// env is a handler on a fresh SQLite store, and its log.
type env struct {
	h    *admin.Handler
	keys *keys.Keys
	logs *bytes.Buffer
}

func newEnv(t *testing.T, yaml string) *env {
	t.Helper()
	ctx := context.Background()
	store, err := keys.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	k := keys.New(store, keys.Options{KeepLogs: true, Log: log})
	return &env{h: &admin.Handler{Config: parseConfig(t, yaml, nil), Keys: k, Log: log}, keys: k, logs: logs}
}

var (
	master = admin.Caller{Master: true}
	nobody = admin.Caller{}
)

// answer is a decoded response.
type answer struct {
	status int
	body   []byte
}

// call plays one request the way the gateway does: the endpoint found by
// its path, Admit at the headers, Serve with the body. target may carry a
// query.
func call(t *testing.T, h *admin.Handler, c admin.Caller, method, target, body string) answer {
	t.Helper()
	path, rawQuery, _ := strings.Cut(target, "?")
	q, err := url.ParseQuery(rawQuery)
	require.NoError(t, err)
	e := admin.Find(path)
	require.NotNil(t, e, "%s is an admin endpoint", path)
	r := admin.Request{Caller: c, Method: method, Path: path, Query: q}
	if body != "" {
		r.Body = []byte(body)
	}
	resp := h.Admit(e, r)
	if resp == nil {
		served := h.Serve(context.Background(), e, r)
		resp = &served
	}
	require.Equal(t, http.Header{"Content-Type": {"application/json"}}, resp.Header)
	require.True(t, json.Valid(resp.Body), "body: %s", resp.Body)
	return answer{resp.Status, resp.Body}
}

// apiError is OpenAI's error object; Param and Code are null when unset.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// requireError checks an answer is an OpenAI-shaped error with exactly the
// four fields, the status as its code, and returns it.
func requireError(t *testing.T, a answer, status int, typ string) apiError {
	t.Helper()
	require.Equal(t, status, a.status, "body: %s", a.body)
	var shape map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(a.body, &shape), "body: %s", a.body)
	require.Len(t, shape, 1, "body: %s", a.body)
	require.Len(t, shape["error"], 4, "body: %s", a.body)
	var e struct {
		Error apiError `json:"error"`
	}
	require.NoError(t, json.Unmarshal(a.body, &e))
	require.Equal(t, typ, e.Error.Type, "body: %s", a.body)
	require.NotNil(t, e.Error.Code)
	require.Equal(t, strconv.Itoa(status), *e.Error.Code)
	return e.Error
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	require.Equal(t, 200, a.status, "body: %s", a.body)
	var v T
	require.NoError(t, json.Unmarshal(a.body, &v), "body: %s", a.body)
	return v
}

// The table: every path LiteLLM answers finds its endpoint, and nothing
// else is one.
func TestFind(t *testing.T) {
	want := map[string]string{
		"/key/generate": "POST", "/key/update": "POST", "/key/delete": "POST", "/key/block": "POST", "/key/unblock": "POST",
		"/key/info": "GET", "/v1/key/info": "GET", "/key/list": "GET", "/spend/logs": "GET", "/v1/spend/logs": "GET",
		"/global/spend": "GET", "/model/info": "GET", "/v1/model/info": "GET", "/model_group/info": "GET", "/health": "",
		"/cache/ping": "GET", "/cache/delete": "POST",
	}
	for path, method := range want {
		e := admin.Find(path)
		require.NotNil(t, e, path)
		require.Equal(t, method, e.Method, path)
		require.Equal(t, method == "POST", e.TakesBody(), path)
	}
	n := 0
	for _, e := range admin.Endpoints() {
		n += 1 + len(e.Aliases)
	}
	require.Equal(t, len(want), n, "every path of the table is tested")
	for _, path := range []string{"/", "/key", "/key/generate/", "/KEY/GENERATE", "/v1/key/generate", "/v1/models",
		"/health/liveliness", "/health/readiness", "/metrics", "/v1/chat/completions", "/model/info?x=1"} {
		require.Nil(t, admin.Find(path), path)
	}
}

// Each endpoint answers only its method, naming the path as called.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, adminConfig)
	for _, ep := range admin.Endpoints() {
		if ep.Method == "" {
			continue
		}
		wrong := map[string]string{"GET": "POST", "POST": "GET"}[ep.Method]
		for _, path := range append([]string{ep.Path}, ep.Aliases...) {
			for _, method := range []string{wrong, "PUT", "DELETE"} {
				err := requireError(t, call(t, e.h, master, method, path, ""), 405, "invalid_request_error")
				require.Equal(t, "method "+method+" not allowed on "+path+"; use "+ep.Method, err.Message)
				require.Nil(t, err.Param)
			}
		}
	}
}

// Who may call what: the master key everything; a virtual key its own
// /key/info, the info endpoints, nothing else; with no master key, nobody
// the key store but anyone /health and the info endpoints.
func TestAccess(t *testing.T) {
	e := newEnv(t, adminConfig)
	ctx := context.Background()
	generated := decode[map[string]any](t, call(t, e.h, master, "POST", "/key/generate", `{"key_alias":"app"}`))
	k, err := e.keys.Lookup(ctx, generated["token"].(string))
	require.NoError(t, err)
	virtual := admin.Caller{Key: k}

	type who struct {
		name   string
		caller admin.Caller
	}
	callers := []who{{"master", master}, {"virtual key", virtual}, {"nobody", nobody}}
	// allowed: which callers an endpoint lets through, by the path and
	// query called.
	tests := []struct {
		method, target string
		body           string
		allowed        []string
	}{
		{"POST", "/key/generate", `{}`, []string{"master"}},
		{"POST", "/key/update", `{"key":"` + generated["key"].(string) + `"}`, []string{"master"}},
		{"POST", "/key/block", `{"key":"sk-nope-nope"}`, []string{"master"}},
		{"POST", "/key/unblock", `{"key":"sk-nope-nope"}`, []string{"master"}},
		{"POST", "/key/delete", `{"keys":["sk-nope-nope"]}`, []string{"master"}},
		{"GET", "/key/info", "", []string{"master", "virtual key"}},
		{"GET", "/v1/key/info", "", []string{"master", "virtual key"}},
		{"GET", "/key/info?key=" + generated["key"].(string), "", []string{"master"}},
		{"GET", "/key/info?key=" + generated["token"].(string), "", []string{"master"}},
		{"GET", "/key/list", "", []string{"master"}},
		{"GET", "/spend/logs", "", []string{"master"}},
		{"GET", "/v1/spend/logs", "", []string{"master"}},
		{"GET", "/global/spend", "", []string{"master"}},
		{"GET", "/model/info", "", []string{"master", "virtual key", "nobody"}},
		{"GET", "/model_group/info", "", []string{"master", "virtual key", "nobody"}},
	}
	for _, tt := range tests {
		for _, c := range callers {
			t.Run(tt.target+" by "+c.name, func(t *testing.T) {
				a := call(t, e.h, c.caller, tt.method, tt.target, tt.body)
				if !slices.Contains(tt.allowed, c.name) {
					err := requireError(t, a, 401, "auth_error")
					path, _, _ := strings.Cut(tt.target, "?")
					require.Equal(t, "Authentication Error, only the master key may call "+path, err.Message)
					return
				}
				require.NotEqual(t, 401, a.status, "body: %s", a.body)
				require.NotEqual(t, 405, a.status, "body: %s", a.body)
			})
		}
	}

	// /health calls every deployment with its credentials: the master
	// key's, or anyone's when the gateway has none. (The deployments are
	// on a closed loopback port: the probes fail at once.)
	local := strings.NewReplacer("http://h:1", "http://127.0.0.1:1", "http://h:2", "http://127.0.0.1:1").Replace(adminConfig)
	guarded := newEnv(t, local)
	require.Equal(t, 200, call(t, guarded.h, master, "GET", "/health", "").status)
	for _, c := range []admin.Caller{virtual, nobody} {
		err := requireError(t, call(t, guarded.h, c, "GET", "/health", ""), 401, "auth_error")
		require.Equal(t, "Authentication Error, only the master key may call /health", err.Message)
	}
	open := newEnv(t, strings.Split(local, "general_settings:")[0])
	require.Equal(t, 200, call(t, open.h, nobody, "GET", "/health", "").status)
	require.Equal(t, 200, call(t, open.h, nobody, "POST", "/health", "").status, "/health has always answered any method")
	// Without a master key the key store stays shut to everyone (a store
	// opened for database_url alone): nobody is the master key.
	requireError(t, call(t, open.h, nobody, "GET", "/key/list", ""), 401, "auth_error")
	requireError(t, call(t, open.h, nobody, "GET", "/key/info", ""), 401, "auth_error")
}

// Without a key store, its endpoints say what they need, before asking
// who calls; the others still answer.
func TestWithoutStore(t *testing.T) {
	h := &admin.Handler{Config: parseConfig(t, adminConfig, nil), Log: slog.New(slog.DiscardHandler)}
	for _, ep := range admin.Endpoints() {
		if !ep.Store {
			continue
		}
		for _, c := range []admin.Caller{master, nobody} {
			err := requireError(t, call(t, h, c, ep.Method, ep.Path, "{}"), 400, "invalid_request_error")
			require.Equal(t, ep.Path+": virtual keys and spend need general_settings.master_key (and a store: the SQLite file under --data-dir, or general_settings.database_url)", err.Message)
		}
		// The method is checked first.
		requireError(t, call(t, h, master, "PATCH", ep.Path, ""), 405, "invalid_request_error")
	}
	require.Equal(t, 200, call(t, h, master, "GET", "/model/info", "").status)
}

// A store that fails is a 500 naming the endpoint, logged with the store's
// error, which the caller does not get (a driver's names the database's
// user, host and name); never a crash.
func TestStoreFailure(t *testing.T) {
	ctx := context.Background()
	store, err := keys.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	h := &admin.Handler{Config: parseConfig(t, adminConfig, nil), Keys: keys.New(store, keys.Options{Log: log}), Log: log}
	require.NoError(t, store.Close())
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/key/list", ""}, {"POST", "/key/generate", "{}"}, {"GET", "/global/spend", ""},
		{"GET", "/v1/spend/logs", ""}, {"POST", "/key/delete", `{"keys":["sk-some-key"]}`},
	} {
		canonical := strings.TrimPrefix(tt.path, "/v1")
		e := requireError(t, call(t, h, master, tt.method, tt.path, tt.body), 500, "internal_error")
		require.Equal(t, "llmvoy: "+canonical+" failed: the key store did not answer (see llmvoy's log)", e.Message)
		require.Contains(t, logs.String(), "admin endpoint failed")
		require.Contains(t, logs.String(), "database is closed", "the store's error is logged")
		require.Contains(t, logs.String(), "path="+canonical)
	}
}

// Every error is OpenAI's shape: the four fields, the status's type, the
// status as the code, param null unless one is at fault.
func TestErrorShape(t *testing.T) {
	e := newEnv(t, adminConfig)
	require.JSONEq(t, `{"error":{"message":"key not found","type":"not_found_error","param":null,"code":"404"}}`,
		string(call(t, e.h, master, "POST", "/key/update", `{"key":"sk-not-a-key"}`).body))
	require.JSONEq(t, `{"error":{"message":"Model id = nope not found on llmvoy","type":"not_found_error","param":"litellm_model_id","code":"404"}}`,
		string(call(t, e.h, master, "GET", "/model/info?litellm_model_id=nope", "").body))
	require.JSONEq(t, `{"error":{"message":"keys or key_aliases is required","type":"invalid_request_error","param":null,"code":"400"}}`,
		string(call(t, e.h, master, "POST", "/key/delete", `{}`).body))
	// Field order is OpenAI's: clients that compare text see no change.
	require.Equal(t, `{"error":{"message":"Authentication Error, only the master key may call /key/list","type":"auth_error","param":null,"code":"401"}}`,
		string(call(t, e.h, nobody, "GET", "/key/list", "").body))
}

// Admit answers a refused call without its body: what the gateway relies on
// to refuse an upload before it arrives.
func TestAdmitNeedsNoBody(t *testing.T) {
	e := newEnv(t, adminConfig)
	ep := admin.Find("/key/generate")
	require.Nil(t, e.h.Admit(ep, admin.Request{Caller: master, Method: "POST", Path: "/key/generate"}))
	refused := e.h.Admit(ep, admin.Request{Caller: nobody, Method: "POST", Path: "/key/generate"})
	require.NotNil(t, refused)
	require.Equal(t, 401, refused.Status)
	// Nothing was generated.
	list := decode[map[string]any](t, call(t, e.h, master, "GET", "/key/list", ""))
	require.Equal(t, 0.0, list["total_count"])
}
