//go:build unix

package server

import "golang.org/x/sys/unix"

// diskUsage reports the total and available bytes of the file system holding dir, -1 each
// when unknown.
func diskUsage(dir string) (total, usable int64) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}
