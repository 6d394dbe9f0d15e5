package router

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/xds"
)

// AccessLog receives Envoy's upstream access log (one entry per attempt,
// streamed off the request path) and feeds the outcomes to Cooldowns and
// Balance.
type AccessLog struct {
	alsv3.UnimplementedAccessLogServiceServer
	cooldowns *Cooldowns
	balance   *Balance
}

// NewAccessLog returns the access log service recording into c and b.
func NewAccessLog(c *Cooldowns, b *Balance) *AccessLog { return &AccessLog{cooldowns: c, balance: b} }

// Register adds the service to g.
func (a *AccessLog) Register(g *grpc.Server) { alsv3.RegisterAccessLogServiceServer(g, a) }

// StreamAccessLogs consumes one Envoy worker's stream of log batches.
func (a *AccessLog) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		for _, e := range msg.GetHttpLogs().GetLogEntry() {
			if o, ok := outcomeOf(e); ok {
				a.cooldowns.Record(o)
				a.balance.Record(o)
			}
		}
	}
}

// outcomeOf reads one attempt. Attempts the client abandoned say nothing
// about the deployment; neither do redirects, which are llmvoy's own
// fallbacks (the upstream processor records the failure behind them).
func outcomeOf(e *accesslogv3.HTTPAccessLogEntry) (Outcome, bool) {
	common := e.GetCommonProperties()
	id := common.GetCustomTags()[xds.DeploymentTag]
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
	}
	if flags.GetUpstreamConnectionFailure() || flags.GetUpstreamRemoteReset() ||
		flags.GetUpstreamConnectionTermination() || flags.GetUpstreamRequestTimeout() {
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
