package log

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// EnforceRetention deletes closed segments, oldest first and never the active one, while
// their largest timestamp is older than now - retention.ms or while the log exceeds
// retention.bytes, and advances the log start offset to the first segment kept.
//
// The writer lock is held only to pick the segments, take them out of the segment list
// and move the start offset, all in memory: the file work (renaming the segments to
// *.deleted, unlinking them once no reader holds a Chunk, and the directory fsync) runs
// after it is released, so appends and fetches on the partition never wait for it. No
// log-start checkpoint is written: the new start is the base of the first segment kept,
// which recovery takes as the start whenever the checkpoint is lower; a crash before
// the directory fsync brings deleted segments back, and the next run deletes them again.
func (l *Log) EnforceRetention() (deleted int, err error) {
	return l.EnforceRetentionBelow(math.MaxInt64)
}

// EnforceRetentionBelow is EnforceRetention deleting only segments whose offsets are all
// below limit (the partition passes its last stable offset: retention never deletes a
// record an open transaction, or a read_committed consumer, still needs).
func (l *Log) EnforceRetentionBelow(limit int64) (deleted int, err error) {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	o := &l.mu.opts
	now := l.now().UnixMilli()
	var size int64
	for _, s := range l.segs {
		size += s.Size()
	}
	n := 0
	var tsErr error
	for n < len(l.segs)-1 && l.segs[n+1].Base() <= limit {
		s := l.segs[n]
		ts, _, err := s.MaxTimestamp()
		if err != nil { // keep what cannot be judged
			tsErr = fmt.Errorf("log: retention: %w", err)
			break
		}
		byTime := o.RetentionMs >= 0 && ts < now-o.RetentionMs.Milliseconds()
		bySize := o.RetentionBytes >= 0 && size-s.Size() >= o.RetentionBytes
		if !byTime && !bySize {
			break
		}
		size -= s.Size()
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, tsErr
	}
	l.rmu.Lock()
	dead := slices.Clone(l.segs[:n])
	l.segs = slices.Delete(l.segs, 0, n)
	if ns := l.segs[0].Base(); ns > l.start.Load() {
		l.start.Store(ns)
	}
	l.rmu.Unlock()
	l.mu.Unlock()

	err = tsErr
	for _, s := range dead {
		err = errors.Join(err, s.MarkDeleted())
	}
	if err = errors.Join(err, l.syncDir()); err != nil {
		return n, storageErr(err)
	}
	l.logger.Info("log: retention deleted segments", "segments", n, "log_start", l.start.Load())
	return n, nil
}
