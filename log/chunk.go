package log

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync/atomic"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

var errNotExist = fs.ErrNotExist

// Chunk is a region of a segment file holding whole batches, returned by Read without
// copying. It holds a reference on the segment and one on its open log file
// (segment.Handle): the file stays open (and, if the segment is deleted meanwhile,
// present) until Release, even if the segment cache closes the segment's files. A nil or empty Chunk is valid. A Chunk may
// be read from several goroutines but released once (later calls are no-ops). A chunk
// may instead hold its bytes in memory (a batch repaired on read, see Log.Read).
type Chunk struct {
	seg      *segment.Segment
	h        segment.Handle
	pos      int64
	n        int
	mem      []byte // the chunk's bytes when it has no segment
	next     int64  // the offset after the chunk's last batch
	released atomic.Bool
}

// Next is the offset after the chunk's last batch (0 for an empty chunk).
func (c *Chunk) Next() int64 {
	if c.Len() == 0 {
		return 0
	}
	return c.next
}

// Len is the size of the chunk in bytes.
func (c *Chunk) Len() int {
	if c == nil {
		return 0
	}
	if c.seg == nil {
		return len(c.mem)
	}
	return c.n
}

// ReadAt reads len(p) bytes at off within the chunk (io.ReaderAt).
func (c *Chunk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("log: chunk: negative offset")
	}
	if off >= int64(c.Len()) {
		return 0, io.EOF
	}
	if c.released.Load() {
		return 0, errors.New("log: chunk used after Release")
	}
	if c.seg == nil {
		n := copy(p, c.mem[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	want := min(int64(len(p)), int64(c.n)-off)
	n, err := c.h.File().ReadAt(p[:want], c.pos+off)
	if err == nil && int64(n) < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// Bytes copies the chunk out.
func (c *Chunk) Bytes() ([]byte, error) {
	if c.Len() == 0 {
		return nil, nil
	}
	b := make([]byte, c.Len())
	if _, err := c.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("log: read chunk: %w", err)
	}
	return b, nil
}

// WriteTo writes the chunk to w. When the segment file is an OS file (vfs.OSFile) and w
// exposes a socket (syscall.Conn: *net.TCPConn, *net.UnixConn) it uses sendfile(2) with an
// explicit offset (no copy through user space, safe for concurrent chunks of one file);
// otherwise it copies through a buffer.
func (c *Chunk) WriteTo(w io.Writer) (int64, error) {
	if c.Len() == 0 {
		return 0, nil
	}
	if c.released.Load() {
		return 0, errors.New("log: chunk used after Release")
	}
	if c.seg == nil {
		n, err := w.Write(c.mem)
		return int64(n), err
	}
	if osf, ok := c.h.File().(vfs.OSFile); ok {
		if n, handled, err := sendfile(w, osf, c.pos, int64(c.n)); handled {
			return n, err
		}
	}
	return io.Copy(w, io.NewSectionReader(c, 0, int64(c.n)))
}

// File returns the segment file and the chunk's position in it, for senders that do their
// own I/O. They are valid until Release. A chunk held in memory has no file (nil).
func (c *Chunk) File() (vfs.File, int64) {
	if c == nil || c.seg == nil {
		return nil, 0
	}
	return c.h.File(), c.pos
}

// Release drops the chunk's reference on the segment. Idempotent.
func (c *Chunk) Release() {
	if c == nil || c.seg == nil {
		return
	}
	if c.released.CompareAndSwap(false, true) {
		c.h.Release()
		c.seg.Release()
	}
}
