//go:build unix && !linux

package envoy

import "syscall"

// sysProcAttr puts Envoy in its own process group, so a Ctrl-C in a terminal
// reaches llmvoy (which drains Envoy) rather than killing Envoy mid-request.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
