package log

import (
	"errors"
	"fmt"
	"math"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/segment"
)

// validateBatches frames b into batches and validates each (batch.Validate: length,
// magic, CRC, counts); with trusted set, the caller has validated them already and only
// the framing and headers are read (no CRC pass). Each BatchInfo holds the batch's base
// offset as written in it and its last offset delta in Last.
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
				infos = append(infos, segment.BatchInfo{Base: h.BaseOffset, Last: int64(h.LastOffsetDelta), MaxTimestamp: h.MaxTimestamp, Size: n})
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
	return l.append(batches, leaderEpoch, false, false, nil)
}

// AppendValidated is Append for batches the caller has already checked with
// batch.Validate each (the partition does, before its producer-state checks): it reads
// the batch framing and headers again but does not recompute the CRCs. A framing error
// still writes nothing.
//
// aborted are the aborted-transaction index entries of the abort markers among batches
// (the partition computes them from its producer state; each LastOffset is the offset the
// marker gets): they are written to the .txnindex of the segment that takes the batches,
// before the batches, and cut off again if the batches are not written.
func (l *Log) AppendValidated(batches []byte, leaderEpoch int32, aborted ...segment.AbortedTxn) (AppendInfo, error) {
	return l.append(batches, leaderEpoch, true, false, aborted)
}

// AppendAt appends batches that keep the offsets and leader epochs written in them (a
// follower's copy of its leader's log): nothing is stamped. Offsets must increase: the
// first batch's base offset must be at or above EndOffset and every batch must start
// above the previous one's last offset, else nothing is written and the error wraps
// ErrUnexpectedOffset. A gap is allowed (compaction removed those offsets from the
// leader's log); EndOffset becomes the last batch's last offset + 1. Validation, storage
// errors and durability are as for Append; AppendInfo.BaseOffset is the first batch's
// base offset.
func (l *Log) AppendAt(batches []byte) (AppendInfo, error) {
	return l.append(batches, 0, false, true, nil)
}

// AppendAtValidated is AppendAt for batches the caller has validated, with the
// aborted-transaction entries of their abort markers (see AppendValidated).
func (l *Log) AppendAtValidated(batches []byte, aborted ...segment.AbortedTxn) (AppendInfo, error) {
	return l.append(batches, 0, true, true, aborted)
}

// append validates (unless trusted) and appends batches, stamping offsets and the leader
// epoch unless keep is set (AppendAt), and the aborted-transaction entries.
func (l *Log) append(batches []byte, leaderEpoch int32, trusted, keep bool, aborted []segment.AbortedTxn) (AppendInfo, error) {
	infos, err := validateBatches(batches, trusted)
	if err != nil {
		return AppendInfo{}, err
	}
	if _, err := l.Repair(); err != nil {
		return AppendInfo{}, err
	}
	l.mu.Lock()
	info, err := l.appendLocked(batches, leaderEpoch, infos, keep, aborted)
	durable := l.mu.opts.durable()
	// While failing, the flush that proves the storage writable again comes at once.
	kick := err == nil && (durable || l.mu.unflushed >= l.mu.opts.FlushMessages || l.failing.Load())
	l.mu.Unlock()
	if err != nil {
		return AppendInfo{}, err
	}
	switch {
	case kick && durable && l.shared != nil && !keep:
		// Woken by its first waiter (see Flusher). A follower's append (keep) is
		// flushed at once: its fetcher reports only durable offsets to the leader.
		l.shared.enqueue(l, false)
	case kick:
		l.kickFlusher()
	}
	if !durable {
		l.notify(l.end.Load())
	}
	return info, nil
}

func (l *Log) appendLocked(b []byte, epoch int32, infos []segment.BatchInfo, keep bool, aborted []segment.AbortedTxn) (AppendInfo, error) {
	o := &l.mu.opts
	if l.mu.closed {
		return AppendInfo{}, ErrClosed
	}
	if l.mu.err != nil {
		l.mu.outage.errors++
		return AppendInfo{}, fmt.Errorf("%w: %w", ErrBroken, l.mu.err)
	}
	end := l.end.Load()
	off := end
	info := AppendInfo{BaseOffset: off, MaxTimestamp: -1, Batches: len(infos), Bytes: len(b)}
	if keep {
		info.BaseOffset = infos[0].Base
	}
	for i := range infos {
		bi := &infos[i]
		if int64(bi.Size) > o.SegmentBytes {
			return AppendInfo{}, fmt.Errorf("%w: batch %d is %d bytes, segment.bytes %d", ErrRecordTooLarge, i, bi.Size, o.SegmentBytes)
		}
		if !keep {
			bi.Base = off
		} else if bi.Base < off {
			return AppendInfo{}, fmt.Errorf("%w: batch %d starts at offset %d, expected %d or above", ErrUnexpectedOffset, i, bi.Base, off)
		}
		bi.Last += bi.Base
		off = bi.Last + 1
		info.MaxTimestamp = max(info.MaxTimestamp, bi.MaxTimestamp)
	}
	if !keep {
		p := 0
		for _, bi := range infos {
			batch.SetBaseOffset(b[p:], bi.Base)
			batch.SetLeaderEpoch(b[p:], epoch)
			p += bi.Size
		}
	}
	info.LastOffset = off - 1
	for _, a := range aborted {
		if a.LastOffset < info.BaseOffset || a.LastOffset > info.LastOffset || a.FirstOffset > a.LastOffset {
			return AppendInfo{}, fmt.Errorf("%w: aborted transaction %d..%d outside the appended offsets %d..%d",
				ErrInvalidBatch, a.FirstOffset, a.LastOffset, info.BaseOffset, info.LastOffset)
		}
	}
	act := l.activeLocked()
	if act.Full(len(b), info.LastOffset, l.now(), o.SegmentBytes, o.SegmentMs) {
		if err := l.rollLocked(); err != nil {
			// Nothing changed but the old segment's seal: the next append rolls again.
			err = storageErr(err)
			l.failLocked(err, false, 0)
			return AppendInfo{}, err
		}
		info.Rolled = l.activeLocked() != act
		act = l.activeLocked()
	}
	if !segment.FitsOffsets(act.Base(), info.LastOffset) {
		// Only AppendAt gets here: a gap too wide for the index's relative offsets.
		return AppendInfo{}, fmt.Errorf("%w: offsets %d..%d do not fit a segment at %d", ErrUnexpectedOffset, info.BaseOffset, info.LastOffset, act.Base())
	}
	if err := act.AppendAbortedTxns(aborted...); err != nil {
		return AppendInfo{}, storageErr(err)
	}
	if err := act.Append(b, infos); err != nil {
		// The segment cut the failed write off, unless that failed too (then it refuses
		// appends until repaired). The entries of its markers go too (or, failing that,
		// the partition's reconciliation at the next open removes them).
		if len(aborted) > 0 {
			_ = act.TruncateAbortedTxns(end)
		}
		err = storageErr(err)
		l.failLocked(err, act.Err() != nil, math.MaxInt64)
		return AppendInfo{}, err
	}
	l.mu.unflushed += off - end
	l.mu.written = true
	l.end.Store(off)
	return info, nil
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

// kickFlusher asks the log's flusher (its own, or the shared Options.Flusher) for a
// flush. It takes no lock of the log and may be called holding them.
func (l *Log) kickFlusher() {
	if l.shared != nil {
		l.shared.enqueue(l, true)
		return
	}
	l.gc.arrive()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}
