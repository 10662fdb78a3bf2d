package tmpfs

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory, unmounted when the test
// ends, and returns the directory. It skips the test, saying so, only when mounting is
// not permitted here (not root, or a container without CAP_SYS_ADMIN); every other
// failure fails the test.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d", size))
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skipf("mounting a tmpfs is not permitted here (%v); the errorfs fault tests cover the same paths", err)
	}
	if err != nil {
		t.Fatalf("tmpfs: mount on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("tmpfs: unmount %s: %v", dir, err)
		}
	})
	return dir
}
