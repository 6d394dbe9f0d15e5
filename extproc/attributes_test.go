package extproc

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/plan"
)

func metadataText(t *testing.T, id string) string {
	t.Helper()
	b, err := prototext.Marshal(&corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		plan.MetadataNamespace: {Fields: map[string]*structpb.Value{plan.MetadataDeploymentID: structpb.NewStringValue(id)}},
	}})
	require.NoError(t, err)
	return string(b)
}

func TestIDCacheParsesOnceAndStaysBounded(t *testing.T) {
	c := &idCache{ids: make(map[string]string)}
	text := metadataText(t, "dep-a")
	for range 3 {
		id, err := c.lookup(text)
		require.NoError(t, err)
		require.Equal(t, "dep-a", id)
	}
	require.Len(t, c.ids, 1)
	_, err := c.lookup("not text format {")
	require.Error(t, err)
	_, err = c.lookup(metadataText(t, ""))
	require.ErrorContains(t, err, "no llmvoy.deployment_id")
	require.Len(t, c.ids, 1, "failures are not cached")

	for i := range maxCachedHosts + 10 {
		_, err := c.lookup(metadataText(t, "dep-"+string(rune('a'+i%26))+string(rune(i))))
		require.NoError(t, err)
	}
	require.LessOrEqual(t, len(c.ids), maxCachedHosts)
}
