// Package callbacks exports a record of each client request to LiteLLM's
// logging callbacks (litellm_settings.success_callback, failure_callback,
// callbacks): OpenTelemetry traces, Langfuse and a generic webhook. One
// Record per request, assembled from Envoy's access logs and what the
// upstream processor read of the answer, goes to every configured sink
// through a bounded queue of its own, exported in batches off the request
// path; a full queue drops the record and counts it.
package callbacks

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/router"
)

// Record is one client request as the callbacks see it.
type Record struct {
	// RequestID is Envoy's x-request-id, LiteLLM's call id.
	RequestID string
	// CallType is LiteLLM's (acompletion, aembedding, ...).
	CallType string
	// Path is the endpoint the client called.
	Path string
	// ModelGroup is the model group that answered (the model the client
	// asked for, or the fallback's); Model the deployment's LiteLLM model
	// (openai/gpt-4o), UpstreamModel the provider's name for it.
	ModelGroup, Model, UpstreamModel string
	// Provider is LiteLLM's custom_llm_provider; API the wire API the
	// deployment speaks (config.API*).
	Provider, API    string
	ModelID, APIBase string
	Stream           bool
	// Status is the client's status; Failure what Envoy says went wrong
	// when no answer came.
	Status  int
	Failure string
	// Start and End bound the request; FirstByte is the answer's first
	// byte (a stream's first token) after Start, 0 when none was sent.
	Start, End time.Time
	FirstByte  time.Duration
	// Usage: the answer was read and its tokens and cost are known.
	Usage                          bool
	PromptTokens, CompletionTokens int
	Cost                           float64
	// KeyHash and KeyAlias are the virtual key's; empty for the master key.
	KeyHash, KeyAlias, KeyName string
	// Messages and Response are the request's and the answer's bodies,
	// only when general_settings.store_prompts_in_spend_logs is on.
	Messages, Response string
	// CacheHit: the response cache answered; no deployment was called.
	CacheHit bool
	// TraceParent is the client's W3C traceparent header, if any.
	TraceParent string
	// Attempts are Envoy's attempts at the request, in the order logged.
	Attempts []router.Attempt
}

// Failed reports whether the request ended without an answer.
func (r *Record) Failed() bool { return r.Status == 0 || r.Status >= 400 }

// ErrorString says why a failed request failed; "" for an answered one.
func (r *Record) ErrorString() string {
	switch {
	case !r.Failed():
		return ""
	case r.Failure != "":
		return r.Failure
	case r.Status == 0:
		return "no answer"
	}
	return "status " + strconv.Itoa(r.Status)
}

// sink is one callback's destination.
type sink interface {
	// export sends a batch; it may block up to ctx's deadline.
	export(ctx context.Context, batch []Record) error
	// shutdown flushes what the sink holds itself.
	shutdown(ctx context.Context) error
}

// Exporter hands each request's Record to the configured callbacks.
type Exporter struct {
	queues []*queue
	log    *slog.Logger

	// in holds records until their attempts are in: Envoy streams the
	// request's and the attempts' log entries apart, so an attempt may
	// come a little after its request's end.
	in      chan held
	grace   time.Duration
	done    chan struct{}
	dropped atomic.Uint64
	// closing guards in: a log stream may still deliver a request while
	// the gateway closes.
	closing sync.RWMutex
	closed  bool

	mu       sync.Mutex
	attempts map[string]pending
	swept    time.Time
}

type held struct {
	r   Record
	due time.Time
}

// attemptGrace is how long a record waits for its attempts' log entries:
// Envoy flushes both logs every 20 ms, on streams of their own.
const attemptGrace = 200 * time.Millisecond

func newExporter(grace time.Duration, log *slog.Logger) *Exporter {
	e := &Exporter{log: log, attempts: make(map[string]pending), in: make(chan held, queueSize), grace: grace, done: make(chan struct{})}
	go e.dispatch()
	return e
}

type pending struct {
	attempts []router.Attempt
	at       time.Time
}

// Tuning of every queue: how many records wait at most, how many go in a
// request, and how long one waits for its batch to fill.
const (
	queueSize   = 4096
	maxBatch    = 100
	flushEvery  = time.Second
	exportLimit = 10 * time.Second
)

// Open starts an exporter for every callback of c that needs one; nil
// when none does (prometheus is always served).
func Open(c config.Callbacks, log *slog.Logger) (*Exporter, error) {
	if !c.ReadsAnswers() {
		return nil, nil
	}
	e := newExporter(attemptGrace, log)
	for name, on := range c.On {
		var s sink
		var err error
		w, isWebhook := c.Webhooks[name]
		switch {
		case isWebhook:
			s = newWebhook(w)
		case name == config.CallbackOTel:
			s, err = newOTel(c.OTel, log)
		case name == config.CallbackLangfuse:
			s = newLangfuse(c.Langfuse)
		default:
			continue
		}
		if err != nil {
			e.Close()
			return nil, err
		}
		e.queues = append(e.queues, startQueue(name, on, s, flushEvery, log))
		log.Info("callback on", "callback", name, "success", on.Success, "failure", on.Failure)
	}
	return e, nil
}

// Names are the callbacks exported to.
func (e *Exporter) Names() []string {
	var out []string
	for _, q := range e.queues {
		out = append(out, q.name)
	}
	return out
}

// Dropped is how many records callback name lost to a full queue (its
// own, or the one where records wait for their attempts).
func (e *Exporter) Dropped(name string) uint64 {
	for _, q := range e.queues {
		if q.name == name {
			return q.dropped.Load() + e.dropped.Load()
		}
	}
	return 0
}

// attemptTTL drops the attempts of requests whose end Envoy never logged.
const attemptTTL = 10 * time.Minute

// Attempt keeps an attempt until its request's end is logged.
func (e *Exporter) Attempt(a router.Attempt) {
	if a.RequestID == "" {
		return
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.attempts[a.RequestID]
	p.attempts, p.at = append(p.attempts, a), now
	e.attempts[a.RequestID] = p
	if now.Sub(e.swept) > time.Minute {
		e.swept = now
		for id, old := range e.attempts {
			if now.Sub(old.at) > attemptTTL {
				delete(e.attempts, id)
			}
		}
	}
}

// Forget drops the attempts kept for a request that has no record (not a
// model call).
func (e *Exporter) Forget(requestID string) {
	e.mu.Lock()
	delete(e.attempts, requestID)
	e.mu.Unlock()
}

// Request queues r for every callback told about its outcome, with the
// attempts logged for it. It never blocks.
func (e *Exporter) Request(r Record) {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		e.dropped.Add(1)
		return
	}
	select {
	case e.in <- held{r: r, due: time.Now().Add(e.grace)}:
	default:
		e.dropped.Add(1)
	}
}

// dispatch hands each record, once its grace is over, with its attempts,
// to the callbacks' queues. Records come in order of their due times.
func (e *Exporter) dispatch() {
	defer close(e.done)
	for h := range e.in {
		if d := time.Until(h.due); d > 0 {
			time.Sleep(d)
		}
		r := h.r
		e.mu.Lock()
		r.Attempts = e.attempts[r.RequestID].attempts
		delete(e.attempts, r.RequestID)
		e.mu.Unlock()
		failed := r.Failed()
		for _, q := range e.queues {
			if (failed && q.on.Failure) || (!failed && q.on.Success) {
				q.put(r)
			}
		}
	}
}

// Close exports what is queued (for a few seconds at most) and stops.
func (e *Exporter) Close() {
	if e == nil {
		return
	}
	e.closing.Lock()
	e.closed = true
	close(e.in)
	e.closing.Unlock()
	<-e.done
	var wg sync.WaitGroup
	for _, q := range e.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.close()
		}()
	}
	wg.Wait()
}

// queue is one callback's bounded queue and the goroutine exporting it.
type queue struct {
	name    string
	on      config.CallbackEvents
	sink    sink
	ch      chan Record
	done    chan struct{}
	dropped atomic.Uint64
	log     *slog.Logger
}

func startQueue(name string, on config.CallbackEvents, s sink, every time.Duration, log *slog.Logger) *queue {
	q := &queue{name: name, on: on, sink: s, ch: make(chan Record, queueSize), done: make(chan struct{}), log: log}
	go q.run(every)
	return q
}

func (q *queue) put(r Record) {
	select {
	case q.ch <- r:
	default:
		q.dropped.Add(1)
	}
}

func (q *queue) run(every time.Duration) {
	defer close(q.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var batch []Record
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), exportLimit)
		defer cancel()
		if err := q.sink.export(ctx, batch); err != nil {
			// The error says what the destination answered, never the
			// credentials sent to it.
			q.log.Warn("callback export failed; records dropped", "callback", q.name, "records", len(batch), "error", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r, ok := <-q.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) >= maxBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func (q *queue) close() {
	close(q.ch)
	<-q.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.sink.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		q.log.Warn("callback shutdown", "callback", q.name, "error", err)
	}
}
