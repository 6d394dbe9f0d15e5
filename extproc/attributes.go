package extproc

import (
	"fmt"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/plan"
)

// attributes are the Envoy attributes sent with a phase, keyed by filter name.
type attributes map[string]*structpb.Struct

// deploymentID reads which deployment Envoy picked for this attempt from the
// upstream host's metadata. Envoy sends a message-typed attribute as the
// message in protobuf text format.
func (a attributes) deploymentID() (string, error) {
	for _, s := range a {
		v, ok := s.GetFields()[plan.AttrUpstreamHostMetadata]
		if !ok {
			continue
		}
		return hostIDs.lookup(v.GetStringValue())
	}
	return "", fmt.Errorf("envoy sent no %s attribute", plan.AttrUpstreamHostMetadata)
}

// hostIDs caches the deployment id parsed from each metadata text: the text
// is the same for every attempt on a deployment, and parsing it was 5% of
// llmvoy's CPU per request.
var hostIDs = &idCache{ids: make(map[string]string)}

// maxCachedHosts bounds the cache; it is emptied when full (a config with
// more deployments only parses more often).
const maxCachedHosts = 4096

type idCache struct {
	mu  sync.RWMutex
	ids map[string]string
}

func (c *idCache) lookup(text string) (string, error) {
	c.mu.RLock()
	id, ok := c.ids[text]
	c.mu.RUnlock()
	if ok {
		return id, nil
	}
	var md corev3.Metadata
	if err := prototext.Unmarshal([]byte(text), &md); err != nil {
		return "", fmt.Errorf("parse upstream host metadata: %w", err)
	}
	id = md.GetFilterMetadata()[plan.MetadataNamespace].GetFields()[plan.MetadataDeploymentID].GetStringValue()
	if id == "" {
		return "", fmt.Errorf("upstream host has no %s.%s metadata", plan.MetadataNamespace, plan.MetadataDeploymentID)
	}
	c.mu.Lock()
	if len(c.ids) >= maxCachedHosts {
		clear(c.ids)
	}
	c.ids[text] = id
	c.mu.Unlock()
	return id, nil
}
