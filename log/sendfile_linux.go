package log

import (
	"io"
	"syscall"

	"github.com/stratalog/strata/internal/vfs"
)

// sendfile copies n bytes at pos of f to w with sendfile(2) when w is a socket.
func sendfile(w io.Writer, f vfs.OSFile, pos, n int64) (written int64, handled bool, err error) {
	sc, ok := w.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	src, err := f.OSFile().SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr error
	rerr := src.Control(func(infd uintptr) {
		off := pos
		werr := dst.Write(func(outfd uintptr) bool {
			for written < n {
				m, e := syscall.Sendfile(int(outfd), int(infd), &off, int(min(n-written, 1<<30)))
				if m > 0 {
					written += int64(m)
				}
				switch {
				case e == syscall.EAGAIN:
					return false // wait until writable
				case e == syscall.EINTR:
					continue
				case e != nil:
					serr = e
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if written == 0 && (serr == syscall.EINVAL || serr == syscall.ENOSYS) {
		return 0, false, nil // not supported for this pair: fall back to copying
	}
	if serr == nil {
		serr = rerr
	}
	return written, true, serr
}
