package xds

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/stretchr/testify/require"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
)

func TestNACKIsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	s.nackPause = 0
	ack := &discoverygrpc.DiscoveryRequest{TypeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener"}
	nack := &discoverygrpc.DiscoveryRequest{TypeUrl: ack.TypeUrl, ErrorDetail: &statuspb.Status{Message: "InternalListener bootstrap extension is mandatory"}}

	require.NoError(t, s.onRequest(1, ack))
	require.Empty(t, logs.String())
	for range 3 {
		require.NoError(t, s.onRequest(1, nack))
	}
	require.Equal(t, 1, strings.Count(logs.String(), "envoy rejected the configuration"))
	require.Contains(t, logs.String(), "InternalListener bootstrap extension is mandatory")
}

func TestSetRefusesInvalidResources(t *testing.T) {
	s := NewServer(context.Background(), slog.New(slog.DiscardHandler))
	cfg := loadGoldenConfig(t, "testdata/in/basic.yaml")
	res, err := Translate(cfg, State{Addrs: goldenAddrs(cfg)}, goldenOptions)
	require.NoError(t, err)
	require.NoError(t, s.Set(context.Background(), res))

	// A route naming a cluster that is not in the snapshot is inconsistent.
	res.Clusters = res.Clusters[:1]
	res.Endpoints = res.Endpoints[:1]
	require.ErrorContains(t, s.Set(context.Background(), res), "inconsistent")
}
