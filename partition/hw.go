package partition

import "context"

// HWPolicy says what moves a partition's high watermark (HW).
type HWPolicy int

const (
	// HWLocal: the HW is the local durable end (the default, a single node): it follows
	// the log's group-commit flusher (flush.messages <= 0) or the log end offset
	// (flush.messages > 0).
	HWLocal HWPolicy = iota
	// HWExternal: the HW is set from outside (SetHighWatermark: the replica manager, from
	// the log end offsets the in-sync replicas report), and never passes the local durable
	// end: a record is visible, and acknowledged to acks=all, only once it is on disk here
	// too (the followers report only durable offsets). WhenDurable waits for the HW.
	HWExternal
)

// SetHWPolicy switches the high watermark policy. The HW never moves down: after a switch
// to HWExternal it stays where it is until the target set by SetHighWatermark passes it.
func (p *Partition) SetHWPolicy(pol HWPolicy) {
	p.mu.Lock()
	p.mu.policy = pol
	done := p.updateHWLocked()
	p.mu.Unlock()
	runCallbacks(done, nil)
}

// SetHighWatermark sets the target of the high watermark under HWExternal: the HW becomes
// min(hw, local durable end) when that is above it, now or when the local durable end
// catches up. The target may move down (an ISR that grows bounds it lower) but the HW
// never does; under HWLocal the target is recorded but unused.
func (p *Partition) SetHighWatermark(hw int64) {
	p.mu.Lock()
	p.mu.target = hw
	done := p.updateHWLocked()
	p.mu.Unlock()
	runCallbacks(done, nil)
}

// HighWatermark is the offset up to which records are visible to consumers.
func (p *Partition) HighWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.hw
}

// LastStableOffset is the offset up to which read_committed consumers read (LSO): the high
// watermark, or the first offset of the earliest transaction still open (or whose marker
// is not yet below the high watermark) if lower.
func (p *Partition) LastStableOffset() int64 {
	_, lso := p.bounds()
	return lso
}

// bounds returns the high watermark and the last stable offset, consistently.
func (p *Partition) bounds() (hw, lso int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.hw, p.stableLocked()
}

// DurableEnd is the local durable end: the offset below which the log is on disk
// (flush.messages <= 0), or the log end offset (flush.messages > 0). A follower reports
// it, not its log end, as its fetch offset: the leader's HW then counts only durable
// copies.
func (p *Partition) DurableEnd() int64 { return p.st.DurableEnd() }

// WhenFlushed calls fn once the log is durable (fsynced) below end, or with the
// flusher's error or ErrClosed, wrapped: a follower waits for it before it reports end as
// its fetch offset, whatever the high watermark. Under flush.messages > 0 it calls fn at
// once. fn must be quick and must not call into the partition.
func (p *Partition) WhenFlushed(end int64, fn func(error)) {
	p.st.WhenDurable(end, func(err error) {
		if err != nil {
			err = p.wrap(err)
		}
		fn(err)
	})
}

// advanceHW records that the local durable end moved to end and moves the high watermark
// as the policy allows. It is the log's OnDurable callback (called from its flusher, or
// after every append under flush.messages > 0, possibly out of order: the maximum counts).
func (p *Partition) advanceHW(end int64) {
	p.mu.Lock()
	moved := end > p.mu.local
	p.mu.local = max(p.mu.local, end)
	done := p.updateHWLocked()
	if moved && len(p.mu.waiters) > 0 {
		done = append(done, p.wakeLocked()...) // NotifyDurable's waiters
	}
	p.mu.Unlock()
	runCallbacks(done, nil)
}

// updateHWLocked moves the high watermark up to what the policy allows (never down), wakes
// the waiters it passes and returns their callbacks, for the caller to run once it has
// released mu. The caller holds mu.
func (p *Partition) updateHWLocked() []func(error) {
	hw := p.mu.local
	if p.mu.policy == HWExternal {
		hw = min(hw, p.mu.target)
	}
	if hw <= p.mu.hw {
		return nil
	}
	p.mu.hw = hw
	p.pruneCompletedLocked()
	return p.wakeLocked()
}

// WaitDurable waits until the records before end are durable (fsynced) or ctx is done.
// Under flush.messages > 0 (relaxed mode) it returns at once: the topic asked for
// Kafka's page-cache durability. Errors of the flusher are returned wrapped. Under
// HWExternal it waits for the high watermark as well (see WhenDurable).
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	done := make(chan error, 1)
	p.WhenDurable(end, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WhenDurable is WaitDurable without the wait: fn is called exactly once with its result
// (nil, or an error of the flusher, ErrClosed, wrapped), before WhenDurable returns when
// that is known already, else from the log's flusher once the high watermark covers end
// (fn then finds HighWatermark >= end) or the wait fails. fn must be quick and must not
// block or call into the partition; it gets no context: a caller with a deadline stops
// waiting on its own and ignores the later call.
//
// Under HWExternal (replication) fn is called once the records are durable here and the
// high watermark covers end (from SetHighWatermark's caller or the flusher), or with an
// error: the flusher's, ErrClosed, or ErrNotLeader when the replica becomes a follower
// meanwhile. The relaxed mode does not skip that wait.
func (p *Partition) WhenDurable(end int64, fn func(error)) {
	p.mu.Lock()
	hw, closed, external := p.mu.hw, p.mu.closed, p.mu.policy == HWExternal
	p.mu.Unlock()
	switch {
	case p.relaxed.Load() && !external:
		fn(nil)
	case hw >= end:
		fn(nil)
	case closed:
		fn(p.wrap(ErrClosed))
	case external:
		p.st.WhenDurable(end, func(err error) {
			if err != nil {
				fn(p.wrap(err))
				return
			}
			p.whenHW(end, fn)
		})
	default:
		p.st.WhenDurable(end, func(err error) {
			if err != nil {
				err = p.wrap(err)
			}
			fn(err)
		})
	}
}

// whenHW calls fn once the high watermark reaches end (at once if it has), or with
// ErrClosed or ErrNotLeader.
func (p *Partition) whenHW(end int64, fn func(error)) {
	p.mu.Lock()
	var err error
	switch {
	case p.mu.hw >= end:
	case p.mu.closed:
		err = p.wrap(ErrClosed)
	case !p.leader.Load():
		err = p.wrap(ErrNotLeader)
	default:
		p.mu.waiters[&waiter{after: end - 1, done: fn}] = struct{}{}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	fn(err)
}
