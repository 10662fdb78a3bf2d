package log

import (
	"sync"
	"sync/atomic"
	"time"
)

// Flusher is the group-commit flusher shared by the logs of one data directory
// (Options.Flusher), instead of a flusher goroutine per log: a dispatcher goroutine takes
// every queued log in one round and hands them to maxParallelFlushes workers, which flush
// them at once. A durable append queues its log without waking the dispatcher; the first
// WaitDurable or WhenDurable that has to wait wakes it (or, if nobody waits,
// unwaitedDelay later), so that a produce request that appends to many partitions, then
// waits for them, is covered by one round: one sync wait. A round is not a barrier: the
// next one starts while flushes of the last one still run (a log being flushed is
// flushed again by its worker when it is done), so a slow fsync of one log does not hold
// the others back.
//
// Each log's flush is the one its own flusher would do (flushOnce: the rolled segments,
// the directory, the recovery point, the active segment, then OnDurable and the
// waiters), so the per-log order and "acknowledged means durable" are unchanged; only who
// runs it, and when, differs.
//
// Concurrency: Close stops the goroutines and waits for them. The logs that use a Flusher
// must be closed before it (Log.Close does its own last flush): an append after the
// Flusher closed is never flushed by it, and its waiters wait until the log closes.
type Flusher struct {
	kick  chan struct{} // an append is waited for: flush now
	dirty chan struct{} // a log was queued
	stop  chan struct{}
	// work hands queued logs to the maxParallelFlushes workers (flush); inflight counts
	// the flushes running.
	work     chan *Log
	workers  sync.WaitGroup
	inflight atomic.Int64
	closed   chan struct{} // closed when Close is done
	done     chan struct{}

	rounds    atomic.Int64 // rounds that took logs (tests)
	testRound func()       // tests: called at the start of every round, before the queue is taken
	gc        groupCommit
	unwaited  time.Duration // unwaitedDelay (tests change it)

	mu struct {
		sync.Mutex
		queue  []*Log // logs with something to flush, each once (Log.queued)
		closed bool
	}
}

// NewFlusher starts a shared flusher.
func NewFlusher() *Flusher { return newFlusher(nil, unwaitedDelay) }

func newFlusher(testRound func(), unwaited time.Duration) *Flusher {
	f := &Flusher{kick: make(chan struct{}, 1), dirty: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), closed: make(chan struct{}), work: make(chan *Log, maxParallelFlushes),
		testRound: testRound, unwaited: unwaited}
	f.workers.Add(maxParallelFlushes)
	for range maxParallelFlushes {
		go f.worker()
	}
	go f.run()
	return f
}

// Close stops the flusher and waits for its goroutines; it is idempotent.
func (f *Flusher) Close() {
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		<-f.closed
		return
	}
	f.mu.closed = true
	f.mu.queue = nil
	f.mu.Unlock()
	close(f.stop)
	<-f.done
	close(f.work)
	f.workers.Wait()
	close(f.closed)
}

// enqueue asks for a flush of l: at once (wake), or within unwaitedDelay unless a
// waiter wakes the flusher first (a durable append, whose waiters, if any, come next).
// It may be called with l's locks held (it takes only f.mu, a leaf).
func (f *Flusher) enqueue(l *Log, wake bool) {
	f.gc.arrive()
	if l.queued.CompareAndSwap(false, true) {
		f.mu.Lock()
		if f.mu.closed {
			f.mu.Unlock()
			return
		}
		f.mu.queue = append(f.mu.queue, l)
		f.mu.Unlock()
	}
	signal(f.dirty)
	if wake {
		f.wake()
	}
}

// wake starts a round now: an append is waited for.
func (f *Flusher) wake() { signal(f.kick) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// take returns the queued logs and empties the queue; a log appended to from now on is
// queued again for the next round.
func (f *Flusher) take() []*Log {
	f.mu.Lock()
	q := f.mu.queue
	f.mu.queue = nil
	f.mu.Unlock()
	for _, l := range q {
		l.queued.Store(false)
	}
	return q
}

// busy reports whether logs are queued.
func (f *Flusher) busy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.queue) > 0
}

// unwaitedDelay is how long a durable append nobody waits for may wait for its flush
// (acks=0, or a produce request still appending to other partitions).
const unwaitedDelay = time.Millisecond

// maxParallelFlushes is how many logs the flusher flushes at once (its workers): fsyncs
// of several files issued together let the disk and the file system's journal serve them
// together (on the development machine's ext4, 8 files' fdatasync took about half as long
// issued at once as one after the other).
const maxParallelFlushes = 8

// worker flushes the logs the dispatcher (run) hands it until work is closed.
func (f *Flusher) worker() {
	defer f.workers.Done()
	for l := range f.work {
		f.flush(l)
	}
}

// flush flushes l unless another worker is flushing it; then that worker flushes it
// again when it is done (l.rerun), so that the appends queued meanwhile are covered
// without holding a second worker on l's flush lock.
func (f *Flusher) flush(l *Log) {
	l.rerun.Store(true)
	for l.rerun.Load() && l.flushing.CompareAndSwap(false, true) {
		for l.rerun.Swap(false) {
			f.inflight.Add(1)
			began := time.Now()
			l.flushQueued()
			f.gc.done(time.Since(began))
			f.inflight.Add(-1)
		}
		l.flushing.Store(false)
		// A request that came after the last Swap and before the Store is served by
		// the next turn of the outer loop.
	}
}

func (f *Flusher) run() {
	defer close(f.done)
	unwaited := time.NewTimer(f.unwaited)
	unwaited.Stop()
	defer unwaited.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		case <-f.dirty:
			// Appends nobody waits for yet: the request that made them is likely still
			// appending to other logs of the directory, and waits once it is done.
			unwaited.Reset(f.unwaited)
			select {
			case <-f.stop:
				return
			case <-f.kick:
			case <-unwaited.C:
			}
			unwaited.Stop()
		}
		if !f.busy() {
			continue // a kick left over from appends an earlier round covered
		}
		// Under load (flushes running when the wake-up came), let the group grow.
		f.gc.wait(f.inflight.Load() > 0)
		if f.testRound != nil {
			f.testRound()
		}
		f.rounds.Add(1)
		f.gc.cut(time.Now())
		for _, l := range f.take() {
			select {
			case f.work <- l:
			case <-f.stop:
				return
			}
		}
	}
}
