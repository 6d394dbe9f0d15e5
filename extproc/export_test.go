package extproc

import (
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/credentials"
)

// BeforePhase makes f see each message before its processor does; a test
// makes a phase panic with it. Call it before serving.
func (s *Server) BeforePhase(f func(*extprocv3.ProcessingRequest)) { s.beforePhase = f }

// Routed records what the gateway processor decides for a request, for
// tests that play the upstream processor alone.
func (s *Server) Routed(requestID, clientPath, keyToken, bodyModel string) {
	s.requests.put(requestID, routed{clientPath: clientPath, keyToken: keyToken, bodyModel: bodyModel})
}

// SetHeldBodyLimit sets how many request body bytes the gateway streams may
// hold at once; call it before serving.
func (s *Server) SetHeldBodyLimit(n int64) { s.bodies.limit = n }

// SetGoogleTokens replaces the Vertex AI token cache; call it before
// serving.
func (s *Server) SetGoogleTokens(t *credentials.GoogleTokens) { s.googleTokens = t }
