package router

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/plan"
)

// AccessLog receives Envoy's access logs, streamed off the request path:
// the upstream log (one entry per attempt), whose outcomes feed Cooldowns
// and Balance, and the gateway listener's log (one entry per client
// request). An Observer, when set, sees both.
type AccessLog struct {
	alsv3.UnimplementedAccessLogServiceServer
	cooldowns *Cooldowns
	balance   *Balance
	observer  Observer
	// log gets the panics of entries that could not be read; slog's
	// default logger when unset.
	log *slog.Logger
}

// Observer is told about every attempt and client request Envoy logs, after
// Cooldowns and Balance have counted the attempt. It is called from the log
// streams (one per Envoy worker), concurrently.
type Observer interface {
	ObserveAttempt(Attempt)
	ObserveRequest(Request)
}

// Observers tells several observers, in order.
type Observers []Observer

var _ Observer = Observers(nil)

func (o Observers) ObserveAttempt(a Attempt) {
	for _, x := range o {
		x.ObserveAttempt(a)
	}
}

func (o Observers) ObserveRequest(r Request) {
	for _, x := range o {
		x.ObserveRequest(r)
	}
}

// NewAccessLog returns the access log service recording into c and b, and
// telling obs (which may be nil) what it saw.
func NewAccessLog(c *Cooldowns, b *Balance, obs Observer) *AccessLog {
	return &AccessLog{cooldowns: c, balance: b, observer: obs}
}

// SetLog makes l the logger of the service's own failures; call it before
// serving.
func (a *AccessLog) SetLog(l *slog.Logger) { a.log = l }

// Register adds the service to g.
func (a *AccessLog) Register(g *grpc.Server) { alsv3.RegisterAccessLogServiceServer(g, a) }

// StreamAccessLogs consumes one Envoy worker's stream of log batches. Each
// log has its own streams; the first message of a stream names its log.
func (a *AccessLog) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	downstream := false
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		if id := msg.GetIdentifier(); id != nil {
			downstream = id.GetLogName() == plan.DownstreamLogName
		}
		for _, e := range msg.GetHttpLogs().GetLogEntry() {
			a.entry(e, downstream)
		}
	}
}

// entry counts one log entry. A panic there (a bug, or an entry no code
// path expected) loses that entry only: the stream, which carries the next
// entries of the same Envoy worker, goes on, and so does the process.
func (a *AccessLog) entry(e *accesslogv3.HTTPAccessLogEntry, downstream bool) {
	defer func() {
		if v := recover(); v != nil {
			log := a.log
			if log == nil {
				log = slog.Default()
			}
			log.Error("llmvoy bug: access log entry dropped by a panic", "request_id", e.GetRequest().GetRequestId(),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if downstream {
		// Client requests say nothing the attempts did not.
		if a.observer != nil {
			a.observer.ObserveRequest(requestOf(e))
		}
		return
	}
	if c := e.GetCommonProperties().GetUpstreamCluster(); strings.HasSuffix(c, plan.HopClusterSuffix) || strings.HasSuffix(c, plan.RelayClusterSuffix) {
		// The gateway listener's one attempt through the fallback hop or
		// the relay, whose router logged the deployments' attempts.
		return
	}
	hedging := a.cooldowns.Hedges(e.GetCommonProperties().GetCustomTags()[plan.DeploymentTag])
	o, ok := outcomeOf(e, hedging)
	if ok {
		a.cooldowns.Record(o)
		a.balance.Record(o)
	}
	if a.observer != nil {
		a.observer.ObserveAttempt(attemptOf(e, o, ok, hedging))
	}
}

// Failure says why Envoy logged no answer from a deployment, or why a
// request ended without one.
type Failure string

const (
	// FailureTimeout: the attempt (or the request) ran out of time.
	FailureTimeout Failure = "timeout"
	// FailureConnection: the deployment could not be reached, or reset or
	// closed the connection before it answered.
	FailureConnection Failure = "connection_failure"
	// FailureOverflow: llmvoy's own limit of requests in flight
	// (max_parallel_requests) turned it away.
	FailureOverflow Failure = "overflow"
	// FailureCancelled: the client went away first.
	FailureCancelled Failure = "cancelled"
	// FailureHedged: the attempt, in a group that hedges, was reset
	// before it answered because another attempt of the request answered
	// first (or the request ended).
	FailureHedged Failure = "hedged"
)

// failureOf reads the response flags; "" when none of them is a failure.
func failureOf(f *accesslogv3.ResponseFlags) Failure {
	switch {
	case f.GetDownstreamConnectionTermination():
		return FailureCancelled
	case f.GetUpstreamRequestTimeout() || f.GetStreamIdleTimeout() || f.GetDurationTimeout():
		return FailureTimeout
	case f.GetUpstreamConnectionFailure() || f.GetUpstreamRemoteReset() || f.GetUpstreamConnectionTermination() ||
		f.GetLocalReset() || f.GetUpstreamProtocolError():
		return FailureConnection
	case f.GetUpstreamOverflow():
		return FailureOverflow
	}
	return ""
}

// Attempt is one upstream attempt as Envoy logged it, for an Observer: the
// Outcome router state counted, and what the Outcome folds away.
type Attempt struct {
	// RequestID is the client request's x-request-id; Start when the
	// attempt began.
	RequestID string
	Start     time.Time
	// Outcome is what Cooldowns and Balance counted; Counted is false (and
	// Outcome zero) when they ignored the attempt: the client left,
	// llmvoy's own circuit breaker, a fallback redirect.
	Outcome Outcome
	Counted bool
	// Deployment is the attempt's deployment id; "" when Envoy logged none.
	Deployment string
	// Code is the status Envoy logged: the deployment's, or Envoy's own
	// local reply when Failure says the deployment gave none. A 3xx is
	// llmvoy's fallback redirect replacing the deployment's answer.
	Code    int
	Failure Failure
	// Cluster is the Envoy cluster of the attempt's model group.
	Cluster string
	// Hedged: the attempt, in a group that hedges, had not begun to
	// answer at the hedge delay, so Envoy raced it with another attempt
	// if the request had a retry left.
	Hedged bool
	// Duration is the attempt from its start to its end.
	Duration time.Duration
}

func attemptOf(e *accesslogv3.HTTPAccessLogEntry, o Outcome, counted, hedging bool) Attempt {
	common := e.GetCommonProperties()
	id := common.GetCustomTags()[plan.DeploymentTag]
	if id == "-" {
		id = ""
	}
	a := Attempt{
		RequestID:  e.GetRequest().GetRequestId(),
		Start:      startOf(common),
		Outcome:    o,
		Counted:    counted,
		Deployment: id,
		Code:       int(e.GetResponse().GetResponseCode().GetValue()),
		Failure:    failureOf(common.GetResponseFlags()),
		Cluster:    common.GetUpstreamCluster(),
		Duration:   common.GetDuration().AsDuration(),
	}
	if hedging {
		a.Hedged = common.GetResponseFlags().GetUpstreamRequestTimeout()
		switch {
		case lostRace(e):
			a.Failure = FailureHedged
		case a.Hedged && answered(e):
			a.Failure = "" // it answered after the delay: not a timeout
		}
	}
	return a
}

// Request is one client request as Envoy logged it on the gateway
// listener. A request that falls back is logged once per model group it
// goes through: every pass but the last is Redirected.
type Request struct {
	// RequestID is the request's x-request-id; Start when Envoy got it.
	RequestID string
	Start     time.Time
	// Path is the endpoint the client called, without its query.
	Path    string
	Code    int
	Failure Failure
	// Cluster is the Envoy cluster of the model group the pass was routed
	// to; "" when llmvoy answered without routing it (probes, /v1/models,
	// a bad key or model, every deployment cooling down, a cache hit).
	Cluster string
	// AnsweredGroup is the model group of a request llmvoy answered itself
	// for a group (a response-cache hit); "" otherwise.
	AnsweredGroup string
	// Deployment is the deployment of the pass's last attempt; "" when it
	// made none.
	Deployment string
	// Attempts is how many attempts Envoy made in this pass.
	Attempts int
	// Redirected: the pass ended in a fallback to the next group.
	Redirected bool
	// Stream: the answer is an event stream.
	Stream bool
	// Duration runs from the request's first byte to the answer's last;
	// FirstByte to the answer's first (for a stream, its first token), 0
	// when none was sent. Both count from the start of the first pass.
	Duration, FirstByte time.Duration
}

func requestOf(e *accesslogv3.HTTPAccessLogEntry) Request {
	common := e.GetCommonProperties()
	// The upstream processor rewrites :path for the deployment on the
	// router's headers, which the log sees; it keeps the client's path
	// aside, and the log tags it.
	path := common.GetCustomTags()[plan.ClientPathTag]
	if path == "" || path == "-" {
		path = e.GetRequest().GetPath()
	}
	path, _, _ = strings.Cut(path, "?")
	id := common.GetCustomTags()[plan.DeploymentTag]
	if id == "-" {
		id = ""
	}
	answered := common.GetCustomTags()[plan.AnsweredGroupTag]
	if answered == "-" {
		answered = ""
	}
	resp := e.GetResponse()
	if id == "" {
		// Through the fallback hop, the host Envoy logs is the hop's; the
		// hop named the deployment in the answer.
		id = resp.GetResponseHeaders()[plan.ModelIDHeader]
	}
	return Request{
		RequestID:     e.GetRequest().GetRequestId(),
		Start:         startOf(common),
		Path:          path,
		Code:          int(resp.GetResponseCode().GetValue()),
		Failure:       failureOf(common.GetResponseFlags()),
		Cluster:       common.GetUpstreamCluster(),
		AnsweredGroup: answered,
		Deployment:    id,
		Attempts:      int(common.GetUpstreamRequestAttemptCount()),
		Redirected:    resp.GetResponseCodeDetails() == "internal_redirect",
		Stream:        strings.HasPrefix(resp.GetResponseHeaders()["content-type"], "text/event-stream"),
		Duration:      common.GetDuration().AsDuration(),
		FirstByte:     common.GetTimeToFirstDownstreamTxByte().AsDuration(),
	}
}

// startOf is when Envoy got the request; zero when the entry does not say.
func startOf(common *accesslogv3.AccessLogCommon) time.Time {
	if t := common.GetStartTime(); t != nil {
		return t.AsTime()
	}
	return time.Time{}
}

// outcomeOf reads one attempt. Attempts the client abandoned say nothing
// about the deployment; neither do redirects, which are llmvoy's own
// fallbacks (the upstream processor records the failure behind them).
//
// In a group that hedges, Envoy's per-try timeout is the hedge delay: an
// attempt past it goes on, and its answer is the deployment's; an attempt
// reset before it answered lost the race (see lostRace) and says nothing
// about the deployment either.
func outcomeOf(e *accesslogv3.HTTPAccessLogEntry, hedging bool) (Outcome, bool) {
	common := e.GetCommonProperties()
	id := common.GetCustomTags()[plan.DeploymentTag]
	flags := common.GetResponseFlags()
	code := int(e.GetResponse().GetResponseCode().GetValue())
	switch {
	case id == "" || id == "-":
		return Outcome{}, false
	case flags.GetDownstreamConnectionTermination():
		return Outcome{}, false
	case flags.GetUpstreamOverflow():
		// llmvoy's own circuit breaker, not the deployment.
		return Outcome{}, false
	case code >= 300 && code < 400:
		return Outcome{}, false
	case hedging && lostRace(e):
		return Outcome{}, false
	}
	if flags.GetUpstreamConnectionFailure() || flags.GetUpstreamRemoteReset() ||
		flags.GetUpstreamConnectionTermination() || (flags.GetUpstreamRequestTimeout() && !(hedging && answered(e))) {
		// Whatever code Envoy logged is its own local reply.
		code = 0
	}
	o := Outcome{Deployment: id, Status: code, Latency: common.GetTimeToFirstUpstreamRxByte().AsDuration()}
	if v := e.GetResponse().GetResponseHeaders()["retry-after"]; v != "" {
		o.RetryAfter = ParseRetryAfter(v)
	}
	return o, true
}

// ParseRetryAfter reads a Retry-After header in seconds (the HTTP-date form
// is not used by LLM providers); 0 when absent or malformed.
func ParseRetryAfter(v string) time.Duration {
	s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || s <= 0 || s > maxRetryAfterCooldown.Seconds() {
		if err == nil && s > 0 {
			return maxRetryAfterCooldown
		}
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
