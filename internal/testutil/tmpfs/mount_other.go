//go:build !linux

package tmpfs

import "testing"

// Mount skips the test: tmpfs mounts are a Linux facility.
func Mount(t testing.TB, size int64) string {
	t.Skip("tmpfs mounts need Linux; the errorfs fault tests cover the same paths")
	return ""
}
