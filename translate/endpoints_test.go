package translate

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestMediaRequestHeads(t *testing.T) {
	oa := &config.Deployment{ID: "dep-oa", Provider: "openai", API: config.APIOpenAI, UpstreamModel: "dall-e-3",
		APIBase: mustURL(t, "http://vllm:8000/v1"), APIKey: "sk-x"}
	az := newAzureDeployment(t, "https://res.openai.azure.com", "az-key", "whisper-dep", "2024-10-21")
	azV1 := newAzureDeployment(t, "https://res.openai.azure.com", "az-key", "tts-dep", "v1")
	for _, tt := range []struct {
		d    *config.Deployment
		ep   Endpoint
		path string
	}{
		{oa, ImageGenerations, "/v1/images/generations"},
		{oa, Moderations, "/v1/moderations"},
		{oa, AudioSpeech, "/v1/audio/speech"},
		{oa, AudioTranscriptions, "/v1/audio/transcriptions"},
		{oa, ImageEdits, "/v1/images/edits"},
		{oa, Rerank, "/v1/rerank"},
		{az, ImageEdits, "/openai/deployments/whisper-dep/images/edits?api-version=2024-10-21"},
		{az, ImageGenerations, "/openai/deployments/whisper-dep/images/generations?api-version=2024-10-21"},
		{az, AudioSpeech, "/openai/deployments/whisper-dep/audio/speech?api-version=2024-10-21"},
		{az, AudioTranscriptions, "/openai/deployments/whisper-dep/audio/transcriptions?api-version=2024-10-21"},
		{azV1, AudioSpeech, "/openai/v1/audio/speech"},
	} {
		require.NoError(t, Serves(tt.d, tt.ep), tt.path)
		tr, err := For(tt.d)
		require.NoError(t, err)
		head, err := tr.RequestHead(tt.d, tt.ep, "")
		require.NoError(t, err)
		require.Equal(t, tt.path, head.Path)
	}
}

func TestMediaEndpointsRefuseOtherProviders(t *testing.T) {
	for _, api := range []string{config.APIAnthropic, config.APIGemini, config.APIBedrock, config.APIVertex, config.APIVertexAnthropic, config.APIAzureAI} {
		d := &config.Deployment{ID: "d", Provider: api + "-provider", API: api}
		for _, ep := range MediaEndpoints {
			err := Serves(d, ep)
			require.ErrorIs(t, err, ErrUnsupported, "%s %s", api, ep)
			require.Contains(t, err.Error(), "/v1"+string(ep))
			require.Contains(t, err.Error(), `"`+api+`-provider"`)
		}
		for _, ep := range []Endpoint{ChatCompletions, Completions, Embeddings} {
			require.NoError(t, Serves(d, ep))
		}
	}
	az := &config.Deployment{ID: "d", Provider: "azure", API: config.APIAzure}
	require.ErrorIs(t, Serves(az, Moderations), ErrUnsupported, "Azure OpenAI has no moderations endpoint")
	err := Serves(az, Rerank)
	require.ErrorIs(t, err, ErrUnsupported, "Azure OpenAI has no rerank endpoint")
	require.Contains(t, err.Error(), "Cohere-style rerank")
}

func TestIsForm(t *testing.T) {
	for _, ep := range append([]Endpoint{ChatCompletions, Embeddings}, MediaEndpoints...) {
		require.Equal(t, ep == AudioTranscriptions || ep == ImageEdits, IsForm(ep), ep)
	}
}

// LiteLLM's rerank URLs: Cohere's /v2/rerank at the resource's root, the
// others' base + /rerank.
func TestRerankPaths(t *testing.T) {
	for _, tt := range []struct{ provider, base, path string }{
		{"cohere", "https://api.cohere.ai/compatibility/v1", "/v2/rerank"},
		{"cohere", "https://api.cohere.com", "/v2/rerank"},
		{"cohere", "https://api.cohere.com/v1", "/v2/rerank"},
		{"cohere", "https://proxy.example/cohere/v2", "/cohere/v2/rerank"},
		{"cohere", "https://api.cohere.com/v1/rerank", "/v1/rerank"},
		{"cohere_chat", "https://api.cohere.ai/compatibility/v1", "/v2/rerank"},
		{"jina_ai", "https://api.jina.ai/v1", "/v1/rerank"},
		{"together_ai", "https://api.together.xyz/v1", "/v1/rerank"},
		{"hosted_vllm", "http://vllm:8000", "/rerank"},
		{"hosted_vllm", "http://vllm:8000/v1", "/v1/rerank"},
		{"infinity", "http://inf:7997/", "/rerank"},
	} {
		d := &config.Deployment{ID: "d", Provider: tt.provider, API: config.APIOpenAI, UpstreamModel: "rerank-v3.5",
			APIBase: mustURL(t, tt.base), APIKey: "k"}
		require.NoError(t, Serves(d, Rerank))
		head, err := openAI{}.RequestHead(d, Rerank, "")
		require.NoError(t, err)
		require.Equal(t, tt.path, head.Path, "%s %s", tt.provider, tt.base)
		require.Equal(t, []Header{{Key: "authorization", Value: "Bearer k"}}, head.Set)
		// Its other endpoints keep the base.
		head, _ = openAI{}.RequestHead(d, Embeddings, "")
		require.Equal(t, strings.TrimSuffix(mustURL(t, tt.base).Path, "/")+"/embeddings", head.Path)
	}
}

func TestAzureSpeechAnswerIsNotTranslated(t *testing.T) {
	d := newAzureDeployment(t, "https://res.openai.azure.com", "k", "tts-dep", "2024-10-21")
	body, resp, err := azure{}.RequestBody(d, AudioSpeech, []byte(`{"model":"tts","input":"hi","voice":"alloy"}`))
	require.NoError(t, err)
	require.Nil(t, resp, "audio must pass through unread")
	require.JSONEq(t, `{"model":"tts-dep","input":"hi","voice":"alloy"}`, string(body))
	_, resp, err = azure{}.RequestBody(d, ImageGenerations, []byte(`{"model":"x","prompt":"p"}`))
	require.NoError(t, err)
	require.NotNil(t, resp, "an image prompt is content-filtered: the error is rewritten")
}

// form builds a multipart/form-data body of fields (name, value) and a
// file, returning it and its content type.
func form(t testing.TB, fields [][2]string, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "clip.wav")
		require.NoError(t, err)
		fw.Write(file)
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), w.FormDataContentType()
}

func TestFormModel(t *testing.T) {
	body, ct := form(t, [][2]string{{"language", "en"}, {"model", "whisper"}}, []byte("RIFF\x00\xff audio"))
	model, err := FormModel(ct, body)
	require.NoError(t, err)
	require.Equal(t, "whisper", model)

	// The file comes before the model: it is skipped, not kept.
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("file", "big.wav")
	fw.Write(bytes.Repeat([]byte{0xfe}, 5<<20))
	w.WriteField("model", "whisper")
	w.Close()
	model, err = FormModel(w.FormDataContentType(), buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, "whisper", model)

	for name, tt := range map[string]struct {
		ct   string
		body []byte
		want string
	}{
		"no model":          {testCT, mustForm(t, [][2]string{{"language", "en"}}), `no "model" field`},
		"two models":        {testCT, mustForm(t, [][2]string{{"model", "a"}, {"model", "b"}}), `two "model" fields`},
		"huge model":        {testCT, mustForm(t, [][2]string{{"model", strings.Repeat("m", 5000)}}), "longer than"},
		"JSON content type": {"application/json", []byte(`{"model":"whisper"}`), "multipart/form-data"},
		"no boundary":       {"multipart/form-data", body, "without a boundary"},
		"bad content type":  {"multipart/form-data; boundary=", body, "content-type"},
		"wrong boundary":    {"multipart/form-data; boundary=other", body, "malformed multipart"},
		"truncated":         {ct, body[:len(body)/2], "malformed multipart"},
		"empty":             {ct, nil, "malformed multipart"},
		"too many parts":    {testCT, mustForm(t, manyFields(maxFormParts+1)), "more than"},
	} {
		_, err := FormModel(tt.ct, tt.body)
		require.ErrorContains(t, err, tt.want, name)
	}
	_, err = FormModel(testCT, mustForm(t, [][2]string{{"language", "en"}}))
	require.True(t, errors.Is(err, ErrNoFormModel))
}

func mustForm(t testing.TB, fields [][2]string) []byte {
	// The same boundary as form's content type for these tests.
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.SetBoundary(testBoundary))
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

const testBoundary = "llmvoy-test-boundary"

const testCT = "multipart/form-data; boundary=" + testBoundary

func manyFields(n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{"f", "v"}
	}
	return out
}

func TestSetFormModel(t *testing.T) {
	audio := []byte("RIFF\x00\xff\r\n--not-a-boundary\r\n audio")
	body, ct := form(t, [][2]string{{"model", "whisper"}, {"response_format", "json"}}, audio)
	out, err := SetFormModel(ct, body, "whisper-1")
	require.NoError(t, err)
	got, err := multipart.NewReader(bytes.NewReader(out), boundaryOf(ct)).ReadForm(1 << 20)
	require.NoError(t, err)
	require.Equal(t, []string{"whisper-1"}, got.Value["model"])
	require.Equal(t, []string{"json"}, got.Value["response_format"])
	f, err := got.File["file"][0].Open()
	require.NoError(t, err)
	var file bytes.Buffer
	file.ReadFrom(f)
	require.Equal(t, audio, file.Bytes())
	require.Equal(t, "clip.wav", got.File["file"][0].Filename)

	same, err := SetFormModel(ct, out, "whisper-1")
	require.NoError(t, err)
	require.Nil(t, same, "already right: unchanged")

	_, err = SetFormModel(ct, mustFormWith(t, ct), "x")
	require.ErrorIs(t, err, ErrNoFormModel)
}

func mustFormWith(t testing.TB, ct string) []byte {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.SetBoundary(boundaryOf(ct)))
	w.WriteField("language", "en")
	w.Close()
	return buf.Bytes()
}

func boundaryOf(ct string) string {
	_, b, _ := strings.Cut(ct, "boundary=")
	return b
}

func TestFormBody(t *testing.T) {
	body, ct := form(t, [][2]string{{"model", "stt"}}, []byte("audio"))
	oa := &config.Deployment{ID: "d", Provider: "hosted_vllm", API: config.APIOpenAI, UpstreamModel: "openai/whisper-large-v3"}
	out, err := FormBody(oa, AudioTranscriptions, ct, body)
	require.NoError(t, err)
	model, err := FormModel(ct, out)
	require.NoError(t, err)
	require.Equal(t, "openai/whisper-large-v3", model)

	az := &config.Deployment{ID: "d", Provider: "azure", API: config.APIAzure, UpstreamModel: "whisper-dep"}
	out, err = FormBody(az, AudioTranscriptions, ct, body)
	require.NoError(t, err)
	require.Nil(t, out, "Azure reads the deployment from the path")

	_, err = FormBody(&config.Deployment{ID: "d", Provider: "gemini", API: config.APIGemini}, AudioTranscriptions, ct, body)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = FormBody(oa, AudioTranscriptions, "application/json", []byte(`{"model":"stt"}`))
	require.ErrorIs(t, err, ErrBadRequest)
	_, err = FormBody(&config.Deployment{ID: "d", Provider: "anthropic", API: config.APIAnthropic}, ImageEdits, ct, body)
	require.ErrorIs(t, err, ErrUnsupported)
	require.Contains(t, err.Error(), "/v1/images/edits")
}

// An image edit's form has several files (OpenAI's image[] for more than
// one image, a mask): each reaches the deployment byte for byte, its model
// rewritten.
func TestFormBodyImageEdit(t *testing.T) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	images := [][]byte{[]byte("\x89PNG\r\n\x1a\n first"), []byte("\x89PNG\r\n\x1a\n second\r\n--")}
	for i, img := range images {
		fw, err := w.CreateFormFile("image[]", "img"+string(rune('a'+i))+".png")
		require.NoError(t, err)
		fw.Write(img)
	}
	fw, _ := w.CreateFormFile("mask", "mask.png")
	fw.Write([]byte("\x89PNG mask"))
	w.WriteField("prompt", "add a hat")
	w.WriteField("model", "edit-group")
	w.WriteField("n", "2")
	w.Close()
	ct := w.FormDataContentType()
	d := &config.Deployment{ID: "d", Provider: "openai", API: config.APIOpenAI, UpstreamModel: "gpt-image-1"}
	out, err := FormBody(d, ImageEdits, ct, buf.Bytes())
	require.NoError(t, err)
	r := multipart.NewReader(bytes.NewReader(out), boundaryOf(ct))
	got := map[string][]string{}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		v, _ := io.ReadAll(p)
		got[p.FormName()] = append(got[p.FormName()], string(v))
	}
	require.Equal(t, map[string][]string{"image[]": {string(images[0]), string(images[1])}, "mask": {"\x89PNG mask"},
		"prompt": {"add a hat"}, "model": {"gpt-image-1"}, "n": {"2"}}, got)
}

// BenchmarkForm is the gateway's read of a form's model and an attempt's
// rewrite of it, on a form with OpenAI's largest file (25 MB).
func BenchmarkForm(b *testing.B) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("file", "long.wav")
	fw.Write(bytes.Repeat([]byte("RIFF\x00\xff audio "), 25<<20/16))
	w.WriteField("model", "whisper")
	w.Close()
	body, ct := buf.Bytes(), w.FormDataContentType()
	b.Run("FormModel", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := FormModel(ct, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SetFormModel", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := SetFormModel(ct, body, "whisper-1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
