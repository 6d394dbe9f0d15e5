package envoy

import "syscall"

// sysProcAttr puts Envoy in its own process group, so a Ctrl-C in a terminal
// reaches llmvoy (which drains Envoy) rather than killing Envoy mid-request,
// and has the kernel send Envoy SIGTERM if llmvoy dies without stopping it.
// Pdeathsig follows the OS thread that started Envoy; the Go runtime only
// retires threads of goroutines that exit while locked to their thread, which
// llmvoy does not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
