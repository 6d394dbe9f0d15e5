package mock

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"
)

func unitNorm(t *testing.T, v []float64) {
	t.Helper()
	var n float64
	for _, x := range v {
		n += x * x
	}
	require.InDelta(t, 1, math.Sqrt(n), 1e-5)
}

func TestBedrockTitanEmbeddings(t *testing.T) {
	s := New(Options{Name: "b"})
	type titan struct {
		Embedding           []float64 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
		EmbeddingsByType    map[string]json.RawMessage
	}
	decode := func(body []byte) titan {
		var out titan
		require.NoError(t, json.Unmarshal(body, &out), string(body))
		return out
	}

	// V2: 1024 dimensions by default, floats by type too.
	rec := serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"What is the capital of France?"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "8", rec.Header().Get("X-Amzn-Bedrock-Input-Token-Count"))
	v2 := decode(rec.Body.Bytes())
	require.Len(t, v2.Embedding, 1024)
	unitNorm(t, v2.Embedding)
	require.Equal(t, EstimateTokens("What is the capital of France?"), v2.InputTextTokenCount)
	var byType []float64
	require.NoError(t, json.Unmarshal(v2.EmbeddingsByType["float"], &byType))
	require.Equal(t, v2.Embedding, byType)

	// The same text embeds the same; another text does not.
	again := decode(serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"What is the capital of France?"}`).Body.Bytes())
	require.Equal(t, v2.Embedding, again.Embedding)
	other := decode(serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"Paris"}`).Body.Bytes())
	require.NotEqual(t, v2.Embedding, other.Embedding)

	// dimensions, normalize and binary embeddings.
	rec = serveBedrock(t, s, "/model/us.amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"x","dimensions":256,"normalize":true,"embeddingTypes":["float","binary"]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	small := decode(rec.Body.Bytes())
	require.Len(t, small.Embedding, 256)
	var bits []int
	require.NoError(t, json.Unmarshal(small.EmbeddingsByType["binary"], &bits))
	require.Len(t, bits, 256)
	for i, b := range bits {
		require.Equal(t, small.Embedding[i] > 0, b == 1)
	}

	// V1 (and its g1 id): 1536 dimensions, no options, no by-type.
	for _, model := range []string{"amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text-02"} {
		rec = serveBedrock(t, s, "/model/"+model+"/invoke", `{"inputText":"hello"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		v1 := decode(rec.Body.Bytes())
		require.Len(t, v1.Embedding, 1536)
		require.Nil(t, v1.EmbeddingsByType)
	}
}

func TestBedrockCohereEmbeddings(t *testing.T) {
	s := New(Options{Name: "b"})
	type cohere struct {
		ID           string          `json:"id"`
		ResponseType string          `json:"response_type"`
		Texts        []string        `json:"texts"`
		Embeddings   json.RawMessage `json:"embeddings"`
	}
	rec := serveBedrock(t, s, "/model/cohere.embed-english-v3/invoke", `{"texts":["The food was delicious","and the waiter"],"input_type":"search_document","truncate":"END"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "10", rec.Header().Get("X-Amzn-Bedrock-Input-Token-Count"))
	var out cohere
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, "embeddings_floats", out.ResponseType)
	require.Len(t, out.ID, 36)
	require.Equal(t, []string{"The food was delicious", "and the waiter"}, out.Texts)
	var floats [][]float64
	require.NoError(t, json.Unmarshal(out.Embeddings, &floats))
	require.Len(t, floats, 2)
	for _, v := range floats {
		require.Len(t, v, 1024)
		unitNorm(t, v)
	}

	// embedding_types: vectors by type; v4's output_dimension.
	rec = serveBedrock(t, s, "/model/us.cohere.embed-v4%3A0/invoke", `{"texts":["q"],"input_type":"search_query","embedding_types":["float","int8"],"output_dimension":512}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, "embeddings_by_type", out.ResponseType)
	var byType struct {
		Float [][]float64 `json:"float"`
		Int8  [][]int     `json:"int8"`
	}
	require.NoError(t, json.Unmarshal(out.Embeddings, &byType))
	require.Len(t, byType.Float[0], 512)
	require.Len(t, byType.Int8[0], 512)
	require.Equal(t, int(math.Round(byType.Float[0][0]*127)), byType.Int8[0][0])

	// v4 without output_dimension: 1536.
	rec = serveBedrock(t, s, "/model/cohere.embed-v4%3A0/invoke", `{"texts":["q"],"input_type":"clustering"}`)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.NoError(t, json.Unmarshal(out.Embeddings, &floats))
	require.Len(t, floats[0], 1536)
}

// The mock refuses what Bedrock refuses, in Bedrock's words.
func TestBedrockEmbeddingsValidation(t *testing.T) {
	s := New(Options{})
	for _, tt := range []struct {
		name, model, body, typ, msg string
	}{
		{"not JSON", "amazon.titan-embed-text-v2%3A0", `{`, "SerializationException", "Unable to parse"},
		{"titan no inputText", "amazon.titan-embed-text-v2%3A0", `{"texts":["a"]}`, "ValidationException", "extraneous key [texts]"},
		{"titan inputText missing", "amazon.titan-embed-text-v2%3A0", `{}`, "ValidationException", "required key [inputText] not found"},
		{"titan empty text", "amazon.titan-embed-text-v2%3A0", `{"inputText":""}`, "ValidationException", "expected minLength: 1"},
		{"titan dimensions", "amazon.titan-embed-text-v2%3A0", `{"inputText":"a","dimensions":100}`, "ValidationException", "#/dimensions: 100 is not a valid enum value"},
		{"titan v1 dimensions", "amazon.titan-embed-text-v1", `{"inputText":"a","dimensions":256}`, "ValidationException", "extraneous key [dimensions]"},
		{"titan embeddingTypes", "amazon.titan-embed-text-v2%3A0", `{"inputText":"a","embeddingTypes":["int8"]}`, "ValidationException", "int8 is not a valid enum value"},
		{"cohere no texts", "cohere.embed-english-v3", `{"input_type":"search_document"}`, "ValidationException", "required key [texts] not found"},
		{"cohere no input_type", "cohere.embed-english-v3", `{"texts":["a"]}`, "ValidationException", "required key [input_type] not found"},
		{"cohere input_type", "cohere.embed-english-v3", `{"texts":["a"],"input_type":"chat"}`, "ValidationException", "chat is not a valid enum value"},
		{"cohere too many", "cohere.embed-english-v3", `{"texts":[` + strings.Repeat(`"a",`, 96) + `"a"],"input_type":"clustering"}`, "ValidationException", "expected maximum item count: 96, found: 97"},
		{"cohere too long", "cohere.embed-english-v3", `{"texts":["` + strings.Repeat("a", 2049) + `"],"input_type":"clustering"}`, "ValidationException", "expected maxLength: 2048"},
		{"cohere v3 output_dimension", "cohere.embed-english-v3", `{"texts":["a"],"input_type":"clustering","output_dimension":256}`, "ValidationException", "extraneous key [output_dimension]"},
		{"cohere truncate", "cohere.embed-english-v3", `{"texts":["a"],"input_type":"clustering","truncate":"MIDDLE"}`, "ValidationException", "truncate"},
		{"chat model", "anthropic.claude-3-5-sonnet-20240620-v1%3A0", `{"inputText":"a"}`, "ValidationException", "Titan Text Embeddings and Cohere Embed models only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveBedrock(t, s, "/model/"+tt.model+"/invoke", tt.body)
			require.Contains(t, decodeAWSError(t, rec, http.StatusBadRequest, tt.typ), tt.msg)
		})
	}
}

// InvokeModel checks signatures as Converse does.
func TestBedrockEmbeddingsSignature(t *testing.T) {
	s := New(Options{})
	body := `{"inputText":"a"}`
	req := signedRequest(t, "http://127.0.0.1:4010", "/model/amazon.titan-embed-text-v1/invoke", body,
		aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: "wrong"}, time.Now())
	rec := httptestServe(s, req)
	require.Contains(t, decodeAWSError(t, rec, http.StatusForbidden, "InvalidSignatureException"), "signature we calculated does not match")

	rec = serve(s, http.MethodPost, "/model/amazon.titan-embed-text-v1/invoke", body)
	decodeAWSError(t, rec, http.StatusForbidden, "MissingAuthenticationTokenException")

	// Signed for one body, sent with another.
	req = signedRequest(t, "http://127.0.0.1:4010", "/model/amazon.titan-embed-text-v1/invoke", body, bedrockCreds, time.Now())
	req.Body, req.ContentLength = http.NoBody, 0
	rec = httptestServe(s, req)
	require.Contains(t, decodeAWSError(t, rec, http.StatusForbidden, "InvalidSignatureException"), "signature we calculated does not match")
}

func httptestServe(s *Server, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestBedrockEmbeddingsFaults(t *testing.T) {
	s := New(Options{})
	rec := serveBedrock(t, s, "/model/cohere.embed-english-v3/invoke", `{"texts":["a"],"input_type":"clustering"}`, "x-mock-status", "429", "x-mock-retry-after", "2")
	require.Contains(t, decodeAWSError(t, rec, http.StatusTooManyRequests, "ThrottlingException"), "Too many requests")
	require.Equal(t, "2", rec.Header().Get("Retry-After"))

	rec = serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"a"}`, "x-mock-bedrock-error", "ModelNotReadyException")
	decodeAWSError(t, rec, http.StatusTooManyRequests, "ModelNotReadyException")

	rec = serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"a text of a few tokens"}`, "x-mock-context-window", "2")
	require.Contains(t, decodeAWSError(t, rec, http.StatusBadRequest, "ValidationException"), "Too many input tokens. Max input tokens: 2, request input token count: 6")

	rec = serveBedrock(t, s, "/model/amazon.titan-embed-text-v2%3A0/invoke", `{"inputText":"a"}`, "x-mock-context-window", "2")
	require.Equal(t, http.StatusOK, rec.Code)
}
