//go:build !unix

package envoy

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
