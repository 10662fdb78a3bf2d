package log

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stratalog/strata/index"
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
	// ProducerLast, when set, tells the producer state of the partition: the last offset
	// of producer id pid's last batch, and whether that producer is still active (not
	// expired). Compaction keeps a batch emptied of its records only if it is the last
	// batch of an active producer (Kafka's rule), or the last batch of a cleaned group of
	// segments. Nil (a bare log): the last batch of each producer id within each group is
	// kept instead, which keeps at least what producer state needs.
	ProducerLast func(pid int64) (lastOffset int64, active bool)
	// StableOffset is the partition's last stable offset: only segments wholly below it
	// are cleaned, so that every transaction they hold is decided (committed or aborted,
	// its marker in the log). 0 means no bound (a log without open transactions).
	StableOffset int64
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
	Segments       int     // segments rewritten and swapped out (merged segments count each)
	SegmentsAfter  int     // segments swapped in (fewer than Segments when merged)
	Repaired       int     // batches rewritten because they were empty but compressed
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
// dropped, as are records without a key. A batch left without records is dropped unless
// producer state needs it (see CompactOptions.ProducerLast) or it ends its group; then
// it stays as a header-only batch with codec none (batch.AppendEmpty), as Kafka writes
// it. Adjacent segments are merged while cleaning, in groups that fit segment.bytes,
// the index size and 32-bit relative offsets (Kafka's groupSegmentsBySize), so the
// segment count of a compacted log stays bounded. The active segment, segments younger
// than MinLag and segments not yet fsynced are never touched. Each group is swapped in
// crash-safely (see swapSegments). A pass also runs, whatever the dirty ratio, when a
// read found a batch that is empty but still flagged compressed (written by earlier
// versions): the pass rewrites it. Compact must not run concurrently with itself on one
// log (one cleaner owns it); appends, reads, retention and truncation run alongside, and
// the log's writer lock is held only for the swaps.
//
// Transactions, as Kafka's cleaner: only segments below StableOffset are cleaned; the
// records of aborted transactions (the .txnindex entries say which) are removed and never
// supersede a key; committed transactional records are compacted like any other; a
// control batch (marker) is removed once its transaction's records are gone, it was
// cleaned once and it is older than DeleteRetention (dropMarker; header-only if it must
// stay as an empty batch). The .txnindex entries of a group's segments go to the cleaned
// segment, but those of removed markers.
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
	segs := l.cleanableSegments(o.StableOffset)
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
		if o.MinLag <= 0 {
			continue
		}
		if ts, _, err := s.MaxTimestamp(); err != nil || ts > nowMs-o.MinLag.Milliseconds() {
			end = i // too young, or unknown
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
			firstDirtyTs, _, _ = s.MaxTimestamp()
		}
		dirtyBytes += s.Size()
	}
	// A read found an empty compressed batch: clean whatever is cleanable now.
	repair := len(segs) > 0 && l.repair.Swap(false)
	if dirtyBytes == 0 && !repair {
		return res, nil
	}
	if cleanBytes+dirtyBytes > 0 {
		res.DirtyRatio = float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
	}
	overdue := o.MaxLag > 0 && o.MaxLag.Milliseconds() < math.MaxInt64/2 && firstDirtyTs >= 0 &&
		firstDirtyTs < nowMs-o.MaxLag.Milliseconds()
	if !o.Force && !repair && res.DirtyRatio < o.MinCleanableRatio && !overdue {
		return res, nil
	}
	res.Cleaned = true
	c := &cleaner{l: l, o: &o, m: newOffsetMap(o.DedupeBufferBytes), firstDirty: firstDirty,
		horizon: nowMs - o.DeleteRetention.Milliseconds(), now: now, res: &res, txnData: map[int64]bool{}}
	if len(segs) > 0 {
		if err := c.loadAborted(start, segs[len(segs)-1].Next()); err != nil {
			return res, err
		}
	}
	err := c.clean(segs)
	if err != nil && repair {
		l.repair.Store(true) // try again next pass
	}
	return res, err
}

// clean maps the dirty part of segs, then cleans segs up to the end of the map in groups
// and moves the cleaner checkpoint.
func (c *cleaner) clean(segs []*segment.Segment) error {
	l := c.l
	mapEnd, err := c.buildMap(segs)
	c.res.MapBytes = c.m.Bytes()
	if err != nil {
		return err
	}
	n := 0
	for n < len(segs) && segs[n].Base() < mapEnd {
		n++
	}
	l.mu.Lock()
	lo := l.mu.opts
	l.mu.Unlock()
	for _, g := range groupSegments(segs[:n], lo.SegmentBytes, lo.SegmentIndexBytes, lo.IndexIntervalBytes) {
		if err := c.cleanGroup(g); err != nil && !errors.Is(err, errSwapStale) {
			return err
		}
	}
	if mapEnd > c.firstDirty {
		l.ckMu.Lock()
		err = l.writeCheckpoint(CleanerOffsetFile, mapEnd)
		l.ckMu.Unlock()
		if err != nil {
			return err
		}
	}
	c.res.CleanedTo = mapEnd
	return nil
}

// groupSegments splits segs (adjacent closed segments, oldest first) into runs that are
// cleaned into one segment each: a run grows while its total size stays within segBytes,
// the time index it needs (one 12-byte entry per indexInterval bytes, plus two) within
// indexBytes, and its offsets within the 32-bit relative offsets of the index. As in
// Kafka, the sizes before cleaning are used, so a run never outgrows a segment.
func groupSegments(segs []*segment.Segment, segBytes int64, indexBytes, indexInterval int) [][]*segment.Segment {
	var groups [][]*segment.Segment
	for len(segs) > 0 {
		n, size := 1, segs[0].Size()
		for n < len(segs) {
			s := segs[n]
			total := size + s.Size()
			entries := total/int64(max(indexInterval, 1)) + 2
			if total > segBytes || entries*index.TimeEntrySize > int64(indexBytes) ||
				!segment.FitsOffsets(segs[0].Base(), s.Next()-1) {
				break
			}
			size = total
			n++
		}
		groups = append(groups, segs[:n])
		segs = segs[n:]
	}
	return groups
}

// cleanableSegments returns the closed segments (acquired): every segment but the active
// one, up to the first one not yet fully durable.
func (l *Log) cleanableSegments(stable int64) []*segment.Segment {
	durable := l.DurableEnd()
	if stable > 0 {
		durable = min(durable, stable)
	}
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
	aborted    map[int64][]segment.AbortedTxn // by producer id: the aborted transactions
	// txnData holds the producers whose transaction has a batch with records in what
	// this pass has read so far, from the log start (Kafka's ongoing transactions of the
	// cleaner): its marker must stay.
	txnData map[int64]bool
}

// dropMarker reads marker h (a control batch with its record) and reports whether it
// goes, as Kafka's cleaner removes markers: no batch of its transaction is left before it
// (an aborted transaction's records went in an earlier pass; a committed one's were all
// compacted away), it was cleaned once already (below the first dirty offset) and is
// older than delete.retention.ms. A marker that goes but must stay as an empty batch
// (keepEmpty) stays header-only, its record gone, as any other batch (Kafka's
// RETAIN_EMPTY): the partition keeps its producers' state in snapshots, not in the log.
func (c *cleaner) dropMarker(h *batch.Header) bool {
	data := c.txnData[h.ProducerID]
	delete(c.txnData, h.ProducerID)
	return !data && h.LastOffset() < c.firstDirty && h.MaxTimestamp < c.horizon
}

// loadAborted reads the aborted transactions overlapping [from, upper).
func (c *cleaner) loadAborted(from, upper int64) error {
	es, err := c.l.AbortedTxns(from, upper)
	if err != nil {
		return fmt.Errorf("log: compaction: %w", err)
	}
	c.aborted = make(map[int64][]segment.AbortedTxn)
	for _, e := range es {
		c.aborted[e.ProducerID] = append(c.aborted[e.ProducerID], e)
	}
	return nil
}

// abortedBatch reports whether h is a batch of an aborted transaction.
func (c *cleaner) abortedBatch(h *batch.Header) bool {
	if !h.IsTransactional() || h.IsControl() {
		return false
	}
	for _, e := range c.aborted[h.ProducerID] {
		if e.FirstOffset <= h.BaseOffset && h.BaseOffset <= e.LastOffset {
			return true
		}
	}
	return false
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
			if !h.IsControl() && !c.abortedBatch(&h) {
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
// when all do (and b is not an empty compressed batch), a re-encoded batch (same codec
// and header fields, fewer records), the header-only form of b (batch.AppendEmpty) when
// none does but keepEmpty, or nil.
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
	c.res.RecordsRemoved += int64(n - len(kept))
	switch {
	case len(kept) > 0 && len(kept) == n:
		return b, nil
	case len(kept) > 0:
		return c.o.Processor.Encode(nil, &records.Batch{Header: r.Header(), Records: kept}, records.Producer)
	case !keepEmpty:
		return nil, nil
	case h.RecordCount == 0 && h.Codec() == batch.CodecNone && len(b) == batch.HeaderSize:
		return b, nil // already header-only
	}
	if n == 0 {
		c.res.Repaired++ // empty, but not in Kafka's header-only form (compressed)
	}
	return batch.AppendEmpty(nil, h), nil
}

// cleanGroup rewrites the segments of g (adjacent, oldest first) into one segment in the
// staging directory and swaps it in for them, unless g is one segment in which nothing
// changes.
func (c *cleaner) cleanGroup(g []*segment.Segment) error {
	l := c.l
	var size int64
	for _, s := range g {
		size += s.Size()
	}
	if len(g) == 1 && size == 0 {
		return nil
	}
	// Which batches must stay when emptied: the group's last one (it carries the offset
	// range, so the next segment still follows) and each active producer's last one
	// (idempotence state is rebuilt from batch headers at open). A bare log, without
	// producer state, keeps each producer's last batch of the group.
	producerLast := c.o.ProducerLast
	if producerLast == nil {
		last := map[int64]int64{}
		for _, s := range g {
			if err := s.ScanFrom(s.Base(), func(h batch.Header, _ []byte) error {
				if h.ProducerID >= 0 {
					last[h.ProducerID] = h.LastOffset()
				}
				return nil
			}); err != nil {
				return err
			}
		}
		producerLast = func(pid int64) (int64, bool) { off, ok := last[pid]; return off, ok }
	}
	groupEnd := g[len(g)-1].Next()
	keepEmpty := func(h *batch.Header) bool {
		if h.LastOffset()+1 >= groupEnd {
			return true
		}
		if h.ProducerID < 0 {
			return false
		}
		last, active := producerLast(h.ProducerID)
		return active && last == h.LastOffset()
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
	so.Cache = nil // the staged segment is closed before the swap
	ns, err := segment.Create(l.fs, stage, g[0].Base(), so, c.now)
	if err != nil {
		return err
	}
	discard := func(err error) error {
		ns.Close()
		return errors.Join(err, l.fs.RemoveAll(stage))
	}
	changed := len(g) > 1
	var (
		buf     []byte
		infos   []segment.BatchInfo
		after   int64
		removed = map[int64]bool{} // the offsets of the markers removed
	)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := ns.Append(buf, infos)
		after += int64(len(buf))
		buf, infos = buf[:0], infos[:0]
		return err
	}
	for _, s := range g {
		err = s.ScanFrom(s.Base(), func(h batch.Header, b []byte) error {
			if err := c.read(len(b)); err != nil {
				return err
			}
			out := b
			if h.IsTransactional() && !h.IsControl() && h.RecordCount > 0 {
				c.txnData[h.ProducerID] = true
			}
			switch {
			case h.IsControl() && h.RecordCount == 0: // a marker an earlier pass emptied
				delete(c.txnData, h.ProducerID)
				if !keepEmpty(&h) {
					out, changed = nil, true
				}
			case h.IsControl():
				if c.dropMarker(&h) {
					out, changed, removed[h.LastOffset()] = nil, true, true
					if keepEmpty(&h) {
						out = batch.AppendEmpty(nil, &h)
					}
				}
			case h.RecordCount > 0 && c.abortedBatch(&h):
				c.res.RecordsRemoved += int64(h.RecordCount)
				out = nil
				if keepEmpty(&h) {
					out = batch.AppendEmpty(nil, &h)
				}
				changed = true
			default:
				var err error
				if out, err = c.filter(b, &h, keepEmpty(&h)); err != nil {
					return fmt.Errorf("log: compaction: segment %d, batch %d: %w", s.Base(), h.BaseOffset, err)
				}
				changed = changed || len(out) != len(b) || (len(out) > 0 && &out[0] != &b[0])
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
		if err != nil {
			break
		}
	}
	if err == nil {
		err = flush()
	}
	if err != nil || !changed {
		return discard(err)
	}
	var aborted []segment.AbortedTxn
	for _, s := range g {
		es, err := s.AbortedTxns()
		if err != nil {
			return discard(err)
		}
		aborted = append(aborted, es...)
	}
	aborted = slices.DeleteFunc(aborted, func(e segment.AbortedTxn) bool { return removed[e.LastOffset] })
	if _, err := ns.SetAbortedTxns(aborted); err != nil {
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
	if err := l.swapSegments(g, stage, c.o.beforeSwapStep); err != nil {
		return err
	}
	c.res.Segments += len(g)
	c.res.SegmentsAfter++
	c.res.BytesBefore += size
	c.res.BytesAfter += after
	return nil
}

// swapSegments replaces old (adjacent closed segments of the log, oldest first) by the
// cleaned segment staged in stage (base offset old[0]'s, ending where the last of old
// ends, synced, indexes sealed). The protocol, which Open's finishSwaps understands at
// every step:
//
//  1. rename stage/<base>.index, .timeindex, then .log to <base>.<suffix>.swap in the
//     partition directory and fsync it: the .log.swap rename is the commit point;
//  2. rename the files of every old segment to *.deleted, oldest first (each removed
//     when its last reader is done);
//  3. rename <base>.index.swap, .timeindex.swap, then .log.swap over <base>.<suffix>;
//  4. open the new segment and put it in the segment list in place of old; fsync the
//     directory.
//
// A crash before the .log.swap rename is durable leaves the old segments (the staged and
// .swap leftovers are deleted at Open); after it, Open completes steps 2-3, deleting the
// segments that start inside the new segment's offset range. The writer lock is held
// from the check that old is still in the log to the end of step 4, minus the final
// directory fsync (a crash before it is covered by the same rules).
func (l *Log) swapSegments(old []*segment.Segment, stage string, hook func(string) error) error {
	base := old[0].Base()
	name := segment.BaseName(base)
	step := func(s string) error {
		if hook != nil {
			return hook(s)
		}
		return nil
	}
	sufs := []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix}
	if _, err := l.fs.Stat(filepath.Join(stage, name+segment.TxnIndexSuffix)); err == nil {
		sufs = slices.Insert(sufs, 2, segment.TxnIndexSuffix)
	}
	l.mu.Lock()
	i := slices.Index(l.segs, old[0])
	switch {
	case l.mu.closed:
		l.mu.Unlock()
		return errors.Join(ErrClosed, l.fs.RemoveAll(stage))
	case l.mu.err != nil:
		err := fmt.Errorf("%w: %w", ErrBroken, l.mu.err)
		l.mu.Unlock()
		return errors.Join(err, l.fs.RemoveAll(stage))
	case i < 0 || i+len(old) > len(l.segs)-1 || !slices.Equal(l.segs[i:i+len(old)], old):
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
	for _, s := range old {
		if err := step(fmt.Sprintf("mark %d deleted", s.Base())); err != nil {
			return fail(err)
		}
		if err := s.MarkDeleted(); err != nil {
			return fail(err)
		}
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
	l.segs = slices.Replace(l.segs, i, i+len(old), ns)
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
// <base>.log.swap present the swap is completed (the segments that start inside its
// offset range, which it replaces, are deleted; each .swap file is renamed over its
// target, an index without a .swap file deleted so that it is rebuilt); other .swap
// files are leftovers of a swap that never committed and are deleted.
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
		// The segments merged into this one start after b and before its end.
		next, err := l.swapEnd(n, b)
		if err != nil {
			return err
		}
		var merged []int64
		for _, m := range names {
			if mb, msuf, ok := segment.ParseName(m); ok && msuf == segment.LogSuffix && mb > b && mb < next {
				merged = append(merged, mb)
			}
		}
		if err := l.removeSegmentFiles(merged); err != nil {
			return err
		}
		for _, isuf := range []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.TxnIndexSuffix} {
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
		l.logger.Warn("log: recovery: completed an interrupted compaction swap", "segment", b, "merged", merged)
		changed = true
	}
	if changed {
		return l.syncDir()
	}
	return nil
}

// swapEnd scans the committed swap log name (base b) and returns its next offset.
func (l *Log) swapEnd(name string, b int64) (int64, error) {
	f, err := l.fs.Open(l.path(name))
	if err != nil {
		return 0, fmt.Errorf("log: complete swap of segment %d: %w", b, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, fmt.Errorf("log: complete swap of segment %d: %w", b, err)
	}
	res := segment.Scan(f, size, b, false, nil)
	if res.Err != nil || res.Valid != size {
		// Synced before the commit: only a damaged disk gets here.
		return 0, fmt.Errorf("log: complete swap of segment %d: %w: %v", b, segment.ErrCorrupt, res.Err)
	}
	return res.Next, nil
}
