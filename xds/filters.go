package xds

import (
	"fmt"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

type accessLogFilter = accesslogv3.AccessLogFilter

func statusFilter(code uint32) *accessLogFilter {
	return &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_EQ, Value: runtimeUInt(code)},
	}}}
}

func statusAtLeast(code uint32) *accessLogFilter {
	return &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_GE, Value: runtimeUInt(code)},
	}}}
}

func flagFilter(flags ...string) *accessLogFilter {
	return &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: flags}}}
}

func byteSize(n uint32) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// runtimeUInt is a constant: the runtime key (required by the API) names no
// layer llmvoy configures.
func runtimeUInt(v uint32) *corev3.RuntimeUInt32 {
	return &corev3.RuntimeUInt32{DefaultValue: v, RuntimeKey: fmt.Sprintf("llmvoy.local_reply.status_%d", v)}
}
