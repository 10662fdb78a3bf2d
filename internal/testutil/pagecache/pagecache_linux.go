package pagecache

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resident returns how many of the pages of the file at path are in the page cache, and
// how many pages it has. It skips the test, saying so, when the file lies on a tmpfs,
// whose pages are the file and never leave the cache; any other failure fails the test.
func Resident(t testing.TB, path string) (resident, pages int) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatalf("pagecache: statfs %s: %v", path, err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skipf("pagecache: %s is on a tmpfs, whose pages stay cached; run with TMPDIR on a disk", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("pagecache: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatalf("pagecache: %v", err)
	}
	if fi.Size() == 0 {
		return 0, 0
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("pagecache: mmap %s: %v", path, err)
	}
	defer unix.Munmap(m)
	ps := os.Getpagesize()
	vec := make([]byte, (len(m)+ps-1)/ps)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("pagecache: mincore %s: %v", path, errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec)
}
