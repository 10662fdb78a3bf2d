package log

import (
	"sync"
	"sync/atomic"
)

// Flusher is the group-commit flusher shared by the logs of one data directory
// (Options.Flusher): one goroutine that fsyncs every log with something to flush in one
// round, instead of a flusher goroutine per log. A produce request to many partitions of
// the directory then waits for one round, and the round starts the writeback of every
// log's active segment (segment.StartWriteback) before it fsyncs them one by one, so that
// the disk works on all of them at once.
//
// Each log's flush is the one its own flusher would do (flushOnce: the rolled segments,
// the directory, the recovery point, the active segment, then OnDurable and the
// waiters), so the per-log order and "acknowledged means durable" are unchanged; only who
// runs it, and when, differs.
//
// Concurrency: Close stops the goroutine and waits for it. The logs that use a Flusher
// must be closed before it (Log.Close does its own last flush): an append after the
// Flusher closed is never flushed by it, and its waiters wait until the log closes.
type Flusher struct {
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	rounds    atomic.Int64 // rounds that flushed logs (tests)
	testRound func()       // tests: called at the start of every round, before the queue is taken

	mu struct {
		sync.Mutex
		queue  []*Log // logs with something to flush, each once (Log.queued)
		closed bool
	}
}

// NewFlusher starts a shared flusher.
func NewFlusher() *Flusher { return newFlusher(nil) }

func newFlusher(testRound func()) *Flusher {
	f := &Flusher{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), testRound: testRound}
	go f.run()
	return f
}

// Close stops the flusher and waits for its goroutine; it is idempotent.
func (f *Flusher) Close() {
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		<-f.done
		return
	}
	f.mu.closed = true
	f.mu.queue = nil
	f.mu.Unlock()
	close(f.stop)
	<-f.done
}

// enqueue asks for a flush of l in the next round. It may be called with l's locks held
// (it takes only f.mu, a leaf).
func (f *Flusher) enqueue(l *Log) {
	if !l.queued.CompareAndSwap(false, true) {
		return // queued already, and not yet taken by a round
	}
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return
	}
	f.mu.queue = append(f.mu.queue, l)
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
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

// busy reports whether logs are queued (after a round: queued while it ran, sustained
// load).
func (f *Flusher) busy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.queue) > 0
}

func (f *Flusher) run() {
	defer close(f.done)
	busy := false
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		}
		if !f.busy() {
			continue // a kick left over from appends the last round covered
		}
		groupWait(busy)
		if f.testRound != nil {
			f.testRound()
		}
		f.rounds.Add(1)
		logs := f.take()
		if len(logs) > 1 {
			for _, l := range logs {
				l.startWriteback()
			}
		}
		for _, l := range logs {
			l.flushQueued()
		}
		busy = f.busy()
	}
}
