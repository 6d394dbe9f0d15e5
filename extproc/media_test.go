package extproc_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"

	llmkeys "github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
)

const mediaConfig = `
model_list:
  - {model_name: img, litellm_params: {model: openai/dall-e-3, api_base: "http://h:1/v1", api_key: sk-i}, model_info: {id: dep-img, output_cost_per_image: 0.04}}
  - {model_name: tts, litellm_params: {model: openai/tts-1, api_base: "http://h:1/v1", api_key: sk-i}, model_info: {id: dep-tts, input_cost_per_character: 0.00001}}
  - {model_name: stt, litellm_params: {model: openai/whisper-1, api_base: "http://h:1/v1", api_key: sk-i}, model_info: {id: dep-stt, input_cost_per_second: 0.0001}}
  - {model_name: az-stt, litellm_params: {model: azure/whisper-dep, api_base: "https://res.openai.azure.com", api_key: az, api_version: "2024-10-21"}, model_info: {id: dep-az}}
  - {model_name: claude, litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: sk-a}, model_info: {id: dep-claude}}
general_settings:
  master_key: os.environ/MASTER_KEY
`

// transcriptionForm is a transcription request naming model, and its
// content type.
func transcriptionForm(t *testing.T, model string) ([]byte, string) {
	return multipartForm(t, []string{"file"}, []byte("RIFF\x00\xff{\"model\":\"img\"}"), nil, model)
}

// multipartForm is a form with a file of content under each of files'
// names, then fields, then model unless it is "", and its content type.
func multipartForm(t *testing.T, files []string, content []byte, fields [][2]string, model string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, name := range files {
		fw, err := w.CreateFormFile(name, "f.bin")
		require.NoError(t, err)
		fw.Write(content)
	}
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	if model != "" {
		require.NoError(t, w.WriteField("model", model))
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), w.FormDataContentType()
}

func TestGatewayRoutesMediaEndpointsByModel(t *testing.T) {
	h := startServer(t, parseConfig(t, mediaConfig, testEnv))
	for _, tt := range []struct{ path, body, group string }{
		{"/v1/images/generations", `{"model":"img","prompt":"a cat"}`, "img"},
		{"/images/generations", `{"model":"img","prompt":"a cat"}`, "img"},
		{"/v1/audio/speech", `{"model":"tts","input":"hi","voice":"alloy"}`, "tts"},
		{"/openai/deployments/tts/audio/speech", `{"input":"hi","voice":"alloy"}`, "tts"},
	} {
		resp := postThroughGateway(t, h, tt.path, []byte(tt.body), bearer)
		cluster, _ := routedTo(t, resp)
		require.Contains(t, []string{plan.ClusterName(tt.group), plan.DirectRouteName(tt.group)}, cluster, tt.path)
	}
	// A moderation is routed like the others; the group is OpenAI's, so the
	// model is written once, by the gateway.
	resp := postThroughGateway(t, h, "/v1/moderations", []byte(`{"model":"img","input":"x"}`), bearer)
	require.JSONEq(t, `{"model":"dall-e-3","input":"x"}`, string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
}

func TestGatewayRoutesAFormByItsModelField(t *testing.T) {
	h := startServer(t, parseConfig(t, mediaConfig, testEnv))
	body, ct := transcriptionForm(t, "stt")
	resp := postThroughGateway(t, h, "/v1/audio/transcriptions", body, bearer, header{"content-type", ct})
	cluster, _ := routedTo(t, resp)
	require.Equal(t, plan.ClusterName("stt"), cluster, "each attempt writes the form's model: never the direct route")
	require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation(), "a form is never rewritten as JSON")

	// The Azure SDK's path names the group; the form's own model is not read.
	body, ct = transcriptionForm(t, "")
	resp = postThroughGateway(t, h, "/openai/deployments/az-stt/audio/transcriptions?api-version=2024-10-21", body, bearer, header{"content-type", ct})
	cluster, _ = routedTo(t, resp)
	require.Equal(t, plan.ClusterName("az-stt"), cluster)
}

func TestGatewayRefusesHostileForms(t *testing.T) {
	h := startServer(t, parseConfig(t, mediaConfig, testEnv))
	noModel, ct := transcriptionForm(t, "")
	huge := bytes.Replace(noModel, []byte("RIFF"), bytes.Repeat([]byte("R"), 8<<20), 1)
	for name, tt := range map[string]struct {
		body        []byte
		contentType string
		want        string
	}{
		"no model":     {noModel, ct, "you must provide a model parameter"},
		"huge file":    {huge, ct, "you must provide a model parameter"},
		"bad boundary": {noModel, "multipart/form-data; boundary=nope", "malformed multipart"},
		"no boundary":  {noModel, "multipart/form-data", "without a boundary"},
		"JSON":         {[]byte(`{"model":"stt"}`), "application/json", "multipart/form-data"},
	} {
		resp := postThroughGateway(t, h, "/v1/audio/transcriptions", tt.body, bearer, header{"content-type", tt.contentType})
		e := requireAPIError(t, resp, 400, "invalid_request_error")
		require.Contains(t, e.Message, tt.want, name)
	}
}

func TestGatewayRefusesAnEndpointTheGroupCannotServe(t *testing.T) {
	h := startServer(t, parseConfig(t, mediaConfig, testEnv))
	resp := postThroughGateway(t, h, "/v1/images/generations", []byte(`{"model":"claude","prompt":"x"}`), bearer)
	e := requireAPIError(t, resp, 501, "not_implemented")
	require.Contains(t, e.Message, "/v1/images/generations")
	require.Contains(t, e.Message, `"anthropic"`)
	body, ct := transcriptionForm(t, "claude")
	resp = postThroughGateway(t, h, "/v1/audio/transcriptions", body, bearer, header{"content-type", ct})
	requireAPIError(t, resp, 501, "not_implemented")
	// The chat endpoints of the same group are served.
	cluster, _ := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("claude"), bearer))
	require.Equal(t, plan.ClusterName("claude"), cluster)
}

// An attempt on an OpenAI deployment writes its model into the form; the
// answer's seconds are charged at input_cost_per_second, as LiteLLM's
// atranscription.
func TestUpstreamRewritesTheFormAndPricesSeconds(t *testing.T) {
	h, k, token := withKey(t, mediaConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body, ct := transcriptionForm(t, "stt")
	h.server.Routed("req-stt", "/v1/audio/transcriptions", token, "")
	resp := exchange(t, stream, attempt(t, "dep-stt", "/v1/audio/transcriptions", body, header{"x-request-id", "req-stt"}, header{"content-type", ct}))
	require.Equal(t, "/v1/audio/transcriptions", flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set[":path"])
	resp = exchange(t, stream, requestBody(body))
	sent := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()
	require.NotNil(t, sent)
	form, err := multipart.NewReader(bytes.NewReader(sent), strings.TrimPrefix(ct, "multipart/form-data; boundary=")).ReadForm(1 << 20)
	require.NoError(t, err)
	require.Equal(t, []string{"whisper-1"}, form.Value["model"])
	exchange(t, stream, streamHeaders(200, "application/json"))
	exchange(t, stream, responseChunk(`{"text":"hello","usage":{"type":"duration","seconds":12}}`, true))
	finish(t, stream)
	require.InDelta(t, 12*0.0001, spendOf(t, k, token), 1e-12)
	require.NoError(t, k.Flush(context.Background()))
	logs, err := k.Store().SpendLogs(context.Background(), llmkeys.SpendFilter{APIKey: token})
	require.NoError(t, err)
	require.Len(t, logs, 1)
	require.Equal(t, "atranscription", logs[0].CallType)
}

// Speech is charged by its input's characters when its answer's headers
// arrive; the audio itself is never asked for.
func TestUpstreamChargesSpeechWithoutReadingTheAudio(t *testing.T) {
	h, k, token := withKey(t, mediaConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body := []byte(`{"model":"tts","input":"héllo wörld","voice":"alloy"}`)
	h.server.Routed("req-tts", "/v1/audio/speech", token, "")
	exchange(t, stream, attempt(t, "dep-tts", "/v1/audio/speech", body, header{"x-request-id", "req-tts"}))
	exchange(t, stream, requestBody(body))
	resp := exchange(t, stream, streamHeaders(200, "audio/mpeg"))
	require.Equal(t, filterv3.ProcessingMode_NONE, resp.GetModeOverride().GetResponseBodyMode())
	set := flattenMutation(t, resp.GetResponseHeaders().GetResponse().GetHeaderMutation()).set
	require.Equal(t, "0.00011", set["x-litellm-response-cost"])
	finish(t, stream)
	require.InDelta(t, 11*0.00001, spendOf(t, k, token), 1e-12)
	require.NoError(t, k.Flush(context.Background()))
	logs, err := k.Store().SpendLogs(context.Background(), llmkeys.SpendFilter{APIKey: token})
	require.NoError(t, err)
	require.Equal(t, "aspeech", logs[0].CallType)
}

// Images are priced per image of the answer.
func TestUpstreamPricesImages(t *testing.T) {
	h, k, token := withKey(t, mediaConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body := []byte(`{"model":"img","prompt":"p","n":2}`)
	h.server.Routed("req-img", "/v1/images/generations", token, "")
	exchange(t, stream, attempt(t, "dep-img", "/v1/images/generations", body, header{"x-request-id", "req-img"}))
	exchange(t, stream, requestBody(body))
	exchange(t, stream, streamHeaders(200, "application/json"))
	exchange(t, stream, responseChunk(`{"created":1,"data":[{"url":"https://x/1.png"},{"url":"https://x/2.png"}]}`, true))
	finish(t, stream)
	require.InDelta(t, 2*0.04, spendOf(t, k, token), 1e-12)
}

// An attempt on a deployment whose provider has no such endpoint (a group
// that mixes providers) is a 400: nothing is wrong with the deployment.
func TestUpstreamRefusesAnEndpointTheDeploymentCannotServe(t *testing.T) {
	h := startServer(t, parseConfig(t, mediaConfig, testEnv))
	stream := h.open(t, plan.ProcessorUpstream)
	body := []byte(`{"model":"claude","input":"x"}`)
	resp := exchange(t, stream, attempt(t, "dep-claude", "/v1/moderations", body))
	e := requireAPIError(t, resp, 400, "invalid_request_error")
	require.Contains(t, e.Message, "/v1/moderations")
}
