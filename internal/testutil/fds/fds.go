package fds

import (
	"os"
	"runtime"
)

// Count returns the number of open file descriptors of this process, from /proc/self/fd
// (Linux); ok is false where that is not available.
func Count() (n int, ok bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(ents), true
}
