package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
)

// Options configures a Log. The zero value, after EnsureDefaults, is valid.
type Options struct {
	FS                 vfs.FS           // nil: vfs.Default
	Logger             *slog.Logger     // nil: slog.Default()
	Now                func() time.Time // nil: time.Now (injectable clock)
	SegmentBytes       int64            // segment.bytes, default 1 GiB
	SegmentMs          time.Duration    // segment.ms, default 7 days
	SegmentIndexBytes  int              // segment.index.bytes, default 10 MiB
	IndexIntervalBytes int              // index.interval.bytes, default 4096
	RetentionBytes     int64            // retention.bytes, default -1 (unlimited)
	RetentionMs        time.Duration    // retention.ms, default 7 days; negative = unlimited
	FlushMessages      int64            // flush.messages; <= 0 = durable mode
	FlushMs            time.Duration    // flush.ms; used only when FlushMessages > 0
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {}

// Validate reports an invalid option.
func (o *Options) Validate() error { return nil }

// AppendInfo describes a successful Append.
type AppendInfo struct {
	BaseOffset, LastOffset int64
	MaxTimestamp           int64
	Batches                int
	Bytes                  int
}

// Chunk is a region of a segment file holding whole batches, returned by Read.
type Chunk struct {
	f   vfs.File
	pos int64
	n   int
}

// Len is the size of the chunk in bytes.
func (c *Chunk) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// ReadAt reads from the chunk.
func (c *Chunk) ReadAt(p []byte, off int64) (int, error) { return 0, errNotImplemented }

// Bytes copies the chunk out.
func (c *Chunk) Bytes() ([]byte, error) { return nil, errNotImplemented }

// WriteTo writes the chunk to w.
func (c *Chunk) WriteTo(w io.Writer) (int64, error) { return 0, errNotImplemented }

// File returns the file and position of the chunk.
func (c *Chunk) File() (vfs.File, int64) { return c.f, c.pos }

// Release drops the chunk's reference.
func (c *Chunk) Release() {}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset, NextOffset int64
	Size                   int64
	Active                 bool
	MaxTimestamp           int64
}

var errNotImplemented = errors.New("log: not implemented")

var (
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	ErrClosed           = errors.New("log: closed")
	ErrCorrupt          = fmt.Errorf("log: %w", batch.ErrCorrupt)
	ErrInvalidBatch     = fmt.Errorf("log: %w", batch.ErrInvalid)
	ErrRecordTooLarge   = errors.New("log: batch larger than segment")
)

// Log is the ordered segments of one partition.
type Log struct{}

func Open(dir string, opts *Options) (*Log, error) { return nil, errNotImplemented }

func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	return AppendInfo{}, errNotImplemented
}
func (l *Log) WaitDurable(end int64) error  { return errNotImplemented }
func (l *Log) DurableEnd() int64            { return 0 }
func (l *Log) OnDurable(fn func(end int64)) {}
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (*Chunk, error) {
	return nil, errNotImplemented
}
func (l *Log) ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	return nil, errNotImplemented
}
func (l *Log) Scan(from int64, fn func(h batch.Header, b []byte) error) error {
	return errNotImplemented
}
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	return 0, 0, false, errNotImplemented
}
func (l *Log) MaxTimestamp() (ts int64, offset int64)     { return -1, -1 }
func (l *Log) StartOffset() int64                         { return 0 }
func (l *Log) EndOffset() int64                           { return 0 }
func (l *Log) Size() int64                                { return 0 }
func (l *Log) Segments() []SegmentInfo                    { return nil }
func (l *Log) SetStartOffset(off int64) error             { return errNotImplemented }
func (l *Log) EnforceRetention() (deleted int, err error) { return 0, errNotImplemented }
func (l *Log) Truncate(off int64) error                   { return errNotImplemented }
func (l *Log) Reconfigure(opts Options) error             { return errNotImplemented }
func (l *Log) Flush() error                               { return errNotImplemented }
func (l *Log) Close() error                               { return errNotImplemented }
func (l *Log) Delete() error                              { return errNotImplemented }
func (l *Log) Check() error                               { return errNotImplemented }
