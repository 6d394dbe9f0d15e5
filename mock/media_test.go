package mock

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestImages(t *testing.T) {
	s := New(Options{Name: "m"})
	rec := serve(s, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-3","prompt":"a cat","n":2}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var img struct {
		Created int64 `json:"created"`
		Data    []struct {
			URL           string `json:"url"`
			B64JSON       string `json:"b64_json"`
			RevisedPrompt string `json:"revised_prompt"`
		} `json:"data"`
		Usage map[string]int `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &img))
	require.NotZero(t, img.Created)
	require.Len(t, img.Data, 2)
	require.NotEmpty(t, img.Data[0].URL)
	require.Equal(t, "a cat", img.Data[0].RevisedPrompt)

	rec = serve(s, http.MethodPost, "/v1/images/generations", `{"model":"gpt-image-1","prompt":"a cat"}`)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &img))
	require.NotEmpty(t, img.Data[0].B64JSON)
	require.Positive(t, img.Usage["total_tokens"])

	for body, param := range map[string]string{
		`{"model":"dall-e-3"}`:                    "prompt",
		`{"prompt":"x","n":11}`:                   "n",
		`{"prompt":"x","response_format":"jpeg"}`: "response_format",
		`{"prompt":7}`:                            "prompt",
	} {
		rec := serve(s, http.MethodPost, "/v1/images/generations", body)
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		require.Equal(t, param, deref(decodeError(t, rec.Body.Bytes()).Error.Param), body)
	}
}

func TestModerations(t *testing.T) {
	s := New(Options{Name: "m"})
	rec := serve(s, http.MethodPost, "/v1/moderations", `{"input":["hello","kill it"]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var mod struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Results []struct {
			Flagged    bool            `json:"flagged"`
			Categories map[string]bool `json:"categories"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &mod))
	require.Equal(t, "omni-moderation-latest", mod.Model)
	require.Len(t, mod.Results, 2)
	require.False(t, mod.Results[0].Flagged)
	require.True(t, mod.Results[1].Flagged && mod.Results[1].Categories["violence"])

	rec = serve(s, http.MethodPost, "/v1/moderations", `{"model":"omni-moderation-latest"}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "input", deref(decodeError(t, rec.Body.Bytes()).Error.Param))
}

func TestSpeech(t *testing.T) {
	s := New(Options{Name: "m"})
	rec := serve(s, http.MethodPost, "/v1/audio/speech", `{"model":"tts-1","input":"hello","voice":"alloy"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "audio/mpeg", rec.Header().Get("content-type"))
	require.True(t, bytes.HasPrefix(rec.Body.Bytes(), []byte("ID3")))
	require.False(t, utf8.Valid(rec.Body.Bytes()), "audio, not text")
	again := serve(s, http.MethodPost, "/v1/audio/speech", `{"model":"tts-1","input":"hello","voice":"alloy"}`)
	require.Equal(t, rec.Body.Bytes(), again.Body.Bytes(), "deterministic")

	rec = serve(s, http.MethodPost, "/v1/audio/speech", `{"model":"tts-1","input":"x","voice":"alloy","response_format":"wav"}`)
	require.Equal(t, "audio/wav", rec.Header().Get("content-type"))

	for body, param := range map[string]string{
		`{"input":"x","voice":"alloy"}`:                                         "model",
		`{"model":"tts-1","voice":"alloy"}`:                                     "input",
		`{"model":"tts-1","input":"x"}`:                                         "voice",
		`{"model":"tts-1","input":"x","voice":"alloy","response_format":"mp4"}`: "response_format",
	} {
		rec := serve(s, http.MethodPost, "/v1/audio/speech", body)
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		require.Equal(t, param, deref(decodeError(t, rec.Body.Bytes()).Error.Param), body)
	}
	rec = serve(s, http.MethodPost, "/v1/audio/speech", `{"model":"tts-1","input":"x","voice":"alloy"}`, "x-mock-status", "503")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

func transcription(t *testing.T, fields map[string]string, file []byte) (string, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, w.WriteField(k, v))
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "a.wav")
		require.NoError(t, err)
		fw.Write(file)
	}
	require.NoError(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

func TestTranscriptions(t *testing.T) {
	s := New(Options{Name: "m"})
	body, ct := transcription(t, map[string]string{"model": "whisper-1"}, make([]byte, 3500))
	rec := serve(s, http.MethodPost, "/v1/audio/transcriptions", body, "content-type", ct)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `{"text":"mock transcription of a.wav (3500 bytes) by whisper-1","usage":{"type":"duration","seconds":3}}`, rec.Body.String())

	body, ct = transcription(t, map[string]string{"model": "whisper-1", "response_format": "verbose_json"}, make([]byte, 10))
	rec = serve(s, http.MethodPost, "/v1/audio/transcriptions", body, "content-type", ct)
	var v struct{ Duration float64 }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	require.Equal(t, 1.0, v.Duration)

	body, ct = transcription(t, map[string]string{"model": "whisper-1", "response_format": "text"}, []byte("x"))
	rec = serve(s, http.MethodPost, "/v1/audio/transcriptions", body, "content-type", ct)
	require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("content-type"))

	body, ct = transcription(t, map[string]string{"model": "whisper-1"}, nil)
	rec = serve(s, http.MethodPost, "/v1/audio/transcriptions", body, "content-type", ct)
	require.Equal(t, "file", deref(decodeError(t, rec.Body.Bytes()).Error.Param))
	body, ct = transcription(t, nil, []byte("x"))
	rec = serve(s, http.MethodPost, "/v1/audio/transcriptions", body, "content-type", ct)
	require.Equal(t, "model", deref(decodeError(t, rec.Body.Bytes()).Error.Param))
	rec = serve(s, http.MethodPost, "/v1/audio/transcriptions", `{"model":"whisper-1"}`, "content-type", "application/json")
	require.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestAzureMediaRoutes(t *testing.T) {
	s := New(Options{Name: "m"})
	rec := serve(s, http.MethodPost, "/openai/deployments/dalle/images/generations?api-version=2024-10-21", `{"prompt":"x"}`, "api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = serve(s, http.MethodPost, "/openai/deployments/tts/audio/speech?api-version=2024-10-21", `{"model":"tts","input":"x","voice":"alloy"}`, "api-key", "k")
	require.Equal(t, "audio/mpeg", rec.Header().Get("content-type"))
	rec = serve(s, http.MethodPost, "/openai/deployments/m/moderations?api-version=2024-10-21", `{"input":"x"}`, "api-key", "k")
	require.Equal(t, http.StatusNotFound, rec.Code, "Azure OpenAI has no moderations")
}
