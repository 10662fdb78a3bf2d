package log

import (
	"fmt"
	"time"
)

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
