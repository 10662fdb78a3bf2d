package log

import (
	"runtime"
	"sync/atomic"
	"time"
)

// maxGroupDelay bounds the wait of a flusher before it cuts a group (groupCommit).
const maxGroupDelay = 2 * time.Millisecond

// groupCommit sizes the wait of a flusher before it cuts a group by what is waiting:
// the recent flush durations and the rate at which appends arrive. A flusher calls
// arrive for every append it is asked to flush (any goroutine), and, on its own
// goroutine, delay before a round, cut when the round starts and done after it.
//
// The rule (delayFor): a flusher with nothing queued during its last flush (a lone or
// synchronous writer) flushes at once. Under sustained load it waits half of a recent
// flush's duration, at most maxGroupDelay, and only if at the recent arrival rate at
// least one more append comes in meanwhile: a broker whose fsyncs are slow (loaded disk)
// or whose appends are frequent batches more per fsync, one whose appends are rare
// compared with an fsync does not wait for nothing. Half a flush: a group's first append
// then waits at most 1.5 flushes instead of 1 for its fsync, and each fsync covers the
// appends of about 1.5 flush durations, not 1.
type groupCommit struct {
	arrivals atomic.Int64 // appends asked for since the last cut

	flush atomic.Int64 // moving average of the flushes' durations, ns (done: any goroutine)

	// The flusher goroutine's own state.
	rate    float64 // moving average of the arrival rate, appends per second
	lastCut time.Time
}

// arrive counts an append waiting for the next group.
func (g *groupCommit) arrive() { g.arrivals.Add(1) }

// wait waits before a group is cut; busy: appends arrived during the last flush.
func (g *groupCommit) wait(busy bool) {
	if d := delayFor(busy, time.Duration(g.flush.Load()), g.rate); d > 0 {
		time.Sleep(d)
	} else {
		// Only let the appenders woken by the previous flush (runnable, not yet
		// appended) join.
		runtime.Gosched()
	}
}

// delayFor is the wait before a group is cut (see groupCommit).
func delayFor(busy bool, flush time.Duration, rate float64) time.Duration {
	if !busy {
		return 0
	}
	d := min(flush/2, maxGroupDelay)
	if rate*d.Seconds() < 1 {
		return 0
	}
	return d
}

// cut records the start of a group at now: the arrival rate since the last one.
func (g *groupCommit) cut(now time.Time) {
	n := g.arrivals.Swap(0)
	if !g.lastCut.IsZero() {
		if el := now.Sub(g.lastCut).Seconds(); el > 0 {
			g.rate = ewma(g.rate, float64(n)/el)
		}
	}
	g.lastCut = now
}

// done records a flush's duration. Concurrent calls may lose one another's sample.
func (g *groupCommit) done(d time.Duration) {
	g.flush.Store(int64(ewma(float64(g.flush.Load()), float64(d))))
}

// ewma moves avg a quarter of the way to x (x alone when avg is 0).
func ewma(avg, x float64) float64 {
	if avg == 0 {
		return x
	}
	return avg + (x-avg)/4
}
