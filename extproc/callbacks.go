package extproc

import (
	"time"

	"github.com/llmvoy/llmvoy/callbacks"
	"github.com/llmvoy/llmvoy/router"
)

// SetCallbacks sends a record of each client request to LiteLLM's
// logging callbacks (package callbacks). Every answer is then read for its
// usage and cost, as a virtual key's is.
func (s *Server) SetCallbacks(e *callbacks.Exporter) {
	s.callbacks = e
	if s.summaries == nil {
		s.summaries = newSummaries()
	}
}

// exportRequest queues the callbacks' record of a request's last pass.
// traceParent is the client's traceparent header, which the gateway kept
// (providers do not get it).
func (s *Server) exportRequest(r router.Request, sum summary, read bool, traceParent string) {
	if s.callbacks == nil || r.Redirected {
		return
	}
	ep, ok := modelEndpoint(r.Path)
	if !ok {
		// LiteLLM's callbacks hear of model calls only: not of probes,
		// /v1/models, the admin API or provider pass-throughs.
		s.callbacks.Forget(r.RequestID)
		return
	}
	rec := callbacks.Record{
		RequestID: r.RequestID, Path: r.Path, Stream: r.Stream, Status: r.Code, Failure: string(r.Failure),
		Start: r.Start, End: r.Start.Add(r.Duration), FirstByte: r.FirstByte, TraceParent: traceParent,
		CallType: callType(ep),
	}
	if d := s.state.Load().deployment(r.Deployment); d != nil {
		rec.ModelGroup, rec.Model, rec.UpstreamModel = d.ModelName, d.LiteLLMModel(), d.UpstreamModel
		rec.Provider, rec.API, rec.ModelID, rec.APIBase = d.Provider, d.API, d.ID, d.PublicAPIBase()
	}
	if read {
		rec.Usage, rec.PromptTokens, rec.CompletionTokens, rec.Cost = true, sum.PromptTokens, sum.CompletionTokens, sum.Cost
		rec.KeyHash, rec.KeyName, rec.Messages, rec.Response = sum.KeyHash, sum.KeyName, sum.Messages, sum.Response
		if sum.KeyAlias != nil {
			rec.KeyAlias = *sum.KeyAlias
		}
	}
	if sum.CacheHit {
		rec.CacheHit, rec.ModelGroup = true, sum.ModelGroup
	}
	if rec.Start.IsZero() {
		rec.Start, rec.End = time.Now().Add(-r.Duration), time.Now()
	}
	s.callbacks.Request(rec)
}
