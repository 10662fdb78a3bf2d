package log

import (
	"fmt"
	"math"
	"sync"
	"time"
)

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

// armFlushTimer (re)starts the flush.ms timer of a log on a shared Flusher: in
// non-durable mode with flush.ms > 0 it queues the log every flush.ms; otherwise it is
// stopped.
func (l *Log) armFlushTimer() {
	l.tmu.Lock()
	defer l.tmu.Unlock()
	d := time.Duration(l.flushMs.Load())
	switch {
	case d <= 0 || l.durable.Load() || l.closed.Load():
		if l.tmr != nil {
			l.tmr.Stop()
		}
	case l.tmr == nil:
		l.tmr = time.AfterFunc(d, l.flushTimer)
	default:
		l.tmr.Reset(d)
	}
}

func (l *Log) flushTimer() {
	if l.closed.Load() {
		return
	}
	l.kickFlusher()
	l.armFlushTimer()
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
			l.gc.wait(busy)
		}
		began := time.Now()
		l.gc.cut(began)
		_ = l.flushOnce()
		l.gc.done(time.Since(began))
		busy = l.durable.Load() && l.end.Load() > l.DurableEnd()
	}
}

// flushOnce syncs the rolled segments (then the directory and the recovery point) and
// the active segment, then publishes the new durable end and wakes the waiters.
func (l *Log) flushOnce() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.flushLocked()
}

// flushQueued is the flush a shared Flusher runs for this log: flushOnce, unless the log
// is closing (Close does its own last flush, and then closes the files).
func (l *Log) flushQueued() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if !l.closed.Load() {
		_ = l.flushLocked()
	}
}

// wakeShared tells a shared Flusher that an append of this log is waited for: the round
// starts now rather than after unwaitedDelay.
func (l *Log) wakeShared() {
	if l.shared != nil {
		l.shared.wake()
	}
}

// flushLocked is flushOnce with flushMu held.
func (l *Log) flushLocked() error {
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
	var began time.Time
	if l.onFlush != nil {
		began = time.Now()
	}
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
	if err == nil && l.onFlush != nil {
		l.onFlush(time.Since(began))
	}
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
	l.ready = l.takeDurableLocked(l.ready, func(cb *durableCB) (bool, error) { return cb.end <= l.d.end, nil })
	l.d.Unlock()
	runDurable(l.ready)
	clear(l.ready)
	return nil
}

func (l *Log) failDurable(err error) {
	l.d.Lock()
	if l.d.err == nil {
		l.d.err, l.d.last = err, err
		l.d.fails++
	}
	werr := fmt.Errorf("%w: %w", ErrBroken, l.d.err)
	ready := l.takeDurableLocked(nil, func(*durableCB) (bool, error) { return true, werr })
	l.d.Unlock()
	runDurable(ready)
}

// durableCB is a WhenDurable registration (fn) or a WaitDurable one (ch); err is set
// when it is taken.
type durableCB struct {
	end int64
	fn  func(error)
	ch  chan error
	err error
}

// takeDurableLocked removes the callbacks for which due reports true and returns them in
// dst[:0], with the error it gives. l.d is held.
func (l *Log) takeDurableLocked(dst []durableCB, due func(*durableCB) (bool, error)) []durableCB {
	ready := dst[:0]
	keep := l.d.cbs[:0]
	for i := range l.d.cbs {
		cb := &l.d.cbs[i] // by index: a loop variable's address would escape
		ok, err := due(cb)
		if !ok {
			keep = append(keep, *cb)
			continue
		}
		cb.err = err
		ready = append(ready, *cb)
	}
	clear(l.d.cbs[len(keep):])
	l.d.cbs = keep
	return ready
}

// runDurable calls the taken callbacks, outside the log's locks.
func runDurable(ready []durableCB) {
	for _, cb := range ready {
		if cb.ch != nil {
			cb.ch <- cb.err
		} else {
			cb.fn(cb.err)
		}
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
		l.wakeShared()
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
	gen := l.gen.Load()
	end = min(end, l.end.Load())
	l.d.Lock()
	switch {
	case l.d.end >= end:
		l.d.Unlock()
		return nil
	case l.d.err != nil:
		err := fmt.Errorf("%w: %w", ErrBroken, l.d.err)
		l.d.Unlock()
		return err
	case l.gen.Load() != gen && end > l.d.truncEnd:
		l.d.Unlock()
		return ErrTruncated
	case l.d.closed:
		l.d.Unlock()
		return ErrClosed
	}
	// A registration like WhenDurable's, answered on a channel: the flusher wakes only
	// the waiters its flush covers (a failure, truncation or Close wakes all it concerns).
	ch := waitChans.Get().(chan error)
	l.d.cbs = append(l.d.cbs, durableCB{end: end, ch: ch})
	l.d.Unlock()
	l.wakeShared()
	err := <-ch
	waitChans.Put(ch)
	return err
}

// waitChans are WaitDurable's channels (buffered, empty when put back).
var waitChans = sync.Pool{New: func() any { return make(chan error, 1) }}

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

// Flush fsyncs everything now.
func (l *Log) Flush() error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.flushOnce()
}
