package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// File names in the partition directory.
const (
	CleanMarker        = ".clean"
	LockFile           = ".lock"
	RecoveryPointFile  = "recovery-point-offset"
	LogStartOffsetFile = "log-start-offset"
	checkpointVersion  = 0
)

var (
	// ErrOffsetOutOfRange: an offset below StartOffset or above EndOffset (Read, Truncate,
	// SetStartOffset).
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("log: closed")
	// ErrCorrupt marks corrupt batch bytes, produced or on disk. It wraps batch.ErrCorrupt,
	// so errors.Is(err, batch.ErrCorrupt) holds too.
	ErrCorrupt = fmt.Errorf("log: corrupt record batch: %w", batch.ErrCorrupt)
	// ErrInvalidBatch marks a well-formed batch that is refused (unsupported magic, bad
	// counts, empty append). It wraps batch.ErrInvalid.
	ErrInvalidBatch = fmt.Errorf("log: invalid record batch: %w", batch.ErrInvalid)
	// ErrUnexpectedOffset: AppendAt batches whose offsets do not follow the log (below
	// EndOffset, or not increasing).
	ErrUnexpectedOffset = errors.New("log: batch offsets do not follow the log end")
	// ErrRecordTooLarge: a batch larger than segment.bytes.
	ErrRecordTooLarge = errors.New("log: record batch larger than segment.bytes")
	// ErrTruncated is returned by WaitDurable when the log was truncated below the awaited
	// end while waiting: those offsets now name other (or no) records.
	ErrTruncated = errors.New("log: truncated while waiting for durability")
	// ErrStorage marks a failed operation of the log's storage on the write path (a write,
	// fsync, truncation, roll or checkpoint failing with ENOSPC, EIO, …): Kafka's
	// KAFKA_STORAGE_ERROR. Every such error the log returns wraps it and the file
	// system's error. See Repair for how the log recovers.
	ErrStorage = errors.New("log: storage error")
	// ErrBroken is returned while the log refuses appends after a write or sync error it
	// has not repaired yet (see Repair); it wraps ErrStorage and the original error.
	ErrBroken = fmt.Errorf("log: refused after an earlier write or sync error: %w", ErrStorage)
)

// storageErr wraps a write-path error with ErrStorage (once).
func storageErr(err error) error {
	if err == nil || errors.Is(err, ErrStorage) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStorage, err)
}

// BatchError reports the batch of an Append that failed validation. It unwraps to ErrCorrupt
// or ErrInvalidBatch and to the batch package's error.
type BatchError struct {
	Index int   // index of the batch in the append
	Pos   int   // byte position of the batch in the append
	Err   error // from package batch
	kind  error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("log: batch %d at byte %d: %v", e.Index, e.Pos, e.Err)
}

// Unwrap returns the log sentinel and the batch error.
func (e *BatchError) Unwrap() []error { return []error{e.kind, e.Err} }

// AppendInfo describes a successful Append.
type AppendInfo struct {
	BaseOffset, LastOffset int64 // first and last offset assigned
	MaxTimestamp           int64 // max of the batches' MaxTimestamp
	Batches                int
	Bytes                  int
	// Rolled reports that the append rolled a new active segment (at the log end before
	// it): the partition snapshots its producer state then.
	Rolled bool
}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset, NextOffset int64
	Size                   int64
	Active                 bool
	MaxTimestamp           int64
	// Created is when the segment was created (rolled) or, for one reopened, opened.
	Created time.Time
}

// Log is the ordered segments of one partition directory. See the package documentation
// for the concurrency contract.
type Log struct {
	dir    string
	fs     vfs.FS
	logger *slog.Logger
	now    func() time.Time
	lock   io.Closer
	// onFlush is Options.OnFlush (nil: none); fixed at Open.
	onFlush func(time.Duration)

	mu struct {
		sync.Mutex
		opts Options
		// err is the sticky write/sync error: appends are refused until Repair clears it
		// (or, for a compaction swap, until the log is reopened).
		err error
		// keep is where Repair cuts the log: the durable end when an fsync failed in
		// durable mode (what was written after it may not be on disk), else MaxInt64.
		keep      int64
		outage    outage             // the failed state, for its two log lines
		pending   []*segment.Segment // rolled, not yet synced (each holds a reference)
		dirDirty  bool               // directory entries changed since the last dir sync
		unflushed int64              // messages since the last flush (non-durable mode)
		closed    bool

		// written: appended, rolled or truncated since Open. Open leaves the files
		// consistent and durable (or, for a new log, empty), so Close has nothing to sync
		// while it is false.
		written bool
	}
	// rmu guards segs for readers; writers change segs holding both mu and rmu.
	rmu  sync.RWMutex
	segs []*segment.Segment

	// failed is set while mu.err holds an error Repair can fix (its fast path); failing
	// while the log is in the failed state (mu.outage).
	failed  atomic.Bool
	failing atomic.Bool

	start atomic.Int64
	end   atomic.Int64
	// trusted is the offset below which Open trusted the files without rescanning them
	// (TrustedEnd); set by Open.
	trusted int64
	gen     atomic.Int64 // bumped by every truncation
	closed  atomic.Bool
	durable atomic.Bool
	flushMs atomic.Int64
	// repair is set when a read finds a batch that is empty but flagged compressed (left
	// by compaction before Strata wrote them as Kafka does); the next Compact rewrites it.
	repair atomic.Bool

	// d is the durability state, shared by the flusher and WaitDurable.
	d struct {
		sync.Mutex
		end      int64
		err      error // the failed flush's error until Repair; last keeps it after
		last     error
		fails    int64 // failed flushes so far: a waiter that sees it move gets last
		closed   bool
		truncEnd int64 // end after the latest truncation
		// cbs are the WhenDurable callbacks not yet called, in registration order.
		cbs []durableCB
	}

	flushMu sync.Mutex  // serialises flushes (flusher goroutine, Flush, Close)
	ready   []durableCB // flushMu: the registrations a flush answers (reused)
	ckMu    sync.Mutex  // serialises checkpoint writes
	ckRP    int64       // last recovery point written (ckMu)

	cbs atomic.Pointer[[]func(int64)]

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	gc   groupCommit // the own flusher's group sizing (not with shared)

	// shared is Options.Flusher (fixed at Open); then the log has no flusher goroutine:
	// kicks queue it on shared (queued: in its queue), and flush.ms in non-durable mode is
	// a timer (tmr, under tmu) that queues it.
	shared   *Flusher
	queued   atomic.Bool
	flushing atomic.Bool // a worker of shared is flushing the log
	rerun    atomic.Bool // flush again: requested while flushing
	tmu      sync.Mutex
	tmr      *time.Timer
}

func (l *Log) segOpts(o *Options) segment.Options {
	return segment.Options{IndexBytes: o.SegmentIndexBytes, IndexInterval: o.IndexIntervalBytes, Cache: o.OpenSegments}
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

// Open opens the log in dir, creating dir if missing, recovers it (see the package
// documentation), and starts its flusher goroutine.
func Open(dir string, opts *Options) (*Log, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, fs: o.FS, logger: o.Logger.With("dir", dir), now: o.Now, onFlush: o.OnFlush,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), shared: o.Flusher}
	l.mu.opts = o
	l.durable.Store(o.durable())
	l.flushMs.Store(int64(o.FlushMs))
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log: create %s: %w", dir, err)
	}
	lk, err := l.fs.Lock(l.path(LockFile))
	if err != nil {
		return nil, fmt.Errorf("log: lock %s: %w", dir, err)
	}
	l.lock = lk
	if err := l.recover(); err != nil {
		for _, s := range l.segs {
			s.Close()
		}
		lk.Close()
		return nil, err
	}
	if l.shared != nil {
		l.armFlushTimer()
	} else {
		l.wg.Add(1)
		go l.flushLoop()
	}
	return l, nil
}

// activeLocked is the last segment. The caller holds mu or rmu.
func (l *Log) activeLocked() *segment.Segment { return l.segs[len(l.segs)-1] }

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// TrustedEnd is the offset below which Open trusted the segments' files as they were
// (the end after a clean shutdown, else the base of the first segment it rescanned):
// what lies below was durable before the last shutdown, indexes and aborted-transaction
// indexes included. The partition uses a producer-state snapshot only at or below it.
func (l *Log) TrustedEnd() int64 { return l.trusted }

// EndOffset is the log end offset (the next offset to assign).
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size is the bytes of all segments.
func (l *Log) Size() int64 {
	l.rmu.RLock()
	defer l.rmu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.Size()
	}
	return n
}

// Segments describes the segments, oldest first.
// A segment opened cold reads its max timestamp first (-1 if that fails).
func (l *Log) Segments() []SegmentInfo {
	segs, _ := l.snapshot(-1)
	defer releaseAll(segs)
	out := make([]SegmentInfo, 0, len(segs))
	for i, s := range segs {
		next, size := s.End()
		ts, _, _ := s.MaxTimestamp()
		out = append(out, SegmentInfo{BaseOffset: s.Base(), NextOffset: next, Size: size, Active: i == len(segs)-1, MaxTimestamp: ts, Created: s.Created()})
	}
	return out
}

// snapshot returns the segments from the one containing from (acquired), and the end
// offset. The caller releases every returned segment.
func (l *Log) snapshot(from int64) ([]*segment.Segment, int64) {
	l.rmu.RLock()
	defer l.rmu.RUnlock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].Base() > from }) - 1
	i = max(i, 0)
	out := make([]*segment.Segment, 0, len(l.segs)-i)
	for _, s := range l.segs[i:] {
		if s.Acquire() {
			out = append(out, s)
		}
	}
	return out, l.end.Load()
}

func releaseAll(segs []*segment.Segment) {
	for _, s := range segs {
		s.Release()
	}
}

// Reconfigure applies new topic-level settings (segment.*, index.*, retention.*, flush.*)
// at runtime. FS, Logger and Now are kept from Open. Index sizes apply to new segments.
func (l *Log) Reconfigure(opts Options) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	opts.FS, opts.Logger, opts.Now = l.mu.opts.FS, l.mu.opts.Logger, l.mu.opts.Now
	opts.SharedMarker, opts.CleanShutdown = l.mu.opts.SharedMarker, l.mu.opts.CleanShutdown
	opts.OnFlush, opts.Flusher = l.mu.opts.OnFlush, l.mu.opts.Flusher
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	wasDurable := l.mu.opts.durable()
	l.mu.opts = opts
	if !wasDurable && opts.durable() {
		// Waiters from now on need the flusher to catch up with what was appended.
		l.d.Lock()
		l.d.end = min(l.d.end, l.end.Load())
		l.d.Unlock()
	}
	l.durable.Store(opts.durable())
	l.flushMs.Store(int64(opts.FlushMs))
	l.kickFlusher()
	if l.shared != nil {
		l.armFlushTimer()
	}
	return nil
}
