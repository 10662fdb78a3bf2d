//go:build !linux

package pagecache

import "testing"

// Resident skips the test: mincore is used on Linux only.
func Resident(t testing.TB, path string) (resident, pages int) {
	t.Skip("pagecache: page-cache residency is checked on Linux only")
	return 0, 0
}
