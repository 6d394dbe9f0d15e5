package router

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// logStream plays one of Envoy's access log streams: its messages, then EOF.
type logStream struct {
	grpc.ServerStream
	msgs []*alsv3.StreamAccessLogsMessage
}

func (s *logStream) Recv() (*alsv3.StreamAccessLogsMessage, error) {
	if len(s.msgs) == 0 {
		return nil, io.EOF
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

func (s *logStream) SendAndClose(*alsv3.StreamAccessLogsResponse) error { return nil }

// stream is a log's stream: the first message names the log, as Envoy's do.
func stream(logName string, batches ...[]*accesslogv3.HTTPAccessLogEntry) *logStream {
	s := &logStream{}
	for i, b := range batches {
		m := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
			HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: b},
		}}
		if i == 0 {
			m.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "llmvoy"}, LogName: logName}
		}
		s.msgs = append(s.msgs, m)
	}
	return s
}

type recorder struct {
	mu       sync.Mutex
	attempts []Attempt
	requests []Request
}

func (r *recorder) ObserveAttempt(a Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}
func (r *recorder) ObserveRequest(q Request) {
	r.mu.Lock()
	r.requests = append(r.requests, q)
	r.mu.Unlock()
}

func logEntry(deployment string, code uint32, flags *accesslogv3.ResponseFlags) *accesslogv3.HTTPAccessLogEntry {
	return &accesslogv3.HTTPAccessLogEntry{
		CommonProperties: &accesslogv3.AccessLogCommon{
			CustomTags:      map[string]string{plan.DeploymentTag: deployment},
			ResponseFlags:   flags,
			UpstreamCluster: plan.ClusterName("gpt"),
			Duration:        durationpb.New(120 * time.Millisecond),
		},
		Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(code)},
	}
}

func TestAccessLogTellsAttemptsFromRequests(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute})
	c, b, obs := NewCooldowns(cfg), NewBalance(cfg), &recorder{}
	al := NewAccessLog(c, b, obs)

	// A client request that failed on deployment a: on the downstream log
	// it must not count toward a's cooldown, however many entries come.
	req := logEntry("a", 504, &accesslogv3.ResponseFlags{UpstreamRequestTimeout: true})
	req.CommonProperties.UpstreamRequestAttemptCount = 3
	req.CommonProperties.CustomTags[plan.ClientPathTag] = "/v1/chat/completions?x=1"
	req.CommonProperties.TimeToFirstDownstreamTxByte = durationpb.New(80 * time.Millisecond)
	req.Request = &accesslogv3.HTTPRequestProperties{Path: "/openai/deployments/x/chat/completions?api-version=1"}
	req.Response.ResponseHeaders = map[string]string{"content-type": "text/event-stream; charset=utf-8"}
	redirected := logEntry("a", 307, nil)
	redirected.Response.ResponseCodeDetails = "internal_redirect"
	require.NoError(t, al.StreamAccessLogs(stream(plan.DownstreamLogName, []*accesslogv3.HTTPAccessLogEntry{req}, []*accesslogv3.HTTPAccessLogEntry{req, redirected})))
	require.Empty(t, c.Active())
	require.Len(t, obs.requests, 3)
	require.Empty(t, obs.attempts)
	require.Equal(t, Request{Path: "/v1/chat/completions", Code: 504, Failure: FailureTimeout, Cluster: plan.ClusterName("gpt"), Deployment: "a",
		Attempts: 3, Stream: true, Duration: 120 * time.Millisecond, FirstByte: 80 * time.Millisecond}, obs.requests[0])
	require.True(t, obs.requests[2].Redirected)

	// The same failure on the upstream log is an attempt: a cools down.
	fail := logEntry("a", 503, &accesslogv3.ResponseFlags{UpstreamConnectionFailure: true})
	gone := logEntry("b", 0, &accesslogv3.ResponseFlags{DownstreamConnectionTermination: true})
	require.NoError(t, al.StreamAccessLogs(stream("llmvoy_upstream", []*accesslogv3.HTTPAccessLogEntry{fail, gone})))
	require.Contains(t, c.Active(), "a")
	require.Equal(t, []Attempt{
		{Outcome: Outcome{Deployment: "a"}, Counted: true, Deployment: "a", Code: 503, Failure: FailureConnection, Cluster: plan.ClusterName("gpt"), Duration: 120 * time.Millisecond},
		{Deployment: "b", Failure: FailureCancelled, Cluster: plan.ClusterName("gpt"), Duration: 120 * time.Millisecond},
	}, obs.attempts, "the observer sees what router state ignored too")

	// No observer: nothing to tell.
	require.NoError(t, NewAccessLog(c, b, nil).StreamAccessLogs(stream(plan.DownstreamLogName, []*accesslogv3.HTTPAccessLogEntry{req})))
}

// Through the fallback hop, the gateway listener logs one attempt (the
// hop's, to the group's hop cluster) and the hop's router the real ones:
// only those count. The request's deployment comes from the answer's
// header, the hop's endpoint having none.
func TestAccessLogThroughTheFallbackHop(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute})
	c, b, obs := NewCooldowns(cfg), NewBalance(cfg), &recorder{}
	al := NewAccessLog(c, b, obs)

	hop := logEntry("", 502, nil)
	hop.CommonProperties.UpstreamCluster = plan.HopClusterName("gpt")
	real := logEntry("a", 200, nil)
	require.NoError(t, al.StreamAccessLogs(stream(plan.UpstreamLogName, []*accesslogv3.HTTPAccessLogEntry{hop, real})))
	require.Len(t, obs.attempts, 1)
	require.Equal(t, "a", obs.attempts[0].Deployment)

	req := logEntry("", 200, nil)
	req.CommonProperties.UpstreamCluster = plan.HopClusterName("gpt")
	req.Response.ResponseHeaders = map[string]string{plan.ModelIDHeader: "a"}
	require.NoError(t, al.StreamAccessLogs(stream(plan.DownstreamLogName, []*accesslogv3.HTTPAccessLogEntry{req})))
	require.Equal(t, "a", obs.requests[0].Deployment)
	require.Equal(t, plan.HopClusterName("gpt"), obs.requests[0].Cluster)
}

func TestFailureOfFlags(t *testing.T) {
	for want, flags := range map[Failure]*accesslogv3.ResponseFlags{
		"":                nil,
		FailureTimeout:    {UpstreamRequestTimeout: true},
		FailureConnection: {UpstreamRemoteReset: true},
		FailureOverflow:   {UpstreamOverflow: true},
		// The client left: whatever else went wrong.
		FailureCancelled: {DownstreamConnectionTermination: true, UpstreamRequestTimeout: true},
	} {
		require.Equal(t, want, failureOf(flags), "%v", flags)
	}
}

// panicky is an observer with a bug on one request id.
type panicky struct{ recorder }

func (p *panicky) ObserveRequest(q Request) {
	if q.RequestID == "bad" {
		panic("observer bug")
	}
	p.recorder.ObserveRequest(q)
}

// A panic on one entry loses that entry only: the stream goes on with the
// next entries and ends normally, and the panic is logged with the
// entry's request id.
func TestAccessLogSurvivesAPanic(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{CooldownTime: time.Minute})
	obs := &panicky{}
	al := NewAccessLog(NewCooldowns(cfg), NewBalance(cfg), obs)
	var logs strings.Builder
	al.SetLog(slog.New(slog.NewTextHandler(&logs, nil)))
	entry := func(id string) *accesslogv3.HTTPAccessLogEntry {
		e := logEntry("a", 200, nil)
		e.Request = &accesslogv3.HTTPRequestProperties{RequestId: id}
		return e
	}
	require.NoError(t, al.StreamAccessLogs(stream(plan.DownstreamLogName,
		[]*accesslogv3.HTTPAccessLogEntry{entry("one"), entry("bad"), entry("two")}, []*accesslogv3.HTTPAccessLogEntry{entry("three")})))
	var ids []string
	for _, r := range obs.requests {
		ids = append(ids, r.RequestID)
	}
	require.Equal(t, []string{"one", "two", "three"}, ids)
	require.Contains(t, logs.String(), "request_id=bad")
	require.Contains(t, logs.String(), "observer bug")
	require.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"))
}
