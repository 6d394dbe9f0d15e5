package mock

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// editForm is an image edit form with fields and one file per name in
// files.
func editForm(t *testing.T, fields map[string]string, files ...string) (string, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, w.WriteField(k, v))
	}
	for _, name := range files {
		fw, err := w.CreateFormFile(name, "a.png")
		require.NoError(t, err)
		fw.Write([]byte("\x89PNG\r\n\x1a\n"))
	}
	require.NoError(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

func TestImageEdits(t *testing.T) {
	s := New(Options{Name: "m"})
	body, ct := editForm(t, map[string]string{"model": "gpt-image-1", "prompt": "a hat", "n": "2"}, "image[]", "image[]", "mask")
	rec := serve(s, http.MethodPost, "/v1/images/edits", body, "content-type", ct)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var a struct {
		Data []struct {
			B64JSON string `json:"b64_json"`
		}
		Usage map[string]int
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
	require.Len(t, a.Data, 2)
	require.NotEmpty(t, a.Data[0].B64JSON, "gpt-image models answer base64")
	require.Positive(t, a.Usage["input_tokens"])

	body, ct = editForm(t, map[string]string{"prompt": "a hat"}, "image")
	rec = serve(s, http.MethodPost, "/openai/deployments/edit/images/edits?api-version=2024-10-21", body, "content-type", ct, "api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code, "Azure's deployment path: %s", rec.Body.String())
	require.Contains(t, rec.Body.String(), `"url":"https://`)

	for _, tt := range []struct {
		fields map[string]string
		files  []string
		param  string
	}{
		{map[string]string{"prompt": "p"}, nil, "image"},
		{map[string]string{"model": "dall-e-2"}, []string{"image"}, "prompt"},
		{map[string]string{"prompt": "p", "n": "11"}, []string{"image"}, "n"},
		{map[string]string{"prompt": "p", "response_format": "gif"}, []string{"image"}, "response_format"},
	} {
		body, ct = editForm(t, tt.fields, tt.files...)
		rec = serve(s, http.MethodPost, "/v1/images/edits", body, "content-type", ct)
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Equal(t, tt.param, deref(decodeError(t, rec.Body.Bytes()).Error.Param))
	}
	rec = serve(s, http.MethodPost, "/v1/images/edits", `{"prompt":"p"}`, "content-type", "application/json")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	body, ct = editForm(t, map[string]string{"prompt": "p"}, "image")
	rec = serve(s, http.MethodPost, "/v1/images/edits", body, "content-type", ct, "x-mock-status", "429")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
}

func TestRerank(t *testing.T) {
	s := New(Options{Name: "m"})
	rec := serve(s, http.MethodPost, "/v2/rerank", `{"model":"rerank-v3.5","query":"capital of France",
		"documents":["Berlin is in Germany","Paris is the capital of France","The capital of Spain"],"top_n":2,"return_documents":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var a struct {
		ID      string
		Results []struct {
			Index          int
			RelevanceScore float64 `json:"relevance_score"`
			Document       *struct{ Text string }
		}
		Meta struct {
			APIVersion  struct{ Version string } `json:"api_version"`
			BilledUnits struct {
				SearchUnits int `json:"search_units"`
			} `json:"billed_units"`
		}
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
	require.NotEmpty(t, a.ID)
	require.Len(t, a.Results, 2)
	require.Equal(t, 1, a.Results[0].Index)
	require.Equal(t, 2, a.Results[1].Index)
	require.Greater(t, a.Results[0].RelevanceScore, a.Results[1].RelevanceScore)
	require.Equal(t, "Paris is the capital of France", a.Results[0].Document.Text)
	require.Equal(t, "2", a.Meta.APIVersion.Version)
	require.Equal(t, 1, a.Meta.BilledUnits.SearchUnits)

	// Objects ranked by their rank_fields, no documents back, a search
	// unit per 100 documents; the other servers' paths.
	docs := make([]map[string]string, 150)
	for i := range docs {
		docs[i] = map[string]string{"title": "t", "body": "b"}
	}
	docs[7]["body"] = "the answer"
	req, _ := json.Marshal(map[string]any{"model": "m", "query": "answer", "documents": docs, "rank_fields": []string{"title", "body"}})
	for _, path := range []string{"/v1/rerank", "/rerank"} {
		rec = serve(s, http.MethodPost, path, string(req))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		a.Results = nil
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
		require.Len(t, a.Results, 150)
		require.Equal(t, 7, a.Results[0].Index)
		require.Nil(t, a.Results[0].Document)
		require.Equal(t, 2, a.Meta.BilledUnits.SearchUnits)
	}

	for _, body := range []string{
		`{"query":"q","documents":["a"]}`,
		`{"model":"m","documents":["a"]}`,
		`{"model":"m","query":"q","documents":[]}`,
		`{"model":"m","query":"q","documents":["a"],"top_n":0}`,
		`{"model":"m","query":"q","documents":[1]}`,
		`not json`,
	} {
		rec = serve(s, http.MethodPost, "/v2/rerank", body)
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		var e struct{ ID, Message string }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Contains(t, e.Message, "invalid request: ", body)
	}
	rec = serve(s, http.MethodPost, "/v2/rerank", `{"model":"m","query":"q","documents":["a"]}`, "x-mock-status", "503")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
}
