package log

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/stratalog/strata/segment"
)

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
// goes and EndOffset becomes its base offset; if off falls in a gap between batches
// (compaction), EndOffset becomes the end of the last batch kept, below off. The cut is
// fsynced before Truncate returns
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
	ready := l.takeDurableLocked(nil, func(cb *durableCB) (bool, error) { return cb.end > newEnd, ErrTruncated })
	l.d.Unlock()
	runDurable(ready)
	return err
}
