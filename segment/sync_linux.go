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
