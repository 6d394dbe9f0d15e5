package extproc

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/plan"
)

// maxRequestRetries bounds a request's own num_retries: each retry is
// another call to a deployment, and a client's number must not buy it an
// unbounded share of them. LiteLLM sets no bound.
const maxRequestRetries = 10

// maxRequestTimeout bounds a request's own attempt timeout.
const maxRequestTimeout = 24 * time.Hour

// maxRetriesHeader is Envoy's per-request retry count, read by its router
// after this filter (the connection manager removed any a client sent).
const maxRetriesHeader = "x-envoy-max-retries"

// limitHeaders are LiteLLM's per-request headers for retries and timeouts.
type limitHeaders struct {
	retries, timeout, streamTimeout string
}

func limitHeadersOf(h *extprocv3.HttpHeaders) limitHeaders {
	return limitHeaders{
		retries:       headerValue(h, "x-litellm-num-retries"),
		timeout:       headerValue(h, "x-litellm-timeout"),
		streamTimeout: headerValue(h, "x-litellm-stream-timeout"),
	}
}

// requestLimits are a request's own retries and per-attempt timeout, as
// LiteLLM takes them per request: num_retries, timeout and stream_timeout
// in the body (read before they are stripped), else the x-litellm-*
// headers. retries is -1 when the request sets none.
type requestLimits struct {
	retries int
	timeout time.Duration
}

func readRequestLimits(fields []jsonscan.Field, h limitHeaders, stream bool) (requestLimits, *apiError) {
	l := requestLimits{retries: -1}
	n, err := limitValue(fields, "num_retries", h.retries)
	if err != nil {
		return l, err
	}
	if n != nil {
		if *n < 0 || *n != math.Trunc(*n) {
			return l, &apiError{Status: 400, Type: "invalid_request_error", Param: "num_retries",
				Message: fmt.Sprintf("num_retries must be a whole number >= 0, got %v", *n)}
		}
		l.retries = int(min(*n, maxRequestRetries))
	}
	timeouts := []struct{ key, header string }{{"timeout", h.timeout}}
	if stream {
		// A stream's stream_timeout goes before its timeout, as the
		// deployment's do.
		timeouts = append([]struct{ key, header string }{{"stream_timeout", h.streamTimeout}}, timeouts...)
	}
	for _, t := range timeouts {
		s, err := limitValue(fields, t.key, t.header)
		if err != nil {
			return l, err
		}
		if s == nil {
			continue
		}
		if *s <= 0 || math.IsInf(*s, 0) {
			return l, &apiError{Status: 400, Type: "invalid_request_error", Param: t.key,
				Message: fmt.Sprintf("%s must be a number of seconds > 0, got %v", t.key, *s)}
		}
		// Past a day the request's own timeout (router_settings.timeout)
		// bounds it anyway; the cap keeps the conversion in range.
		l.timeout = max(time.Duration(min(*s, maxRequestTimeout.Seconds())*float64(time.Second)), time.Millisecond)
		break
	}
	return l, nil
}

// limitValue is a number from the body's key, else from its header; nil
// when neither sets it. LiteLLM's pydantic takes "30" for 30 too.
func limitValue(fields []jsonscan.Field, key, header string) (*float64, *apiError) {
	raw, fromBody := header, false
	if f, ok := jsonscan.Get(fields, key); ok && !jsonscan.IsNull(f.Value) {
		raw, fromBody = string(f.Value), true
		if s, ok := jsonscan.String(f.Value); ok {
			raw = s
		}
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) {
		from := key
		if !fromBody {
			from = "header x-litellm-" + strings.ReplaceAll(key, "_", "-")
		}
		return nil, &apiError{Status: 400, Type: "invalid_request_error", Param: key,
			Message: fmt.Sprintf("%s must be a number, got %s", from, raw)}
	}
	return &v, nil
}

// apply sets the per-request headers of Envoy's router for l on set, the
// gateway's headers for target (its route first): l's retries, and its
// per-attempt timeout in place of the route's (or stream_timeout's). A
// hedging group keeps its hedge delay as the per-attempt timeout. Where
// another listener makes the attempts (the fallback hop's, the relay's),
// they go in llmvoy's headers, which that listener turns into Envoy's.
func (l requestLimits) apply(set []*corev3.HeaderValueOption, target group) []*corev3.HeaderValueOption {
	retries, timeout := maxRetriesHeader, perTryTimeoutHeader
	switch string(set[0].GetHeader().GetRawValue()) {
	case target.hopRoute, target.hopStreamRoute, target.relayRoute:
		retries, timeout = plan.AttemptRetriesHeader, plan.AttemptTimeoutHeader
	}
	if l.retries >= 0 {
		set = append(set, setHeader(retries, strconv.Itoa(l.retries)))
	}
	if l.timeout > 0 && target.HedgeDelay == 0 && !target.HedgeP95 {
		set = append(withoutHeader(set, perTryTimeoutHeader), setHeader(timeout, strconv.FormatInt(l.timeout.Milliseconds(), 10)))
	}
	return set
}

// retriesFor is how many retries Envoy makes in all, and for an error of
// status: the router's, or with the request's own num_retries (own) in
// place of the router's count, for the errors the group retries.
func retriesFor(r *config.RouterSettings, status int, own *int) (all, forStatus int) {
	all, forStatus = r.MaxRetries(), r.RetriesFor(status)
	if own == nil {
		return all, forStatus
	}
	retried := forStatus > 0
	if r.RetryPolicy == nil {
		// The route's conditions: 5xx, resets and refusals, and 429.
		retried = status == 0 || status >= 500 || status == 429
	}
	if !retried {
		return *own, 0
	}
	return *own, *own
}
