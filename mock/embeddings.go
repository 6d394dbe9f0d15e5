package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
)

// DefaultEmbeddingDims is the length of the vectors the mock returns when the
// request has no dimensions parameter. MaxEmbeddingDims caps dimensions.
const (
	DefaultEmbeddingDims = 8
	MaxEmbeddingDims     = 3072
)

// ModelID is the one model GET /v1/models lists.
const ModelID = "mock-model"

var modelsList = []byte(`{"object":"list","data":[{"id":"` + ModelID + `","object":"model","created":1700000000,"owned_by":"llmvoy-mock"}]}`)

func serveModel(w http.ResponseWriter, id string) {
	if id != ModelID {
		writeError(w, newAPIError(http.StatusNotFound, "invalid_request_error", "The model '"+id+"' does not exist", "model", "model_not_found"))
		return
	}
	writeJSONBytes(w, http.StatusOK, []byte(`{"id":"`+ModelID+`","object":"model","created":1700000000,"owned_by":"llmvoy-mock"}`))
}

type embeddingsRequest struct {
	Model          json.RawMessage `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat json.RawMessage `json:"encoding_format"`
	Dimensions     json.RawMessage `json:"dimensions"`
}

// embeddingInput is one input to embed: the bytes its vector is derived from
// and its token count.
type embeddingInput struct {
	key    []byte
	tokens int
}

type embeddingsCall struct {
	model  string
	inputs []embeddingInput
	base64 bool
	dims   int
}

func parseEmbeddings(body []byte) (embeddingsCall, *apiError) {
	c := embeddingsCall{dims: DefaultEmbeddingDims}
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return c, couldNotParse
	}
	var e *apiError
	if c.model, e = parseModel(req.Model); e != nil {
		return c, e
	}
	if isNull(req.Input) {
		return c, missingParam("input")
	}
	if c.inputs, e = parseInputs(req.Input); e != nil {
		return c, e
	}
	if !isNull(req.EncodingFormat) {
		var f string
		if err := json.Unmarshal(req.EncodingFormat, &f); err != nil {
			return c, invalidType("encoding_format", "a string", req.EncodingFormat)
		}
		switch f {
		case "float":
		case "base64":
			c.base64 = true
		default:
			return c, invalidRequest("Invalid value: '"+f+"'. Supported values are: 'float' and 'base64'.", "encoding_format", "invalid_value")
		}
	}
	if !isNull(req.Dimensions) {
		if err := json.Unmarshal(req.Dimensions, &c.dims); err != nil {
			return c, invalidType("dimensions", "an integer", req.Dimensions)
		}
		if c.dims < 1 || c.dims > MaxEmbeddingDims {
			return c, invalidRequest("Invalid 'dimensions': expected a value from 1 to "+strconv.Itoa(MaxEmbeddingDims)+".", "dimensions", "invalid_value")
		}
	}
	return c, nil
}

// parseInputs accepts what OpenAI accepts: a string, an array of strings, an
// array of token ids, or an array of arrays of token ids.
func parseInputs(raw json.RawMessage) ([]embeddingInput, *apiError) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []embeddingInput{{key: []byte(one), tokens: EstimateTokens(one)}}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		if len(many) == 0 {
			return nil, emptyArray("input")
		}
		in := make([]embeddingInput, len(many))
		for i, s := range many {
			in[i] = embeddingInput{key: []byte(s), tokens: EstimateTokens(s)}
		}
		return in, nil
	}
	var tokens []int64
	if json.Unmarshal(raw, &tokens) == nil {
		return []embeddingInput{tokenInput(tokens)}, nil
	}
	var tokenLists [][]int64
	if json.Unmarshal(raw, &tokenLists) == nil {
		in := make([]embeddingInput, len(tokenLists))
		for i, t := range tokenLists {
			in[i] = tokenInput(t)
		}
		return in, nil
	}
	return nil, invalidType("input", "a string or an array of strings or token ids", raw)
}

func tokenInput(tokens []int64) embeddingInput {
	key := make([]byte, 0, len(tokens)*4)
	for _, t := range tokens {
		key = strconv.AppendInt(key, t, 10)
		key = append(key, ',')
	}
	return embeddingInput{key: key, tokens: len(tokens)}
}

// embedding is a deterministic unit vector derived from a hash of key.
func embedding(key []byte, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write(key)
	seed := h.Sum64()
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x := float64(splitmix64(seed+uint64(i))>>11)/(1<<53)*2 - 1
		v[i] = float32(x)
		norm += x * x
	}
	if norm = math.Sqrt(norm); norm > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / norm)
		}
	}
	return v
}

type embeddingsResponse struct {
	Object string            `json:"object"`
	Data   []embeddingObject `json:"data"`
	Model  string            `json:"model"`
	Usage  embeddingsUsage   `json:"usage"`
}

type embeddingObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string of little-endian float32s
}

type embeddingsUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	call, e := parseEmbeddings(body)
	if e != nil {
		writeError(w, e)
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
	if !wait(r, a.latency) {
		return
	}
	if a.failStatus != 0 {
		setRetryAfter(w.Header(), a.retryAfter)
		writeError(w, newInjectedError(a.failStatus, call.model, a.retryAfter))
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	resp := embeddingsResponse{Object: "list", Model: call.model, Data: make([]embeddingObject, len(call.inputs))}
	for i, in := range call.inputs {
		v := embedding(in.key, call.dims)
		var enc any = v
		if call.base64 {
			raw := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			enc = base64.StdEncoding.EncodeToString(raw)
		}
		resp.Data[i] = embeddingObject{Object: "embedding", Index: i, Embedding: enc}
		resp.Usage.PromptTokens += in.tokens
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, http.StatusOK, resp)
}
