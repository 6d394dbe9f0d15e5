package extproc

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/xds"
)

// attributes are the Envoy attributes sent with a phase, keyed by filter name.
type attributes map[string]*structpb.Struct

// deploymentID reads which deployment Envoy picked for this attempt from the
// upstream host's metadata. Envoy sends a message-typed attribute as the
// message in protobuf text format.
func (a attributes) deploymentID() (string, error) {
	for _, s := range a {
		v, ok := s.GetFields()[xds.AttrUpstreamHostMetadata]
		if !ok {
			continue
		}
		var md corev3.Metadata
		if err := prototext.Unmarshal([]byte(v.GetStringValue()), &md); err != nil {
			return "", fmt.Errorf("parse upstream host metadata: %w", err)
		}
		id := md.GetFilterMetadata()[xds.MetadataNamespace].GetFields()[xds.MetadataDeploymentID].GetStringValue()
		if id == "" {
			return "", fmt.Errorf("upstream host has no %s.%s metadata", xds.MetadataNamespace, xds.MetadataDeploymentID)
		}
		return id, nil
	}
	return "", fmt.Errorf("envoy sent no %s attribute", xds.AttrUpstreamHostMetadata)
}
