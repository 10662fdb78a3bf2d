package log

import (
	"testing"
	"time"
)

// TestLogGroupCommitDelay: no wait for a lone writer or rare appends, half a flush under
// load, bounded by maxGroupDelay.
func TestLogGroupCommitDelay(t *testing.T) {
	for _, c := range []struct {
		name  string
		busy  bool
		flush time.Duration
		rate  float64
		want  time.Duration
	}{
		{"lone writer", false, time.Millisecond, 1e6, 0},
		{"busy, rare appends", true, time.Millisecond, 100, 0},                            // 0.05 appends in 0.5 ms
		{"busy, frequent appends", true, time.Millisecond, 10000, 500 * time.Microsecond}, // 5 in 0.5 ms
		{"fast disk", true, 100 * time.Microsecond, 50000, 50 * time.Microsecond},
		{"slow disk, capped", true, 40 * time.Millisecond, 10000, maxGroupDelay},
		{"no history", true, 0, 0, 0},
	} {
		if got := delayFor(c.busy, c.flush, c.rate); got != c.want {
			t.Errorf("%s: delayFor(%v, %v, %v) = %v, want %v", c.name, c.busy, c.flush, c.rate, got, c.want)
		}
	}
}

// TestLogGroupCommitRate: the arrival rate and flush duration follow what is measured.
func TestLogGroupCommitRate(t *testing.T) {
	var g groupCommit
	t0 := time.Unix(0, 0)
	g.cut(t0)
	for i := 1; i <= 20; i++ {
		for range 10 {
			g.arrive()
		}
		g.cut(t0.Add(time.Duration(i) * time.Millisecond)) // 10 appends a ms
		g.done(400 * time.Microsecond)
	}
	if g.rate < 9000 || g.rate > 11000 {
		t.Fatalf("rate %v/s, want ~10000", g.rate)
	}
	if f := time.Duration(g.flush.Load()); f != 400*time.Microsecond {
		t.Fatalf("flush %v, want 400µs", f)
	}
	if d := delayFor(true, time.Duration(g.flush.Load()), g.rate); d != 200*time.Microsecond {
		t.Fatalf("delay %v, want 200µs", d)
	}
	for i := 21; i <= 60; i++ { // appends stop: the rate decays, the wait goes
		g.cut(t0.Add(time.Duration(i) * time.Millisecond))
	}
	if d := delayFor(true, time.Duration(g.flush.Load()), g.rate); d != 0 {
		t.Fatalf("delay %v after the appends stopped (rate %v/s), want 0", d, g.rate)
	}
}
