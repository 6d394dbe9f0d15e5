//go:build unix

package controlsock

import (
	"io/fs"
	"syscall"
)

// fileOwner is the uid owning a file, when the platform says.
func fileOwner(st fs.FileInfo) (int, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(s.Uid), true
}
