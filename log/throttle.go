package log

import (
	"sync"
	"time"
)

// Throttle limits the I/O rate of the cleaner (log.cleaner.io.max.bytes.per.second). One
// Throttle is shared by every compaction of a broker. A nil *Throttle does not limit.
type Throttle struct {
	rate float64 // bytes per second
	mu   sync.Mutex
	t0   time.Time
	n    float64
}

// NewThrottle returns a Throttle of bytesPerSec; <= 0 or +Inf means unlimited (nil).
func NewThrottle(bytesPerSec float64) *Throttle {
	if bytesPerSec <= 0 || bytesPerSec > 1e18 {
		return nil
	}
	return &Throttle{rate: bytesPerSec}
}

// Wait accounts n bytes of I/O and sleeps as long as needed to keep the rate, or until
// stopped (polled every 50 ms) reports true; then it returns false.
func (t *Throttle) Wait(n int, stopped func() bool) bool {
	if t == nil {
		return true
	}
	t.mu.Lock()
	now := time.Now()
	if t.t0.IsZero() || now.Sub(t.t0) > time.Second && t.n/t.rate < now.Sub(t.t0).Seconds() {
		// A fresh window after an idle spell: no credit for the time nobody used.
		t.t0, t.n = now, 0
	}
	t.n += float64(n)
	due := t.t0.Add(time.Duration(t.n / t.rate * float64(time.Second)))
	t.mu.Unlock()
	for d := due.Sub(now); d > 0; d = time.Until(due) {
		if stopped != nil && stopped() {
			return false
		}
		time.Sleep(min(d, 50*time.Millisecond))
	}
	return true
}
