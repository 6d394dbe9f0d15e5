package mock

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Cohere's rerank API, which LiteLLM's /v1/rerank follows and Jina,
// Together, vLLM and Infinity serve in the same shape:
//
//	POST /v2/rerank, /v1/rerank, /rerank
//	{"model","query","documents":[string | {"text",...}],"top_n","return_documents","rank_fields",
//	 "max_chunks_per_doc","max_tokens_per_doc"}
//	→ {"id","results":[{"index","relevance_score","document":{"text"}?}],
//	   "meta":{"api_version":{"version"},"billed_units":{"search_units"}}}
//
// Results are ordered by a deterministic score (the share of the query's
// words a document has), cut to top_n; a document is returned only when
// return_documents is true. A search unit is a query over up to 100
// documents, as Cohere bills. A request Cohere refuses (no model, query or
// documents, a top_n below 1) gets Cohere's 400, {"id","message"}. The
// x-mock-* headers apply.
func init() {
	providerRoutes = append(providerRoutes, providerRoute{
		match: func(method, path string) bool {
			return method == http.MethodPost && (path == "/v2/rerank" || path == "/v1/rerank" || path == "/rerank")
		},
		serve: (*Server).rerank,
	})
}

// documentsPerSearchUnit is how many documents one search unit covers.
const documentsPerSearchUnit = 100

func (s *Server) rerank(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	var req struct {
		Model           string            `json:"model"`
		Query           *string           `json:"query"`
		Documents       []json.RawMessage `json:"documents"`
		TopN            *int              `json:"top_n"`
		ReturnDocuments bool              `json:"return_documents"`
		RankFields      []string          `json:"rank_fields"`
	}
	refuse := func(msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"id": s.newID("", 32), "message": "invalid request: " + msg})
	}
	if err := json.Unmarshal(body, &req); err != nil {
		refuse("could not parse the body: " + err.Error())
		return
	}
	switch {
	case req.Model == "" && r.URL.Path == "/v2/rerank":
		refuse("model is required")
		return
	case req.Query == nil || strings.TrimSpace(*req.Query) == "":
		refuse("query must not be empty")
		return
	case len(req.Documents) == 0:
		refuse("list of documents must not be empty")
		return
	case req.TopN != nil && *req.TopN < 1:
		refuse("top_n must be greater than 0")
		return
	}
	texts := make([]string, len(req.Documents))
	for i, raw := range req.Documents {
		text, ok := documentText(raw, req.RankFields)
		if !ok {
			refuse("documents must be strings or objects of strings")
			return
		}
		texts[i] = text
	}
	if !s.proceed(w, r, opts, req.Model) {
		return
	}
	type document struct {
		Text string `json:"text"`
	}
	type result struct {
		Index          int       `json:"index"`
		RelevanceScore float64   `json:"relevance_score"`
		Document       *document `json:"document,omitempty"`
	}
	words := strings.Fields(strings.ToLower(*req.Query))
	results := make([]result, len(texts))
	for i, text := range texts {
		results[i] = result{Index: i, RelevanceScore: relevance(words, strings.ToLower(text))}
		if req.ReturnDocuments {
			results[i].Document = &document{Text: text}
		}
	}
	sort.SliceStable(results, func(a, b int) bool { return results[a].RelevanceScore > results[b].RelevanceScore })
	if req.TopN != nil && *req.TopN < len(results) {
		results = results[:*req.TopN]
	}
	version := "2"
	if r.URL.Path != "/v2/rerank" {
		version = "1"
	}
	units := (len(texts) + documentsPerSearchUnit - 1) / documentsPerSearchUnit
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      s.newID("", 32),
		"results": results,
		"meta": map[string]any{
			"api_version":  map[string]string{"version": version},
			"billed_units": map[string]int{"search_units": units},
		},
	})
}

// documentText is a document's text: a string, or an object's "text" (its
// rank_fields' values when given, joined).
func documentText(raw json.RawMessage, rankFields []string) (string, bool) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, true
	}
	var fields map[string]string
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return "", false
	}
	if len(rankFields) == 0 {
		rankFields = []string{"text"}
	}
	parts := make([]string, 0, len(rankFields))
	for _, f := range rankFields {
		parts = append(parts, fields[f])
	}
	return strings.Join(parts, " "), true
}

// relevance is the share of the query's words found in text, in (0, 1).
func relevance(words []string, text string) float64 {
	found := 0
	for _, w := range words {
		if strings.Contains(text, w) {
			found++
		}
	}
	return (float64(found) + 0.01) / (float64(len(words)) + 0.02)
}
