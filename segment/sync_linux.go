package segment

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stratalog/strata/internal/vfs"
)

func fdatasync(f vfs.OSFile) error {
	rc, err := f.OSFile().SyscallConn()
	if err != nil {
		return f.OSFile().Sync()
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// dropPages advises the kernel that the pages of [off, off+n) of f are not needed
// (POSIX_FADV_DONTNEED): clean pages leave the page cache.
func dropPages(f vfs.OSFile, off, n int64) {
	if rc, err := f.OSFile().SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED) })
	}
}
