package log

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// Compaction files in the partition directory (see docs/storage.md, "Compaction swap").
const (
	// CleanerOffsetFile checkpoints the first offset not yet compacted (the first dirty
	// offset), in the checkpoint format.
	CleanerOffsetFile = "cleaner-offset-checkpoint"
	// CleaningDir is the staging directory where a cleaned segment is written before
	// the swap; whatever it holds at Open is deleted.
	CleaningDir = ".cleaning"
	// SwapSuffix marks the files of a cleaned segment that is being swapped in. A
	// <base>.log.swap present at Open is the commit point: the swap is completed.
	SwapSuffix = ".swap"
	// DefaultDedupeBufferBytes is log.cleaner.dedupe.buffer.size.
	DefaultDedupeBufferBytes = 128 << 20
)

var (
	// ErrCompactAborted: Compact stopped because CompactOptions.Stopped said so.
	ErrCompactAborted = errors.New("log: compaction aborted")
	// errSwapStale: the segment left the log (retention, truncation) while being cleaned.
	errSwapStale = errors.New("log: compaction: segment no longer in the log")
)

// CompactOptions configures one Compact pass (topic settings of a compacted topic).
type CompactOptions struct {
	MinCleanableRatio float64       // min.cleanable.dirty.ratio: clean when dirty/total >= this
	MinLag            time.Duration // min.compaction.lag.ms: younger segments are not cleaned
	MaxLag            time.Duration // max.compaction.lag.ms: older dirty data is cleaned regardless of the ratio (<= 0: none)
	DeleteRetention   time.Duration // delete.retention.ms: how long tombstones stay once compacted
	DedupeBufferBytes int64         // log.cleaner.dedupe.buffer.size (0: 128 MiB)
	Throttle          *Throttle     // log.cleaner.io.max.bytes.per.second (nil: unlimited)
	Stopped           func() bool   // polled; true aborts with ErrCompactAborted
	Force             bool          // clean even below MinCleanableRatio (tests, tools)
	Processor         *records.Processor
	// beforeSwapStep, when set (tests), is called before each file-system step of a
	// segment swap; an error aborts the swap there, as a crash would.
	beforeSwapStep func(step string) error
}

// CompactResult describes a Compact pass.
type CompactResult struct {
	Cleaned        bool    // a pass ran (the dirty ratio or max lag called for it)
	DirtyRatio     float64 // dirty bytes / cleanable bytes before the pass
	FirstDirty     int64   // first offset not yet compacted before the pass
	CleanedTo      int64   // first offset not compacted after the pass
	Segments       int     // segments rewritten and swapped in
	BytesRead      int64   // bytes of log read (map build and rewrite)
	BytesBefore    int64   // size of the rewritten segments before
	BytesAfter     int64   // and after
	RecordsRemoved int64
	MapBytes       int // memory of the key map
}

// Compact runs one compaction pass (cleanup.policy=compact) over the closed segments: if
// the dirty part of the log (after the cleaner checkpoint) is at least MinCleanableRatio
// of the cleanable log, or older than MaxLag, it maps each key of the dirty part to its
// latest offset, within DedupeBufferBytes (if the map fills, only a prefix of the dirty
// part is covered), then rewrites every closed segment from the log start up to the end
// of the mapped part, keeping only the latest record of each key. Offsets never change.
// Tombstones (null values) already compacted once and older than DeleteRetention are
// dropped, as are records without a key. The active segment, segments younger than
// MinLag and segments not yet fsynced are never touched. Each rewritten segment is
// swapped in crash-safely (see swapSegment). Compact must not run concurrently with
// itself on one log (one cleaner owns it); appends, reads, retention and truncation run
// alongside, and the log's writer lock is held only for the swap itself.
func (l *Log) Compact(o CompactOptions) (CompactResult, error) {
	var res CompactResult
	if l.closed.Load() {
		return res, ErrClosed
	}
	if o.DedupeBufferBytes <= 0 {
		o.DedupeBufferBytes = DefaultDedupeBufferBytes
	}
	if o.Processor == nil {
		o.Processor = records.Default()
	}
	now := l.now()
	nowMs := now.UnixMilli()
	segs := l.cleanableSegments()
	defer releaseAll(segs)
	start := l.start.Load()
	firstDirty, _ := l.readCheckpoint(CleanerOffsetFile)
	firstDirty = max(firstDirty, start)
	res.FirstDirty, res.CleanedTo = firstDirty, firstDirty

	// The cleanable prefix ends at the first dirty segment younger than MinLag.
	end := len(segs)
	for i, s := range segs {
		if s.Next() <= firstDirty {
			continue
		}
		if ts, _ := s.MaxTimestamp(); o.MinLag > 0 && ts > nowMs-o.MinLag.Milliseconds() {
			end = i
			break
		}
	}
	segs = segs[:end]
	var cleanBytes, dirtyBytes int64
	firstDirtyTs := int64(-1)
	for _, s := range segs {
		if s.Next() <= firstDirty {
			cleanBytes += s.Size()
			continue
		}
		if firstDirtyTs < 0 {
			firstDirtyTs, _ = s.MaxTimestamp()
		}
		dirtyBytes += s.Size()
	}
	if dirtyBytes == 0 {
		return res, nil
	}
	res.DirtyRatio = float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
	overdue := o.MaxLag > 0 && o.MaxLag.Milliseconds() < math.MaxInt64/2 && firstDirtyTs >= 0 &&
		firstDirtyTs < nowMs-o.MaxLag.Milliseconds()
	if !o.Force && res.DirtyRatio < o.MinCleanableRatio && !overdue {
		return res, nil
	}
	res.Cleaned = true

	c := &cleaner{l: l, o: &o, m: newOffsetMap(o.DedupeBufferBytes), firstDirty: firstDirty,
		horizon: nowMs - o.DeleteRetention.Milliseconds(), now: now, res: &res}
	mapEnd, err := c.buildMap(segs)
	res.MapBytes = c.m.Bytes()
	if err != nil {
		return res, err
	}
	for _, s := range segs {
		if s.Base() >= mapEnd {
			break
		}
		if err := c.cleanSegment(s); err != nil {
			if errors.Is(err, errSwapStale) {
				continue
			}
			return res, err
		}
	}
	if mapEnd > firstDirty {
		l.ckMu.Lock()
		err = l.writeCheckpoint(CleanerOffsetFile, mapEnd)
		l.ckMu.Unlock()
		if err != nil {
			return res, err
		}
	}
	res.CleanedTo = mapEnd
	return res, nil
}

// cleanableSegments returns the closed segments (acquired): every segment but the active
// one, up to the first one not yet fully durable.
func (l *Log) cleanableSegments() []*segment.Segment {
	durable := l.DurableEnd()
	l.rmu.RLock()
	defer l.rmu.RUnlock()
	var out []*segment.Segment
	for _, s := range l.segs[:max(len(l.segs)-1, 0)] {
		if s.Next() > durable || !s.Sealed() {
			break
		}
		if s.Acquire() {
			out = append(out, s)
		}
	}
	return out
}

type cleaner struct {
	l          *Log
	o          *CompactOptions
	m          *offsetMap
	firstDirty int64
	horizon    int64 // tombstones with a timestamp before this may go
	now        time.Time
	res        *CompactResult
}

func (c *cleaner) stopped() bool { return c.o.Stopped != nil && c.o.Stopped() }

func (c *cleaner) read(n int) error {
	c.res.BytesRead += int64(n)
	if !c.o.Throttle.Wait(n, c.o.Stopped) || c.stopped() {
		return ErrCompactAborted
	}
	return nil
}

// buildMap records the latest offset of every key from firstDirty on, through segs, and
// returns the offset up to which the map is complete.
func (c *cleaner) buildMap(segs []*segment.Segment) (int64, error) {
	mapEnd := c.firstDirty
	errFull := errors.New("full")
	for _, s := range segs {
		if s.Next() <= c.firstDirty {
			continue
		}
		err := s.ScanFrom(max(c.firstDirty, s.Base()), func(h batch.Header, b []byte) error {
			if err := c.read(len(b)); err != nil {
				return err
			}
			if !h.IsControl() {
				r, err := c.o.Processor.NewReader(b)
				if err != nil {
					return fmt.Errorf("log: compaction: segment %d, batch %d: %w", s.Base(), h.BaseOffset, err)
				}
				for r.Next() {
					if k := r.Record().Key; k != nil && !c.m.put(k, r.Offset()) {
						r.Close()
						return errFull
					}
				}
				err = r.Err()
				r.Close()
				if err != nil {
					return fmt.Errorf("log: compaction: segment %d, batch %d: %w", s.Base(), h.BaseOffset, err)
				}
			}
			mapEnd = h.LastOffset() + 1
			return nil
		})
		if errors.Is(err, errFull) {
			if mapEnd == c.firstDirty {
				return mapEnd, fmt.Errorf("log: compaction: log.cleaner.dedupe.buffer.size %d too small for one batch", c.o.DedupeBufferBytes)
			}
			c.l.logger.Info("log: compaction: key map full; cleaning a prefix of the dirty log", "to", mapEnd)
			return mapEnd, nil
		}
		if err != nil {
			return mapEnd, err
		}
		mapEnd = s.Next()
	}
	return mapEnd, nil
}

// keep decides whether the record at off survives.
func (c *cleaner) keep(rec *records.Record, off, ts int64) bool {
	if rec.Key == nil {
		return false // a compacted topic keeps keyed records only (as Kafka's cleaner)
	}
	if latest, ok := c.m.get(rec.Key); ok && latest > off {
		return false
	}
	if rec.Value == nil && off < c.firstDirty && ts < c.horizon {
		return false // a tombstone compacted once and older than delete.retention.ms
	}
	return true
}

// filter returns the batch b (header h) without the records that do not survive: b itself
// when all do, a re-encoded batch (same codec and header fields, fewer records), an empty
// batch when none does but keepEmpty, or nil.
func (c *cleaner) filter(b []byte, h *batch.Header, keepEmpty bool) ([]byte, error) {
	r, err := c.o.Processor.NewReader(b)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var kept []records.Record
	n := 0
	for r.Next() {
		n++
		rec := r.Record()
		if c.keep(rec, r.Offset(), r.Timestamp()) {
			k := *rec
			k.Headers = slices.Clone(rec.Headers)
			kept = append(kept, k)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(kept) == n {
		return b, nil
	}
	c.res.RecordsRemoved += int64(n - len(kept))
	if len(kept) == 0 && !keepEmpty {
		return nil, nil
	}
	return c.o.Processor.Encode(nil, &records.Batch{Header: r.Header(), Records: kept}, records.Producer)
}

// cleanSegment rewrites s into the staging directory and swaps it in, unless nothing in
// it is removed.
func (c *cleaner) cleanSegment(s *segment.Segment) error {
	l := c.l
	if s.Size() == 0 {
		return nil
	}
	// Which batches must stay even when emptied: the segment's last one (it carries the
	// segment's offset range, so the next segment still follows it) and, per producer id,
	// the last one (the producer's idempotence state is rebuilt from batch headers).
	lastOfProducer := map[int64]int64{}
	last := int64(-1)
	if err := s.ScanFrom(s.Base(), func(h batch.Header, _ []byte) error {
		if h.ProducerID >= 0 {
			lastOfProducer[h.ProducerID] = h.BaseOffset
		}
		last = h.BaseOffset
		return nil
	}); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrClosed
	}
	stage := l.path(CleaningDir)
	if err := l.fs.RemoveAll(stage); err != nil {
		return fmt.Errorf("log: compaction: %w", err)
	}
	if err := l.fs.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("log: compaction: %w", err)
	}
	l.mu.Lock()
	so := l.segOpts(&l.mu.opts)
	l.mu.Unlock()
	ns, err := segment.Create(l.fs, stage, s.Base(), so, c.now)
	if err != nil {
		return err
	}
	discard := func(err error) error {
		ns.Close()
		return errors.Join(err, l.fs.RemoveAll(stage))
	}
	changed := false
	var buf []byte
	var infos []segment.BatchInfo
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := ns.Append(buf, infos)
		c.res.BytesAfter += int64(len(buf))
		buf, infos = buf[:0], infos[:0]
		return err
	}
	err = s.ScanFrom(s.Base(), func(h batch.Header, b []byte) error {
		if err := c.read(len(b)); err != nil {
			return err
		}
		out := b
		if !h.IsControl() {
			keepEmpty := h.BaseOffset == last || (h.ProducerID >= 0 && lastOfProducer[h.ProducerID] == h.BaseOffset)
			var err error
			if out, err = c.filter(b, &h, keepEmpty); err != nil {
				return fmt.Errorf("log: compaction: segment %d, batch %d: %w", s.Base(), h.BaseOffset, err)
			}
			changed = changed || len(out) != len(b)
		}
		if out == nil {
			return nil
		}
		buf = append(buf, out...)
		infos = append(infos, segment.BatchInfo{Base: h.BaseOffset, Last: h.LastOffset(), MaxTimestamp: h.MaxTimestamp, Size: len(out)})
		if len(buf) >= 1<<20 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil || !changed {
		return discard(err)
	}
	if err := ns.Seal(); err != nil {
		return discard(err)
	}
	if err := ns.Sync(true); err != nil {
		return discard(err)
	}
	if err := ns.Close(); err != nil {
		return errors.Join(err, l.fs.RemoveAll(stage))
	}
	if err := vfs.SyncDir(l.fs, stage); err != nil {
		return errors.Join(err, l.fs.RemoveAll(stage))
	}
	if err := l.swapSegment(s, stage, c.o.beforeSwapStep); err != nil {
		return err
	}
	c.res.Segments++
	c.res.BytesBefore += s.Size()
	return nil
}

// swapSegment replaces old (a closed segment of the log) by the cleaned segment staged
// in stage (same base offset, synced, indexes sealed). The protocol, which Open's
// finishSwaps understands at every step:
//
//  1. rename stage/<base>.index, .timeindex, then .log to <base>.<suffix>.swap in the
//     partition directory and fsync it: the .log.swap rename is the commit point;
//  2. rename the old segment's files to *.deleted (removed when its last reader is done);
//  3. rename <base>.index.swap, .timeindex.swap, then .log.swap over <base>.<suffix>;
//  4. open the new segment and put it in the segment list; fsync the directory.
//
// A crash before the .log.swap rename is durable leaves the old segment (the staged and
// .swap leftovers are deleted at Open); after it, Open completes steps 2-3. The writer
// lock is held from the check that old is still in the log to the end of step 4, minus
// the final directory fsync (a crash before it is covered by the same rules).
func (l *Log) swapSegment(old *segment.Segment, stage string, hook func(string) error) error {
	base := old.Base()
	name := segment.BaseName(base)
	step := func(s string) error {
		if hook != nil {
			return hook(s)
		}
		return nil
	}
	sufs := []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix}
	l.mu.Lock()
	i := slices.Index(l.segs, old)
	switch {
	case l.mu.closed:
		l.mu.Unlock()
		return errors.Join(ErrClosed, l.fs.RemoveAll(stage))
	case l.mu.err != nil:
		err := fmt.Errorf("%w: %w", ErrBroken, l.mu.err)
		l.mu.Unlock()
		return errors.Join(err, l.fs.RemoveAll(stage))
	case i < 0 || i == len(l.segs)-1:
		l.mu.Unlock()
		return errors.Join(errSwapStale, l.fs.RemoveAll(stage))
	}
	// Step 1: before the commit point a failure just abandons the swap.
	for _, suf := range sufs {
		err := step("rename " + suf + " to swap")
		if err == nil {
			err = l.fs.Rename(filepath.Join(stage, name+suf), l.path(name+suf+SwapSuffix))
		}
		if err != nil {
			for _, s := range sufs {
				_ = l.fs.Remove(l.path(name + s + SwapSuffix))
			}
			l.mu.Unlock()
			return errors.Join(fmt.Errorf("log: compaction swap of segment %d: %w", base, err), l.fs.RemoveAll(stage))
		}
	}
	// From here on the swap is committed (once durable): a failure breaks the log, and
	// the next Open completes the swap.
	fail := func(err error) error {
		err = fmt.Errorf("log: compaction swap of segment %d: %w", base, err)
		l.mu.err = err
		l.logger.Error("log: compaction swap failed; log refuses appends until reopened", "err", err)
		l.mu.Unlock()
		l.failDurable(err)
		return err
	}
	err := step("sync dir (commit)")
	if err == nil {
		err = l.syncDir()
	}
	if err != nil {
		return fail(err)
	}
	if err := step("mark old deleted"); err != nil {
		return fail(err)
	}
	if err := old.MarkDeleted(); err != nil {
		return fail(err)
	}
	for _, suf := range sufs {
		err := step("rename swap to " + suf)
		if err == nil {
			err = l.fs.Rename(l.path(name+suf+SwapSuffix), l.path(name+suf))
		}
		if err != nil {
			return fail(err)
		}
	}
	ns, _, err := segment.Open(l.fs, l.dir, base, l.segOpts(&l.mu.opts), false, false, l.now())
	if err != nil {
		return fail(err)
	}
	l.rmu.Lock()
	l.segs[i] = ns
	l.rmu.Unlock()
	l.mu.Unlock()
	_ = l.fs.Remove(stage)
	if err := step("sync dir (done)"); err != nil {
		return err
	}
	return l.syncDir()
}

// finishSwaps, called by Open before anything else reads the directory, deletes the
// staging directory and completes or abandons interrupted segment swaps: with
// <base>.log.swap present the swap is completed (each .swap file renamed over its target,
// an index without a .swap file deleted so that it is rebuilt); other .swap files are
// leftovers of a swap that never committed and are deleted.
func (l *Log) finishSwaps() error {
	if err := l.fs.RemoveAll(l.path(CleaningDir)); err != nil {
		return fmt.Errorf("log: remove %s: %w", CleaningDir, err)
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	committed := map[int64]bool{}
	for _, n := range names {
		if b, suf, ok := segment.ParseName(n); ok && suf == segment.LogSuffix+SwapSuffix {
			committed[b] = true
		}
	}
	changed := false
	for _, n := range names {
		stem, ok := strings.CutSuffix(n, SwapSuffix)
		if !ok {
			continue
		}
		if b, _, ok := segment.ParseName(stem); ok && !committed[b] {
			if err := l.fs.Remove(l.path(n)); err != nil {
				return fmt.Errorf("log: remove uncommitted %s: %w", n, err)
			}
			changed = true
		}
	}
	for _, n := range names {
		b, suf, ok := segment.ParseName(n)
		if !ok || suf != segment.LogSuffix+SwapSuffix {
			continue
		}
		name := segment.BaseName(b)
		for _, isuf := range []string{segment.IndexSuffix, segment.TimeIndexSuffix} {
			if slices.Contains(names, name+isuf+SwapSuffix) {
				err = l.fs.Rename(l.path(name+isuf+SwapSuffix), l.path(name+isuf))
			} else if err = l.fs.Remove(l.path(name + isuf)); errors.Is(err, errNotExist) {
				err = nil
			}
			if err != nil {
				return fmt.Errorf("log: complete swap of segment %d: %w", b, err)
			}
		}
		if err := l.fs.Rename(l.path(n), l.path(name+segment.LogSuffix)); err != nil {
			return fmt.Errorf("log: complete swap of segment %d: %w", b, err)
		}
		l.logger.Warn("log: recovery: completed an interrupted compaction swap", "segment", b)
		changed = true
	}
	if changed {
		return l.syncDir()
	}
	return nil
}
