package extproc

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/llmvoy/llmvoy/counters"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/pricing"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/translate"
)

// CostHeaders carry a non-streaming answer's cost in USD: LiteLLM's name,
// which its clients read, and llmvoy's.
var CostHeaders = []string{plan.LiteLLMResponseCostHeader, plan.ResponseCostHeader}

// spender is what an attempt made with a virtual key needs to record its
// spend once the answer is complete.
type spender struct {
	token string
	start time.Time
	// request is the client's body, kept only when prompts are stored.
	request []byte
	// characters is a speech request's input length (mediaCost).
	characters int
}

// callType is LiteLLM's SpendLogs.call_type of an endpoint.
func callType(ep translate.Endpoint) string {
	switch ep {
	case translate.Embeddings:
		return "aembedding"
	case translate.Completions:
		return "atext_completion"
	case translate.Messages:
		return "anthropic_messages"
	case translate.Responses:
		return "aresponses"
	case translate.ImageGenerations:
		return "aimage_generation"
	case translate.ImageEdits:
		return "aimage_edit"
	case translate.Rerank:
		return "arerank"
	case translate.Moderations:
		return "amoderation"
	case translate.AudioSpeech:
		return "aspeech"
	case translate.AudioTranscriptions:
		return "atranscription"
	case passThroughEndpoint:
		return "pass_through_endpoint"
	}
	return "acompletion"
}

// recordSpend records the spend of the attempt's answer and returns its
// cost. response is the answer in OpenAI's format, for stored prompts.
func (u *upstream) recordSpend(prompt, completion int, response []byte) float64 {
	d := u.deployment
	cost, _ := pricing.Cost(d, prompt, completion)
	cost += mediaCost(d, u.clientEP, u.spend.characters, response)
	l := keys.SpendLog{
		RequestID: u.requestID, APIKey: u.spend.token, CallType: callType(u.clientEP),
		ModelGroup: d.ModelName, Model: d.LiteLLMModel(), ModelID: d.ID, APIBase: d.PublicAPIBase(),
		PromptTokens: int64(prompt), CompletionTokens: int64(completion), TotalTokens: int64(prompt + completion),
		Spend: cost, StartTime: u.spend.start, EndTime: time.Now(),
	}
	if l.RequestID == "" {
		l.RequestID = "llmvoy-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	// Without a virtual key (the master key's requests, read for the
	// callbacks) nothing is charged: the answer is only summarised.
	charged := u.spend.token != "" && u.server.keys != nil
	var k *keys.Key
	if charged {
		var err error
		if k, err = u.server.keys.Lookup(context.Background(), u.spend.token); err == nil {
			l.KeyAlias = k.KeyAlias
		}
	}
	if u.state.cfg.General.StorePrompts {
		l.Messages, l.Response = string(u.spend.request), string(response)
	}
	if charged && (u.relay == nil || !u.relay.hold(l)) {
		u.server.keys.Record(l)
	}
	if charged {
		key := metrics.Key{Hash: u.spend.token}
		if l.KeyAlias != nil {
			key.Alias = *l.KeyAlias
		}
		u.server.metrics.Usage(d.ID, key, prompt, completion, cost)
	}
	if k != nil && k.MaxBudget != nil && cost > 0 {
		u.server.counters.Add(context.Background(), spendCounter(k), int64(cost*nanoUSD), spendTTL(k))
	}
	if k != nil && k.TPMLimit != nil {
		minute := time.Now().Unix() / 60
		u.server.counters.Add(context.Background(), keyCounter(u.spend.token, "tpm", minute), int64(prompt+completion), counters.PerMinuteTTL)
	}
	u.server.summaries.put(l.RequestID, summary{KeyHash: u.spend.token, KeyAlias: l.KeyAlias, KeyName: keyName(k),
		PromptTokens: prompt, CompletionTokens: completion, Cost: cost, Messages: l.Messages, Response: l.Response})
	return cost
}

func keyName(k *keys.Key) string {
	if k == nil {
		return ""
	}
	return k.KeyName
}

// formatCost is a cost as LiteLLM writes it in its header.
func formatCost(usd float64) string { return strconv.FormatFloat(usd, 'g', -1, 64) }

// summary is what the upstream processor learnt of a request that the
// access log line shows: who made it, its tokens and cost.
type summary struct {
	KeyHash          string
	KeyAlias         *string
	KeyName          string
	PromptTokens     int
	CompletionTokens int
	Cost             float64
	// Messages and Response are the stored request and answer, for the
	// callbacks (only with store_prompts_in_spend_logs).
	Messages, Response string
	// CacheHit: the response cache answered, for ModelGroup.
	CacheHit   bool
	ModelGroup string
	at         time.Time
}

// summaries holds summaries until Envoy logs their request's end.
type summaries struct {
	mu    sync.Mutex
	byID  map[string]summary
	swept time.Time
}

func newSummaries() *summaries { return &summaries{byID: make(map[string]summary)} }

// summaryTTL drops summaries whose request Envoy never logged (a lost
// access-log batch), so the map cannot grow without bound.
const summaryTTL = 10 * time.Minute

func (s *summaries) put(id string, v summary) {
	now := time.Now()
	v.at = now
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = v
	if now.Sub(s.swept) > time.Minute {
		s.swept = now
		for k, old := range s.byID {
			if now.Sub(old.at) > summaryTTL {
				delete(s.byID, k)
			}
		}
	}
}

func (s *summaries) take(id string) (summary, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	delete(s.byID, id)
	return v, ok
}

// SetAccessLog writes a JSON line per client request to w.
func (s *Server) SetAccessLog(w io.Writer) { s.accessLog = &jsonLog{w: w} }

type jsonLog struct {
	mu sync.Mutex
	w  io.Writer
}

// accessLine is one JSON access-log line. Prompts and answers are never in
// it.
type accessLine struct {
	Time             string   `json:"time"`
	RequestID        string   `json:"request_id"`
	Path             string   `json:"path"`
	Status           int      `json:"status"`
	ModelGroup       string   `json:"model_group,omitempty"`
	Deployment       string   `json:"deployment,omitempty"`
	Attempts         int      `json:"attempts"`
	Fallback         bool     `json:"fallback,omitempty"`
	Stream           bool     `json:"stream,omitempty"`
	Failure          string   `json:"failure,omitempty"`
	LatencyMS        float64  `json:"latency_ms"`
	FirstByteMS      float64  `json:"first_byte_ms,omitempty"`
	KeyAlias         *string  `json:"key_alias,omitempty"`
	KeyName          string   `json:"key_name,omitempty"`
	PromptTokens     *int     `json:"prompt_tokens,omitempty"`
	CompletionTokens *int     `json:"completion_tokens,omitempty"`
	Cost             *float64 `json:"cost,omitempty"`
}

// ObserveRequest is told by Envoy's access log that a client request
// ended: it frees the request's max_parallel_requests slot and writes its
// access-log line.
func (s *Server) ObserveRequest(r router.Request) {
	var traceParent string
	if s.callbacks != nil {
		rt, _ := s.requests.get(r.RequestID)
		traceParent = rt.traceParent
	}
	if !r.Redirected {
		// A fallback's first pass ends while its next pass goes on, with
		// the same id: it keeps its routing and its parallel slot.
		s.requests.drop(r.RequestID)
		if s.parallel != nil {
			s.parallel.release(r.RequestID)
		}
	}
	var sum summary
	var ok bool
	if s.summaries != nil {
		sum, ok = s.summaries.take(r.RequestID)
	}
	s.exportRequest(r, sum, ok, traceParent)
	if s.accessLog == nil {
		return
	}
	line := accessLine{
		Time: r.Start.UTC().Format(time.RFC3339Nano), RequestID: r.RequestID, Path: r.Path, Status: r.Code,
		Deployment: r.Deployment, Attempts: r.Attempts, Fallback: r.Redirected, Stream: r.Stream, Failure: string(r.Failure),
		LatencyMS: ms(r.Duration), FirstByteMS: ms(r.FirstByte),
	}
	if d := s.state.Load().deployment(r.Deployment); d != nil {
		line.ModelGroup = d.ModelName
	}
	if ok {
		line.KeyAlias, line.KeyName = sum.KeyAlias, sum.KeyName
		line.PromptTokens, line.CompletionTokens, line.Cost = &sum.PromptTokens, &sum.CompletionTokens, &sum.Cost
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	s.accessLog.mu.Lock()
	defer s.accessLog.mu.Unlock()
	s.accessLog.w.Write(append(b, '\n'))
}

// ObserveAttempt: attempts are not access-logged one by one; the callbacks
// make a span of each.
func (s *Server) ObserveAttempt(a router.Attempt) {
	if s.callbacks != nil {
		s.callbacks.Attempt(a)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
