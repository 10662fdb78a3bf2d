package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
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
}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset, NextOffset int64
	Size                   int64
	Active                 bool
	MaxTimestamp           int64
}

// Log is the ordered segments of one partition directory. See the package documentation
// for the concurrency contract.
type Log struct {
	dir    string
	fs     vfs.FS
	logger *slog.Logger
	now    func() time.Time
	lock   io.Closer

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

	start   atomic.Int64
	end     atomic.Int64
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
		cond     *sync.Cond
		end      int64
		err      error // the failed flush's error until Repair; last keeps it after
		last     error
		fails    int64 // failed flushes so far: a waiter that sees it move gets last
		closed   bool
		truncEnd int64 // end after the latest truncation
		// cbs are the WhenDurable callbacks not yet called, in registration order.
		cbs []durableCB
	}

	flushMu sync.Mutex // serialises flushes (flusher goroutine, Flush, Close)
	ckMu    sync.Mutex // serialises checkpoint writes
	ckRP    int64      // last recovery point written (ckMu)

	cbs atomic.Pointer[[]func(int64)]

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
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
	l := &Log{dir: dir, fs: o.FS, logger: o.Logger.With("dir", dir), now: o.Now,
		kick: make(chan struct{}, 1), stop: make(chan struct{})}
	l.mu.opts = o
	l.d.cond = sync.NewCond(&l.d)
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
	l.wg.Add(1)
	go l.flushLoop()
	return l, nil
}

func (l *Log) recover() error {
	o := &l.mu.opts
	if err := l.finishSwaps(); err != nil { // compaction swaps (compact.go)
		return err
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	ownMarker := false
	var bases []int64
	for _, n := range names {
		switch {
		case n == CleanMarker:
			ownMarker = true
		case strings.HasSuffix(n, segment.DeletedSuffix), strings.HasSuffix(n, vfs.TmpSuffix):
			if err := l.fs.Remove(l.path(n)); err != nil {
				return fmt.Errorf("log: remove leftover %s: %w", n, err)
			}
		default:
			if b, suf, ok := segment.ParseName(n); ok && suf == segment.LogSuffix {
				bases = append(bases, b)
			}
		}
	}
	// Index files without a log are leftovers of a crash during roll or delete.
	for _, n := range names {
		if b, suf, ok := segment.ParseName(n); ok && (suf == segment.IndexSuffix || suf == segment.TimeIndexSuffix) && !slices.Contains(bases, b) {
			if err := l.fs.Remove(l.path(n)); err != nil {
				return fmt.Errorf("log: remove orphan %s: %w", n, err)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	logStart, _ := l.readCheckpoint(LogStartOffsetFile)
	rp, hasRP := l.readCheckpoint(RecoveryPointFile)
	if !hasRP {
		rp = 0
	}
	l.ckRP = rp
	clean := ownMarker || (o.SharedMarker && o.CleanShutdown)
	// A new log (no segment, no recovery point) has nothing to recover and nothing to make
	// durable: it is empty, and a file of it lost in a crash is created again at the next
	// Open. The directory is synced by the first flush, before any append is durable.
	fresh := len(bases) == 0 && !hasRP && !ownMarker
	now := l.now()
	rescanned := false
	for i, b := range bases {
		last := i == len(bases)-1
		rec := !clean && (last || bases[i+1] > rp)
		var (
			s   *segment.Segment
			r   segment.Recovery
			err error
		)
		if !rec && !last {
			// Trusted and sealed: its files are opened on first use.
			s, err = segment.OpenCold(l.fs, l.dir, b, l.segOpts(o), bases[i+1], now)
		} else {
			s, r, err = segment.Open(l.fs, l.dir, b, l.segOpts(o), rec, last, now)
		}
		if err != nil {
			return fmt.Errorf("log: open segment %d: %w", b, err)
		}
		rescanned = rescanned || r.Rescanned
		if len(l.segs) > 0 {
			if prev := l.segs[len(l.segs)-1]; prev.Next() != b {
				l.logger.Warn("log: recovery: segment does not follow its predecessor; dropping it and later segments",
					"segment", b, "expected", prev.Next())
				s.Close()
				if err := l.removeSegmentFiles(bases[i:]); err != nil {
					return err
				}
				break
			}
		}
		l.segs = append(l.segs, s)
		if r.TruncatedBytes > 0 {
			l.logger.Warn("log: recovery: truncated torn or corrupt tail",
				"segment", b, "from_offset", s.Next(), "bytes", r.TruncatedBytes, "kept_bytes", r.ValidBytes, "reason", r.Reason)
			if !last {
				l.logger.Warn("log: recovery: dropping segments after the cut", "segments", bases[i+1:])
				if err := l.removeSegmentFiles(bases[i+1:]); err != nil {
					return err
				}
			}
			break
		}
	}
	if len(l.segs) == 0 {
		s, err := segment.Create(l.fs, l.dir, logStart, l.segOpts(o), now)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	act := l.segs[len(l.segs)-1]
	if err := act.Unseal(); err != nil {
		return err
	}
	end := act.Next()
	if end < logStart {
		// The data the start offset refers to is gone: start afresh at logStart.
		l.logger.Warn("log: recovery: log end below log start offset; starting empty", "end", end, "log_start", logStart)
		old := l.segs
		l.segs = nil
		for _, s := range old {
			if err := s.MarkDeleted(); err != nil {
				return err
			}
		}
		s, err := segment.Create(l.fs, l.dir, logStart, l.segOpts(o), now)
		if err != nil {
			return err
		}
		l.segs = []*segment.Segment{s}
		end = logStart
	}
	logStart = max(logStart, l.segs[0].Base())
	// Delete whole segments below the log start offset (a crash after the checkpoint).
	for len(l.segs) > 1 && l.segs[0].Next() <= logStart {
		if err := l.segs[0].MarkDeleted(); err != nil {
			return err
		}
		l.segs = l.segs[1:]
	}
	l.start.Store(logStart)
	l.end.Store(end)
	l.d.end = end
	if fresh {
		l.mu.dirDirty = true
		return nil
	}
	if ownMarker {
		// Gone (durably, below) before anything changes, so that a crash from now on
		// recovers.
		if err := l.fs.Remove(l.path(CleanMarker)); err != nil {
			return fmt.Errorf("log: remove clean marker: %w", err)
		}
	}
	switch {
	case !clean || rescanned:
		// Make the repairs durable (a trusted open rescans a segment whose index failed
		// its check), then move the recovery point to the end.
		for _, s := range l.segs {
			if err := s.Sync(true); err != nil {
				return err
			}
		}
		if err := l.syncDir(); err != nil {
			return err
		}
	case ownMarker:
		if err := l.syncDir(); err != nil {
			return err
		}
	default:
		// Trusted on the caller's word. The files may be those of a new log that was
		// closed without any sync: the first flush syncs the directory, as for a new log.
		l.mu.dirDirty = true
	}
	if !clean || rescanned || l.staleRecoveryPoint(rp, end) {
		if err := l.writeRecoveryPoint(end, l.gen.Load()); err != nil {
			return err
		}
	}
	return nil
}

// staleRecoveryPoint reports whether the recovery point rp must move to end (durable
// already): recovery rescans the whole active segment in any case, so a recovery point
// within it is as good as the end offset; one below it would rescan sealed segments for
// nothing, and one above end is wrong. The caller holds mu (or owns the log).
func (l *Log) staleRecoveryPoint(rp, end int64) bool {
	return rp < l.activeLocked().Base() || rp > end
}

func (l *Log) removeSegmentFiles(bases []int64) error {
	for _, b := range bases {
		for _, suf := range []string{segment.LogSuffix, segment.IndexSuffix, segment.TimeIndexSuffix} {
			if err := l.fs.Remove(l.path(segment.BaseName(b) + suf)); err != nil && !errors.Is(err, errNotExist) {
				return fmt.Errorf("log: remove segment %d: %w", b, err)
			}
		}
	}
	return nil
}

func (l *Log) syncDir() error { return vfs.SyncDir(l.fs, l.dir) }

// readCheckpoint parses a checkpoint file: "<version>\n<offset>\n".
func (l *Log) readCheckpoint(name string) (int64, bool) {
	f, err := l.fs.Open(l.path(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, _ := f.ReadAt(buf, 0)
	lines := strings.Split(string(buf[:n]), "\n")
	if len(lines) < 3 || lines[0] != strconv.Itoa(checkpointVersion) || lines[2] != "" {
		l.logger.Warn("log: ignoring malformed checkpoint", "file", name)
		return 0, false
	}
	off, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || off < 0 {
		l.logger.Warn("log: ignoring malformed checkpoint", "file", name)
		return 0, false
	}
	return off, true
}

// writeCheckpoint writes name atomically (vfs.WriteFileAtomic).
func (l *Log) writeCheckpoint(name string, off int64) error {
	if err := vfs.WriteFileAtomic(l.fs, l.path(name), fmt.Appendf(nil, "%d\n%d\n", checkpointVersion, off)); err != nil {
		return fmt.Errorf("log: checkpoint %s: %w", name, err)
	}
	return nil
}

// writeRecoveryPoint checkpoints rp unless a truncation happened since gen was read.
func (l *Log) writeRecoveryPoint(rp, gen int64) error {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if l.gen.Load() != gen {
		return nil
	}
	if err := l.writeCheckpoint(RecoveryPointFile, rp); err != nil {
		return err
	}
	l.ckRP = rp
	return nil
}

// activeLocked is the last segment. The caller holds mu or rmu.
func (l *Log) activeLocked() *segment.Segment { return l.segs[len(l.segs)-1] }

// validateBatches frames b into batches and validates each (batch.Validate: length,
// magic, CRC, counts); with trusted set, the caller has validated them already and only
// the framing and headers are read (no CRC pass).
func validateBatches(b []byte, trusted bool) ([]segment.BatchInfo, error) {
	if len(b) == 0 {
		return nil, &BatchError{Err: errors.New("empty append"), kind: ErrInvalidBatch}
	}
	var infos []segment.BatchInfo
	if trusted {
		infos = make([]segment.BatchInfo, 0, 1)
	}
	for p := 0; p < len(b); {
		n, err := batch.Next(b[p:])
		if err == nil {
			var h batch.Header
			if trusted {
				h, err = batch.ParseHeader(b[p : p+n])
				if err == nil && h.LastOffsetDelta < 0 {
					err = fmt.Errorf("%w: last offset delta %d", batch.ErrInvalid, h.LastOffsetDelta)
				}
			} else {
				h, err = batch.Validate(b[p : p+n])
			}
			if err == nil {
				infos = append(infos, segment.BatchInfo{Last: int64(h.LastOffsetDelta), MaxTimestamp: h.MaxTimestamp, Size: n})
				p += n
				continue
			}
		}
		kind := ErrCorrupt
		if errors.Is(err, batch.ErrInvalid) {
			kind = ErrInvalidBatch
		}
		return nil, &BatchError{Index: len(infos), Pos: p, Err: err, kind: kind}
	}
	return infos, nil
}

// Append validates every batch in batches (one or more concatenated RecordBatch v2), then
// stamps consecutive base offsets starting at EndOffset and the leader epoch into the
// bytes in place, writes them to the active segment (rolling first when needed) and
// returns without waiting for fsync (see WaitDurable). On a validation error nothing is
// written and a *BatchError wrapping ErrCorrupt or ErrInvalidBatch is returned. A storage
// failure returns an error wrapping ErrStorage and writes nothing; after one that leaves
// the log in doubt (a failed fsync, a torn write that could not be cut off) Append first
// repairs the log (see Repair).
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	return l.append(batches, leaderEpoch, false)
}

// AppendValidated is Append for batches the caller has already checked with
// batch.Validate each (the partition does, before its producer-state checks): it reads
// the batch framing and headers again but does not recompute the CRCs. A framing error
// still writes nothing.
func (l *Log) AppendValidated(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	return l.append(batches, leaderEpoch, true)
}

func (l *Log) append(batches []byte, leaderEpoch int32, trusted bool) (AppendInfo, error) {
	infos, err := validateBatches(batches, trusted)
	if err != nil {
		return AppendInfo{}, err
	}
	if _, err := l.Repair(); err != nil {
		return AppendInfo{}, err
	}
	l.mu.Lock()
	info, err := l.appendLocked(batches, leaderEpoch, infos)
	durable := l.mu.opts.durable()
	// While failing, the flush that proves the storage writable again comes at once.
	kick := err == nil && (durable || l.mu.unflushed >= l.mu.opts.FlushMessages || l.failing.Load())
	l.mu.Unlock()
	if err != nil {
		return AppendInfo{}, err
	}
	if kick {
		l.kickFlusher()
	}
	if !durable {
		l.notify(l.end.Load())
	}
	return info, nil
}

func (l *Log) appendLocked(b []byte, epoch int32, infos []segment.BatchInfo) (AppendInfo, error) {
	o := &l.mu.opts
	if l.mu.closed {
		return AppendInfo{}, ErrClosed
	}
	if l.mu.err != nil {
		l.mu.outage.errors++
		return AppendInfo{}, fmt.Errorf("%w: %w", ErrBroken, l.mu.err)
	}
	off := l.end.Load()
	info := AppendInfo{BaseOffset: off, MaxTimestamp: -1, Batches: len(infos), Bytes: len(b)}
	p := 0
	for i := range infos {
		bi := &infos[i]
		if int64(bi.Size) > o.SegmentBytes {
			return AppendInfo{}, fmt.Errorf("%w: batch %d is %d bytes, segment.bytes %d", ErrRecordTooLarge, i, bi.Size, o.SegmentBytes)
		}
		bi.Base, bi.Last = off, off+bi.Last
		off = bi.Last + 1
		info.MaxTimestamp = max(info.MaxTimestamp, bi.MaxTimestamp)
		p += bi.Size
	}
	p = 0
	for _, bi := range infos {
		batch.SetBaseOffset(b[p:], bi.Base)
		batch.SetLeaderEpoch(b[p:], epoch)
		p += bi.Size
	}
	info.LastOffset = off - 1
	act := l.activeLocked()
	if act.Full(len(b), info.LastOffset, l.now(), o.SegmentBytes, o.SegmentMs) {
		if err := l.rollLocked(); err != nil {
			// Nothing changed but the old segment's seal: the next append rolls again.
			err = storageErr(err)
			l.failLocked(err, false, 0)
			return AppendInfo{}, err
		}
		act = l.activeLocked()
	}
	if err := act.Append(b, infos); err != nil {
		// The segment cut the failed write off, unless that failed too (then it refuses
		// appends until repaired).
		err = storageErr(err)
		l.failLocked(err, act.Err() != nil, math.MaxInt64)
		return AppendInfo{}, err
	}
	l.mu.unflushed += off - info.BaseOffset
	l.mu.written = true
	l.end.Store(off)
	return info, nil
}

// outage is the log's failed state: from its first storage error to the first flush
// that makes durable an append made after the latest error. It exists for its two log
// lines (one when it starts, one when it ends) and their figures.
type outage struct {
	since  time.Time // zero: not failing
	end    int64     // log end at the latest error or repair
	errors int       // failed appends and flushes since it started
}

// failLocked records a storage error on the write path: it starts the failed state (and
// logs it) unless already in it. With sticky set it also makes appends fail until Repair,
// which cuts the log back to keep (MaxInt64: keep everything written). The caller holds
// mu.
func (l *Log) failLocked(err error, sticky bool, keep int64) {
	if sticky && l.mu.err == nil {
		l.mu.err, l.mu.keep = err, keep
		l.failed.Store(true)
	}
	o := &l.mu.outage
	o.end = l.end.Load()
	o.errors++
	if !o.since.IsZero() {
		return
	}
	o.since = l.now()
	l.failing.Store(true)
	l.logger.Error("log: storage failure: appends fail until a write succeeds again; reads continue", "err", err)
}

// recoveredLocked ends the failed state once a flush made durable an append made after
// the latest error (end is the flushed end). The caller holds mu.
func (l *Log) recoveredLocked(end int64) {
	o := &l.mu.outage
	if o.since.IsZero() || l.mu.err != nil || end <= o.end {
		return
	}
	l.logger.Info("log: storage recovered: writes succeed again; appends resumed",
		"failed_for", l.now().Sub(o.since).Round(time.Millisecond), "failed_operations", o.errors)
	*o = outage{}
	l.failing.Store(false)
}

// Repair makes a log that a storage error left in doubt writable again, and is a no-op
// (one atomic load) otherwise. Append calls it; a writer that keeps state derived from
// the log (the partition's producer state) calls it first and rebuilds that state when
// records were dropped.
//
// After a failed fsync in durable mode the log is cut back to its durable end (what was
// written after it may not be on disk, and none of it was acknowledged as durable nor
// below the high watermark): dropped reports that. Otherwise nothing is dropped. Then the
// active segment's file is cut back to its last whole batch, the batches after its last
// index entry are verified (CRC), the segment and the directory are fsynced and the
// error is cleared; the rolled segments whose fsync failed are synced again by the next
// flush, which also ends the failed state once it covers a new append. On error the log
// stays failed (a cut already made stays made) and a later call tries again. A log
// broken by a failed compaction swap is not repaired here: it is reopened.
func (l *Log) Repair() (dropped bool, err error) {
	if !l.failed.Load() {
		return false, nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return false, ErrClosed
	}
	if !l.failed.Load() {
		return false, nil
	}
	end := l.end.Load()
	if l.mu.keep < end {
		err = l.truncateLocked(l.mu.keep)
	}
	if err == nil {
		err = l.activeLocked().Repair()
	}
	if err == nil {
		// The cut is durable before the log takes appends again (also when an earlier
		// attempt made it but failed to sync it).
		err = l.activeLocked().Sync(true)
	}
	if err == nil {
		err = l.syncDir()
	}
	if now := l.end.Load(); now < end {
		dropped = true
		l.logger.Warn("log: repair dropped records written after the last successful fsync (never acknowledged as durable)",
			"from", now, "to", end)
	}
	if err != nil {
		l.mu.outage.errors++
		return dropped, fmt.Errorf("%w: repair: %w", ErrBroken, err)
	}
	l.mu.err = nil
	l.failed.Store(false)
	l.mu.outage.end = l.end.Load()
	l.d.Lock()
	l.d.err = nil
	l.d.Unlock()
	l.kickFlusher()
	return dropped, nil
}

// rollLocked seals the active segment and creates a new one at EndOffset. The old segment
// is synced by the flusher. The caller holds mu.
func (l *Log) rollLocked() error {
	old := l.activeLocked()
	if old.Size() == 0 && old.Base() == l.end.Load() {
		// An empty active segment cannot roll onto its own base; just reuse it.
		return nil
	}
	if err := old.Seal(); err != nil {
		return fmt.Errorf("log: roll: %w", err)
	}
	ns, err := segment.Create(l.fs, l.dir, l.end.Load(), l.segOpts(&l.mu.opts), l.now())
	if err != nil {
		return fmt.Errorf("log: roll: %w", err)
	}
	l.rmu.Lock()
	l.segs = append(l.segs, ns)
	l.rmu.Unlock()
	old.Acquire()
	l.mu.pending = append(l.mu.pending, old)
	l.mu.dirDirty = true
	l.mu.written = true
	l.kickFlusher()
	return nil
}

func (l *Log) kickFlusher() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *Log) notify(end int64) {
	if p := l.cbs.Load(); p != nil {
		for _, fn := range *p {
			fn(end)
		}
	}
}

// OnDurable registers fn, called (outside the log's locks) whenever DurableEnd advances:
// from the flusher goroutine in durable mode (in increasing order, before the
// WaitDurable callers waiting for that end are woken), and after every
// Append in non-durable mode (possibly concurrently and out of order: treat the argument
// as a hint and keep the maximum).
func (l *Log) OnDurable(fn func(end int64)) {
	for {
		old := l.cbs.Load()
		var n []func(int64)
		if old != nil {
			n = append(n, *old...)
		}
		n = append(n, fn)
		if l.cbs.CompareAndSwap(old, &n) {
			return
		}
	}
}

func (l *Log) flushLoop() {
	defer l.wg.Done()
	busy := false // appends arrived during the last flush
	for {
		var tick <-chan time.Time
		var t *time.Timer
		if d := time.Duration(l.flushMs.Load()); d > 0 && !l.durable.Load() {
			t = time.NewTimer(d)
			tick = t.C
		}
		select {
		case <-l.stop:
			if t != nil {
				t.Stop()
			}
			return
		case <-l.kick:
		case <-tick:
		}
		if t != nil {
			t.Stop()
		}
		if l.durable.Load() {
			if busy {
				// Sustained load: appends kept arriving while the last fsync ran. Let this
				// group take in more of them before it is cut: fewer fsyncs (each one costs
				// the broker more CPU than the appends it covers at small requests) for at
				// most groupCommitDelay of ack latency.
				time.Sleep(groupCommitDelay)
			} else {
				// A lone or synchronous writer is flushed at once; only let appenders
				// woken by the previous flush (runnable, not yet appended) join.
				runtime.Gosched()
			}
		}
		_ = l.flushOnce()
		busy = l.durable.Load() && l.end.Load() > l.DurableEnd()
	}
}

// groupCommitDelay is how long the flusher waits before cutting a group while appends
// arrive faster than it fsyncs (see flushLoop). At 10,000 one-record produce requests
// per second it halves the broker's CPU (one fsync per request before) for ~1 ms of
// ack latency; a writer that waits for each ack never sees it.
const groupCommitDelay = 500 * time.Microsecond

// flushOnce syncs the rolled segments (then the directory and the recovery point) and
// the active segment, then publishes the new durable end and wakes the waiters.
func (l *Log) flushOnce() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	if l.mu.err != nil {
		err := l.mu.err
		l.mu.Unlock()
		l.failDurable(err)
		return err
	}
	pending, dirDirty := l.mu.pending, l.mu.dirDirty
	l.mu.pending, l.mu.dirDirty = nil, false
	l.rmu.RLock()
	act := l.activeLocked()
	l.rmu.RUnlock()
	act.Acquire()
	end, gen := l.end.Load(), l.gen.Load()
	l.mu.unflushed = 0
	l.mu.Unlock()

	var err error
	rp := int64(-1)
	for _, s := range pending {
		if err == nil {
			err = s.Sync(true)
			rp = max(rp, s.Next())
		}
	}
	if err == nil && dirDirty {
		err = l.syncDir()
	}
	if err == nil {
		err = act.Sync(false)
	}
	if err == nil && rp >= 0 {
		err = l.writeRecoveryPoint(rp, gen)
	}
	act.Release()
	if err != nil {
		// Appends stop until Repair. In durable mode it cuts the log back to the durable
		// end: what was written after it may never reach the disk (a failed fsync may
		// drop dirty pages and report it once), and nothing above it was acknowledged as
		// durable. The rolled segments keep their places in the flush queue.
		err = storageErr(err)
		keep := int64(math.MaxInt64)
		if l.durable.Load() {
			keep = l.DurableEnd()
		}
		l.mu.Lock()
		l.failLocked(err, true, keep)
		l.mu.pending = append(pending, l.mu.pending...)
		l.mu.dirDirty = l.mu.dirDirty || dirDirty
		l.mu.Unlock()
		l.failDurable(err)
		return err
	}
	for _, s := range pending {
		s.Release()
	}
	// Observers first (the partition's high watermark), then the waiters: whoever
	// WaitDurable wakes, an acks=all producer say, must find the observers up to date, so
	// that a fetch sent right after the ack sees the records. Only this goroutine (under
	// flushMu) advances the durable end, so the check cannot go stale in between except by
	// a truncation, which the second check catches.
	l.d.Lock()
	advanced := l.gen.Load() == gen && end > l.d.end
	l.d.Unlock()
	if advanced && l.durable.Load() {
		l.notify(end)
	}
	// The recovery line before the waiters wake: whoever an append's durability wakes
	// finds the failed state over.
	if advanced && l.failing.Load() {
		l.mu.Lock()
		l.recoveredLocked(end)
		l.mu.Unlock()
	}
	l.d.Lock()
	if l.gen.Load() == gen && end > l.d.end {
		l.d.end = end
	}
	l.d.cond.Broadcast()
	ready := l.takeDurableLocked(func(cb *durableCB) (bool, error) { return cb.end <= l.d.end, nil })
	l.d.Unlock()
	runDurable(ready)
	return nil
}

func (l *Log) failDurable(err error) {
	l.d.Lock()
	if l.d.err == nil {
		l.d.err, l.d.last = err, err
		l.d.fails++
	}
	l.d.cond.Broadcast()
	werr := fmt.Errorf("%w: %w", ErrBroken, l.d.err)
	ready := l.takeDurableLocked(func(*durableCB) (bool, error) { return true, werr })
	l.d.Unlock()
	runDurable(ready)
}

// durableCB is a WhenDurable registration; err is set when it is taken.
type durableCB struct {
	end int64
	fn  func(error)
	err error
}

// takeDurableLocked removes and returns the callbacks for which due reports true, with
// the error it gives. l.d is held.
func (l *Log) takeDurableLocked(due func(*durableCB) (bool, error)) []durableCB {
	var ready []durableCB
	keep := l.d.cbs[:0]
	for _, cb := range l.d.cbs {
		ok, err := due(&cb)
		if !ok {
			keep = append(keep, cb)
			continue
		}
		cb.err = err
		ready = append(ready, cb)
	}
	clear(l.d.cbs[len(keep):])
	l.d.cbs = keep
	return ready
}

// runDurable calls the taken callbacks, outside the log's locks.
func runDurable(ready []durableCB) {
	for _, cb := range ready {
		cb.fn(cb.err)
	}
}

// WhenDurable arranges for fn to be called exactly once, with WaitDurable's result for
// end, without blocking the caller: before WhenDurable returns if the answer is known
// already (non-durable mode, durable, broken, closed), else from the flusher right after
// the flush that makes end durable (after the OnDurable observers, like WaitDurable's
// wake-up), or when a flush fails, a truncation drops offsets below end, or the log
// closes. fn runs on the flusher's goroutine: it must be quick, must not block and must
// not call into the log.
func (l *Log) WhenDurable(end int64, fn func(error)) {
	if !l.durable.Load() {
		fn(nil)
		return
	}
	end = min(end, l.end.Load())
	l.d.Lock()
	var err error
	switch {
	case l.d.end >= end:
	case l.d.err != nil:
		err = fmt.Errorf("%w: %w", ErrBroken, l.d.err)
	case l.d.closed:
		err = ErrClosed
	default:
		l.d.cbs = append(l.d.cbs, durableCB{end: end, fn: fn})
		l.d.Unlock()
		return
	}
	l.d.Unlock()
	fn(err)
}

// WaitDurable blocks until every offset below end is fsynced (durable mode, group
// commit). It returns at once in non-durable mode or if already durable; the sticky
// write/sync error if a flush failed; ErrTruncated if the log was truncated below end
// meanwhile; ErrClosed after Close. end above EndOffset is clamped to EndOffset.
func (l *Log) WaitDurable(end int64) error {
	if !l.durable.Load() {
		return nil
	}
	end = min(end, l.end.Load())
	gen := l.gen.Load()
	l.d.Lock()
	defer l.d.Unlock()
	fails := l.d.fails
	for l.d.end < end {
		switch {
		case l.d.err != nil:
			return fmt.Errorf("%w: %w", ErrBroken, l.d.err)
		case l.d.fails != fails: // failed, and repaired already
			return fmt.Errorf("%w: %w", ErrBroken, l.d.last)
		case l.gen.Load() != gen && end > l.d.truncEnd:
			return ErrTruncated
		case l.d.closed:
			return ErrClosed
		}
		l.d.cond.Wait()
	}
	return nil
}

// DurableEnd is the offset below which everything is on disk (durable mode); in
// non-durable mode it equals EndOffset.
func (l *Log) DurableEnd() int64 {
	if !l.durable.Load() {
		return l.end.Load()
	}
	l.d.Lock()
	defer l.d.Unlock()
	return l.d.end
}

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 { return l.start.Load() }

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
		out = append(out, SegmentInfo{BaseOffset: s.Base(), NextOffset: next, Size: size, Active: i == len(segs)-1, MaxTimestamp: ts})
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

// Read returns the batch containing offset and the following whole batches of the same
// segment, up to maxBytes in total but at least one whole batch (KIP-74), never a batch
// whose base offset is >= maxOffset. offset == EndOffset, or nothing below maxOffset,
// gives an empty chunk and a nil error; offset < StartOffset or > EndOffset gives
// ErrOffsetOutOfRange. The returned batch may start before offset. The caller must
// Release the chunk.
//
// Two exceptions serve what Kafka would rather than the stored bytes. A batch that is
// empty but still flagged compressed (left by compaction in earlier versions) is served
// alone, header-only with codec none (see noteRepair). And when the batches from offset
// to the end of their segment are all empty (compaction keeps header-only batches) and
// a later segment has something to serve, Read serves that instead, as if offset fell in
// a compaction gap: a response holding only empty batches makes librdkafka double its
// fetch size, and fail after ten of them. The empty region is served only when nothing
// follows it below maxOffset, so that the consumer still moves past it.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (*Chunk, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	l.rmu.RLock()
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset > end {
		l.rmu.RUnlock()
		return nil, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset == end || offset >= maxOffset {
		l.rmu.RUnlock()
		return &Chunk{}, nil
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].Base() > offset }) - 1
	var segs []*segment.Segment
	for _, s := range l.segs[max(i, 0):] {
		if s.Acquire() {
			segs = append(segs, s)
		}
	}
	l.rmu.RUnlock()
	// Each segment's reference is released here unless a chunk took it over (nil).
	defer func() {
		for _, s := range segs {
			if s != nil {
				s.Release()
			}
		}
	}()
	var skipped *Chunk // the last region of empty batches passed over
	// offset lies in the first segment unless it is past its end (empty segment).
	for j, s := range segs {
		r, err := s.ReadRegion(offset, maxBytes, maxOffset)
		if err != nil {
			skipped.Release()
			return nil, err
		}
		if r.Len > 0 {
			var c *Chunk
			if r.First.EmptyCompressed() {
				l.noteRepair(s.Base(), &r.First)
				c = &Chunk{mem: batch.AppendEmpty(nil, &r.First)}
			} else {
				h, err := s.Handle()
				if err != nil {
					skipped.Release()
					return nil, err
				}
				c = &Chunk{seg: s, h: h, pos: r.Pos, n: r.Len}
				segs[j] = nil
			}
			if !r.Records && r.Tail && j+1 < len(segs) {
				skipped.Release()
				skipped, offset = c, segs[j+1].Base()
				continue
			}
			skipped.Release()
			return c, nil
		}
		if next, _ := s.End(); offset < next {
			break // the batch is at or beyond maxOffset
		}
	}
	if skipped != nil {
		return skipped, nil
	}
	return &Chunk{}, nil
}

// noteRepair records that a read met batch h of segment base, empty but still flagged
// compressed (written by compaction before Strata wrote such batches as Kafka does): it
// is served header-only with codec none, and the next Compact rewrites it on disk. Logged
// once until that pass.
func (l *Log) noteRepair(base int64, h *batch.Header) {
	if !l.repair.Swap(true) {
		l.logger.Warn("log: found an empty batch still flagged compressed (left by an older compaction); serving it header-only with codec none, the next compaction pass rewrites it",
			"segment", base, "offset", h.BaseOffset, "codec", h.Codec())
	}
}

// ReadCopy is Read with the bytes copied out (for tools, tests and group replay).
func (l *Log) ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	c, err := l.Read(offset, maxBytes, maxOffset)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	return c.Bytes()
}

// Scan calls fn with every batch whose last offset is >= from, in order, up to the
// EndOffset at the time of the call. b is valid only during fn. An error from fn stops
// the scan and is returned.
func (l *Log) Scan(from int64, fn func(h batch.Header, b []byte) error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if from < l.start.Load() {
		from = l.start.Load()
	}
	segs, end := l.snapshot(from)
	defer releaseAll(segs)
	stop := errors.New("stop")
	for _, s := range segs {
		err := s.ScanFrom(max(from, s.Base()), func(h batch.Header, b []byte) error {
			if h.BaseOffset >= end {
				return stop
			}
			return fn(h, b)
		})
		if errors.Is(err, stop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// OffsetForTimestamp finds the first batch whose MaxTimestamp >= ts (time index, then a
// scan of batch headers) and returns its base offset (clamped to StartOffset) and that
// MaxTimestamp; found is false when no batch qualifies. The caller refines to record
// precision.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	if l.closed.Load() {
		return 0, 0, false, ErrClosed
	}
	start := l.start.Load()
	segs, end := l.snapshot(start)
	defer releaseAll(segs)
	for _, s := range segs {
		off, mts, ok, err := s.FindTimestamp(ts)
		if err != nil {
			return 0, 0, false, err
		}
		if ok && off < end {
			return max(off, start), mts, true, nil
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp is the largest timestamp in the log and the base offset of the batch
// carrying it ((-1, -1) when the log is empty). A segment whose max timestamp cannot be
// read (a segment opened cold whose files fail to open) is left out, with a warning.
func (l *Log) MaxTimestamp() (ts int64, offset int64) {
	segs, _ := l.snapshot(-1)
	defer releaseAll(segs)
	ts, offset = -1, -1
	for _, s := range segs {
		t, o, err := s.MaxTimestamp()
		if err != nil {
			l.logger.Warn("log: max timestamp of a segment unknown", "segment", s.Base(), "err", err)
			continue
		}
		if t > ts {
			ts, offset = t, o
		}
	}
	return ts, offset
}

// SetStartOffset advances the log start offset (DeleteRecords). off must be <= EndOffset
// (else ErrOffsetOutOfRange); an offset <= StartOffset is a no-op. The new start is
// checkpointed (fsync, rename, dir fsync) before it returns, then whole segments below it
// are deleted. It holds the writer lock across the checkpoint fsyncs (a rare admin op).
func (l *Log) SetStartOffset(off int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	if off > l.end.Load() {
		return fmt.Errorf("%w: start offset %d above end %d", ErrOffsetOutOfRange, off, l.end.Load())
	}
	if off <= l.start.Load() {
		return nil
	}
	if err := l.advanceStartLocked(off); err != nil {
		return err
	}
	return l.deleteBelowStartLocked()
}

func (l *Log) advanceStartLocked(off int64) error {
	l.ckMu.Lock()
	err := l.writeCheckpoint(LogStartOffsetFile, off)
	l.ckMu.Unlock()
	if err != nil {
		return storageErr(err)
	}
	l.rmu.Lock()
	l.start.Store(off)
	l.rmu.Unlock()
	return nil
}

// deleteBelowStartLocked deletes the segments entirely below the start offset, rolling
// first when that includes the active segment.
func (l *Log) deleteBelowStartLocked() error {
	start := l.start.Load()
	if act := l.activeLocked(); act.Size() > 0 && act.Next() <= start && l.mu.err == nil {
		if err := l.rollLocked(); err != nil {
			err = storageErr(err)
			l.failLocked(err, false, 0)
			return err
		}
	}
	n := 0
	for n < len(l.segs)-1 && l.segs[n].Next() <= start {
		n++
	}
	return l.deleteFirstLocked(n)
}

func (l *Log) deleteFirstLocked(n int) error {
	if n == 0 {
		return nil
	}
	l.rmu.Lock()
	dead := slices.Clone(l.segs[:n])
	l.segs = slices.Delete(l.segs, 0, n)
	l.rmu.Unlock()
	var err error
	for _, s := range dead {
		err = errors.Join(err, s.MarkDeleted())
	}
	return storageErr(errors.Join(err, l.syncDir()))
}

// Truncate drops everything at and above off (StartOffset <= off <= EndOffset, else
// ErrOffsetOutOfRange). Batches are atomic: if off falls inside a batch, that whole batch
// goes and EndOffset becomes its base offset. The cut is fsynced before Truncate returns
// (holding the writer lock: a rare operation, for torn tails and replication).
func (l *Log) Truncate(off int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	if off < start || off > end {
		return fmt.Errorf("%w: truncate to %d not in [%d, %d]", ErrOffsetOutOfRange, off, start, end)
	}
	if off == end {
		return nil
	}
	if l.mu.err != nil {
		return fmt.Errorf("%w: %w", ErrBroken, l.mu.err)
	}
	if err := l.truncateLocked(off); err != nil {
		err = storageErr(err)
		l.failLocked(err, true, math.MaxInt64)
		return err
	}
	return nil
}

// truncateLocked is Truncate once off is checked (start <= off < end). The caller holds
// mu.
func (l *Log) truncateLocked(off int64) error {
	l.mu.written = true
	l.gen.Add(1)
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].Base() > off }) - 1
	i = max(i, 0)
	keep := i + 1
	if off == l.segs[i].Base() && i > 0 {
		keep = i
	}
	l.rmu.Lock()
	dead := slices.Clone(l.segs[keep:])
	l.segs = l.segs[:keep]
	l.rmu.Unlock()
	// A dropped segment still waiting for its fsync must not move the recovery point.
	l.mu.pending = slices.DeleteFunc(l.mu.pending, func(s *segment.Segment) bool {
		if slices.Contains(dead, s) {
			s.Release()
			return true
		}
		return false
	})
	var err error
	for _, s := range dead {
		err = errors.Join(err, s.MarkDeleted())
	}
	act := l.activeLocked()
	if err == nil {
		err = act.Unseal()
	}
	if err == nil {
		err = act.Truncate(off)
	}
	if err == nil {
		err = act.Sync(true)
	}
	if err == nil && len(dead) > 0 {
		err = l.syncDir()
	}
	newEnd := act.Next()
	lowerStart := l.start.Load() > newEnd
	if lowerStart && err == nil {
		// The cut fell inside the batch holding the start offset.
		l.ckMu.Lock()
		err = l.writeCheckpoint(LogStartOffsetFile, newEnd)
		l.ckMu.Unlock()
	}
	l.rmu.Lock()
	l.end.Store(newEnd)
	if lowerStart {
		l.start.Store(newEnd)
	}
	l.rmu.Unlock()
	if err == nil {
		l.ckMu.Lock()
		if l.ckRP > newEnd {
			if err = l.writeCheckpoint(RecoveryPointFile, newEnd); err == nil {
				l.ckRP = newEnd
			}
		}
		l.ckMu.Unlock()
	}
	l.d.Lock()
	l.d.end = min(l.d.end, newEnd)
	l.d.truncEnd = newEnd
	l.d.cond.Broadcast()
	ready := l.takeDurableLocked(func(cb *durableCB) (bool, error) { return cb.end > newEnd, ErrTruncated })
	l.d.Unlock()
	runDurable(ready)
	return err
}

// Reconfigure applies new topic-level settings (segment.*, index.*, retention.*, flush.*)
// at runtime. FS, Logger and Now are kept from Open. Index sizes apply to new segments.
func (l *Log) Reconfigure(opts Options) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	opts.FS, opts.Logger, opts.Now = l.mu.opts.FS, l.mu.opts.Logger, l.mu.opts.Now
	opts.SharedMarker, opts.CleanShutdown = l.mu.opts.SharedMarker, l.mu.opts.CleanShutdown
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
	return nil
}

// Flush fsyncs everything now.
func (l *Log) Flush() error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.flushOnce()
}

// Close flushes, trims the active segment's indexes, checkpoints the recovery point,
// writes the clean marker (unless Options.SharedMarker), stops the flusher and closes the
// files (the last Chunk release closes a segment still being read). A log with nothing
// appended, rolled or truncated since Open has nothing to flush: it only trims and closes.
// Close is idempotent and returns after the flusher exited. A log broken by a write or sync
// error closes without the clean marker and returns the error, so the next Open rescans
// its tail.
func (l *Log) Close() error { return l.close(true) }

// close stops the log; with keep unset (Delete) it neither flushes nor syncs anything.
func (l *Log) close(keep bool) error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.closed.Store(true)
	written := l.mu.written
	l.mu.Unlock()

	var err error
	if keep && written && l.needsFlush() {
		err = l.flushOnce()
	}
	close(l.stop)
	l.wg.Wait()
	l.d.Lock()
	l.d.closed = true
	l.d.cond.Broadcast()
	ready := l.takeDurableLocked(func(*durableCB) (bool, error) { return true, ErrClosed })
	l.d.Unlock()
	runDurable(ready)

	l.mu.Lock()
	defer l.mu.Unlock()
	if keep && err == nil && l.mu.err == nil {
		act := l.activeLocked()
		err = act.Seal()
		if err == nil && written {
			err = act.SyncIndexes() // the .log is durable: flushed above or before
		}
		if end := l.end.Load(); err == nil && written && l.staleRecoveryPoint(l.recoveryPoint(), end) {
			err = l.writeRecoveryPoint(end, l.gen.Load())
		}
		if err == nil && !l.mu.opts.SharedMarker {
			err = l.writeCleanMarker()
		}
	}
	if keep && err == nil {
		err = l.mu.err
	}
	l.rmu.Lock()
	for _, s := range l.segs {
		err = errors.Join(err, s.Close())
	}
	l.segs = nil
	l.rmu.Unlock()
	for _, s := range l.mu.pending {
		s.Release()
	}
	l.mu.pending = nil
	return errors.Join(err, l.lock.Close())
}

// needsFlush reports whether a flush has anything to do besides the active segment's
// .log (which Close syncs anyway): appends not flushed yet (their waiters are woken by
// the flush), rolled segments, directory entries. It waits for a flush in progress.
func (l *Log) needsFlush() bool {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.unflushed > 0 || len(l.mu.pending) > 0 || l.mu.dirDirty
}

// recoveryPoint is the last recovery point read or written.
func (l *Log) recoveryPoint() int64 {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	return l.ckRP
}

func (l *Log) writeCleanMarker() error {
	f, err := l.fs.Create(l.path(CleanMarker))
	if err != nil {
		return fmt.Errorf("log: clean marker: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.syncDir()
	}
	if err != nil {
		return fmt.Errorf("log: clean marker: %w", err)
	}
	return nil
}

// Delete closes the log without flushing anything and removes its directory and
// everything in it.
func (l *Log) Delete() error {
	cerr := l.close(false)
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: delete %s: %w", l.dir, err)
	}
	if cerr != nil {
		l.logger.Warn("log: close before delete failed", "err", cerr)
	}
	return nil
}

// Check verifies the log's consistency (for tests): segments contiguous, every batch
// valid and offsets contiguous within segments, indexes agreeing with the log, start and
// end offsets within the segments.
func (l *Log) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return ErrClosed
	}
	l.rmu.RLock()
	defer l.rmu.RUnlock()
	if len(l.segs) == 0 {
		return errors.New("log: check: no segments")
	}
	for i, s := range l.segs {
		if err := s.Check(); err != nil {
			return fmt.Errorf("log: check: %w", err)
		}
		if i > 0 && l.segs[i-1].Next() != s.Base() {
			return fmt.Errorf("log: check: segment %d follows a segment ending at %d", s.Base(), l.segs[i-1].Next())
		}
		if i < len(l.segs)-1 && !s.Sealed() {
			return fmt.Errorf("log: check: segment %d is not the last but not sealed", s.Base())
		}
	}
	act := l.activeLocked()
	if act.Next() != l.end.Load() {
		return fmt.Errorf("log: check: end offset %d, last segment ends at %d", l.end.Load(), act.Next())
	}
	if st := l.start.Load(); st < l.segs[0].Base() || st > l.end.Load() {
		return fmt.Errorf("log: check: start offset %d outside [%d, %d]", st, l.segs[0].Base(), l.end.Load())
	}
	return nil
}
