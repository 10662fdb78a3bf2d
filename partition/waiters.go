package partition

// waiter is a registered interest in the high watermark passing an offset.
type waiter struct {
	after int64
	wake  chan<- struct{}
}

// NotifyHW arranges a non-blocking send on wake as soon as the high watermark is above
// after (new records at offset after are visible), or the partition closes; if that is
// already so, the send happens before NotifyHW returns. One channel (buffered, capacity
// 1) may be registered with many partitions: a long-poll fetch parks on it once for all
// its partitions. stop unregisters the waiter; it is safe to call at any time, also
// after the waiter fired, and must be called to release a waiter that never fired.
func (p *Partition) NotifyHW(after int64, wake chan<- struct{}) (stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.hw > after || p.mu.closed {
		signal(wake)
		return func() {}
	}
	w := &waiter{after: after, wake: wake}
	p.mu.waiters[w] = struct{}{}
	return func() {
		p.mu.Lock()
		delete(p.mu.waiters, w)
		p.mu.Unlock()
	}
}

func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// wakeLocked fires and drops the waiters the high watermark has passed. p.mu is held.
func (p *Partition) wakeLocked() {
	for w := range p.mu.waiters {
		if p.mu.hw > w.after {
			signal(w.wake)
			delete(p.mu.waiters, w)
		}
	}
}

// wakeAllLocked fires and drops every waiter (the partition closes). p.mu is held.
func (p *Partition) wakeAllLocked() {
	for w := range p.mu.waiters {
		signal(w.wake)
		delete(p.mu.waiters, w)
	}
}
