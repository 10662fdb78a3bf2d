package segment

import (
	"syscall"

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

// startWriteback starts the writeback of f's dirty pages without waiting
// (sync_file_range(SYNC_FILE_RANGE_WRITE)). A hint: errors are left to the fdatasync that
// follows.
func startWriteback(f vfs.OSFile) {
	rc, err := f.OSFile().SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
		_ = syscall.SyncFileRange(int(fd), 0, 0, syncFileRangeWrite)
	})
}
