package partition

// waiter is a registered interest in the high watermark (or, stable, the last stable
// offset) passing an offset: a channel to signal (NotifyHW, NotifyStable) or, for
// WhenDurable under HWExternal, a callback to call.
type waiter struct {
	after int64
	kind  waitKind
	wake  chan<- struct{}
	done  func(error)
}

// waitKind is the end a waiter waits on.
type waitKind uint8

const (
	waitHW      waitKind = iota // the high watermark
	waitStable                  // the last stable offset
	waitDurable                 // the local durable end (a follower's fetch on the leader)
)

// NotifyHW arranges a non-blocking send on wake as soon as the high watermark is above
// after (new records at offset after are visible), or the partition closes; if that is
// already so, the send happens before NotifyHW returns. One channel (buffered, capacity
// 1) may be registered with many partitions: a long-poll fetch parks on it once for all
// its partitions. stop unregisters the waiter; it is safe to call at any time, also
// after the waiter fired, and must be called to release a waiter that never fired.
func (p *Partition) NotifyHW(after int64, wake chan<- struct{}) (stop func()) {
	return p.notify(after, waitHW, wake)
}

// NotifyStable is NotifyHW for the last stable offset (a read_committed long poll): wake
// gets a send once the LSO is above after (or the partition closes).
func (p *Partition) NotifyStable(after int64, wake chan<- struct{}) (stop func()) {
	return p.notify(after, waitStable, wake)
}

// NotifyDurable is NotifyHW for the local durable end (DurableEnd): the leader's long
// poll for a follower's fetch, which reads past the high watermark (ReadLogEnd) and
// whose own fetch moves the high watermark.
func (p *Partition) NotifyDurable(after int64, wake chan<- struct{}) (stop func()) {
	return p.notify(after, waitDurable, wake)
}

func (p *Partition) notify(after int64, kind waitKind, wake chan<- struct{}) (stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.endLocked(kind) > after || p.mu.closed {
		signal(wake)
		return func() {}
	}
	w := &waiter{after: after, kind: kind, wake: wake}
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

// wakeLocked fires and drops the waiters the high watermark (or the last stable offset)
// has passed; it returns the callbacks among them, for the caller to run (runCallbacks)
// once it has released p.mu.
func (p *Partition) wakeLocked() []func(error) {
	var done []func(error)
	lso := int64(-1)
	for w := range p.mu.waiters {
		end := p.mu.hw
		switch w.kind {
		case waitStable:
			if lso < 0 {
				lso = p.stableLocked()
			}
			end = lso
		case waitDurable:
			end = p.mu.local
		}
		if end > w.after {
			done = w.fire(done)
			delete(p.mu.waiters, w)
		}
	}
	return done
}

// endLocked is the end a waiter of kind waits on. p.mu is held.
func (p *Partition) endLocked(kind waitKind) int64 {
	switch kind {
	case waitStable:
		return p.stableLocked()
	case waitDurable:
		return p.mu.local
	default:
		return p.mu.hw
	}
}

// wakeAllLocked fires and drops every waiter (the partition closes) and returns the
// callbacks among them. p.mu is held.
func (p *Partition) wakeAllLocked() []func(error) {
	var done []func(error)
	for w := range p.mu.waiters {
		done = w.fire(done)
		delete(p.mu.waiters, w)
	}
	return done
}

// takeCallbacksLocked drops the callback waiters (the replica stops being the leader)
// and returns their callbacks; channel waiters stay. p.mu is held.
func (p *Partition) takeCallbacksLocked() []func(error) {
	var done []func(error)
	for w := range p.mu.waiters {
		if w.done != nil {
			done = append(done, w.done)
			delete(p.mu.waiters, w)
		}
	}
	return done
}

// fire signals w's channel, or appends its callback to done.
func (w *waiter) fire(done []func(error)) []func(error) {
	if w.done != nil {
		return append(done, w.done)
	}
	signal(w.wake)
	return done
}

// runCallbacks calls every callback with err; no lock of the partition may be held.
func runCallbacks(done []func(error), err error) {
	for _, fn := range done {
		fn(err)
	}
}
