package log

import (
	"errors"
	"fmt"
)

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
	// Under flushMu too: a flush in progress (a shared Flusher's round) ends before the
	// files close, and later rounds skip the log (flushQueued).
	l.flushMu.Lock()
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		l.flushMu.Unlock()
		return nil
	}
	l.mu.closed = true
	l.closed.Store(true)
	written := l.mu.written
	l.mu.Unlock()
	l.flushMu.Unlock()
	if l.shared != nil {
		l.armFlushTimer() // stops it
	}

	var err error
	if keep && written && l.needsFlush() {
		err = l.flushOnce()
	}
	close(l.stop)
	l.wg.Wait()
	l.d.Lock()
	l.d.closed = true
	ready := l.takeDurableLocked(nil, func(*durableCB) (bool, error) { return true, ErrClosed })
	l.d.Unlock()
	runDurable(ready)

	l.mu.Lock()
	defer l.mu.Unlock()
	if keep && err == nil && l.mu.err == nil {
		act := l.activeLocked()
		err = act.Seal()
		if err == nil && written && !l.mu.opts.SharedMarker {
			// The .log is durable (flushed above or before). With SharedMarker the caller
			// syncs every log's files at once before it writes its marker.
			err = act.SyncIndexes()
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
