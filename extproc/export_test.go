package extproc

import extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

// BeforePhase makes f see each message before its processor does; a test
// makes a phase panic with it. Call it before serving.
func (s *Server) BeforePhase(f func(*extprocv3.ProcessingRequest)) { s.beforePhase = f }
