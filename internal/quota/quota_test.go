package quota

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// entities is a Lookup over a set of configured entities ("user/client" with "-" for
// absent and "*" for default), each with its bound.
func entities(set map[string]float64) Lookup {
	part := func(p Part) string {
		switch p.Kind {
		case Absent:
			return "-"
		case Default:
			return "*"
		}
		return p.Name
	}
	return func(user, clientID Part) (float64, bool) {
		b, ok := set[part(user)+"/"+part(clientID)]
		return b, ok
	}
}

// TestQuotaResolve: Kafka's precedence, most specific first, and the user and client id
// the rate is measured for.
func TestQuotaResolve(t *testing.T) {
	all := map[string]float64{
		"alice/app": 1, "alice/*": 2, "alice/-": 3, "*/app": 4, "*/*": 5, "*/-": 6, "-/app": 7, "-/*": 8,
	}
	order := []string{"alice/app", "alice/*", "alice/-", "*/app", "*/*", "*/-", "-/app", "-/*"}
	tags := [][2]string{{"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"", "app"}, {"", "app"}}
	for i, level := range order {
		bound, u, c, ok := Resolve("alice", "app", entities(all))
		if !ok || bound != all[level] || u != tags[i][0] || c != tags[i][1] {
			t.Errorf("with %v: bound %v for (%q, %q), want %v for %v", order[i:], bound, u, c, all[level], tags[i])
		}
		delete(all, level)
	}
	if _, _, _, ok := Resolve("alice", "app", entities(all)); ok {
		t.Error("a quota without any entity")
	}
	// Another user's quota and another client's do not apply.
	if _, _, _, ok := Resolve("alice", "app", entities(map[string]float64{"bob/-": 1, "-/other": 2, "bob/app": 3})); ok {
		t.Error("bob's quota applied to alice")
	}
}

var cfg = Config{Samples: 11, Window: time.Second}

// TestQuotaRate: Kafka's Rate: the sum of the samples over the time since the oldest
// began, at least Samples-1 windows; samples older than Samples windows are dropped.
func TestQuotaRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var r rate
	r.record(cfg, 1000, t0)
	if v, w := r.measure(cfg, t0); v != 100 || w != 10*time.Second {
		t.Fatalf("one record: %v/s over %v, want 100/s over 10s (the minimum window)", v, w)
	}
	for i := 1; i <= 200; i++ { // 100 B every 100 ms for 20 s: 1000 B/s
		r.record(cfg, 100, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	now := t0.Add(20 * time.Second)
	if v, w := r.measure(cfg, now); math.Abs(v-1000) > 100 || w < 10*time.Second || w > 12*time.Second {
		t.Fatalf("steady 1000 B/s: %v/s over %v", v, w)
	}
	if v, _ := r.measure(cfg, now.Add(time.Minute)); v != 0 {
		t.Fatalf("a minute later: %v/s, want 0 (every sample expired)", v)
	}
}

// TestQuotaThrottle: the throttle time is (rate - bound) / bound × window, 0 within the
// quota or without one; a negative record takes back.
func TestQuotaThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := NewManager(cfg)
	lookup := entities(map[string]float64{"alice/-": 100})
	if d := m.Record("producer_byte_rate", "alice", "app", 1000, t0, lookup); d != 0 {
		t.Fatalf("at the bound: throttled %v", d)
	}
	if d := m.Record("producer_byte_rate", "alice", "other-app", 1000, t0, lookup); d != 10*time.Second {
		t.Fatalf("twice the bound over 10 s: throttled %v, want 10s (alice's clients share her quota)", d)
	}
	if d := m.Throttle("producer_byte_rate", "alice", "app", t0, lookup); d != 10*time.Second {
		t.Fatalf("Throttle, recording nothing: %v, want 10s", d)
	}
	if d := m.Record("producer_byte_rate", "alice", "app", -1000, t0, lookup); d != 0 {
		t.Fatalf("after taking 1000 back: throttled %v", d)
	}
	if d := m.Record("consumer_byte_rate", "alice", "app", 1e6, t0, lookup); d <= 0 {
		t.Fatal("another key of the same quota entity not throttled")
	}
	if d := m.Throttle("consumer_byte_rate", "carol", "app", t0, entities(map[string]float64{"*/-": 1})); d != 0 {
		t.Fatalf("Throttle of a client that recorded nothing: %v", d)
	}
	if d := m.Record("producer_byte_rate", "bob", "app", 1e9, t0, lookup); d != 0 {
		t.Fatalf("bob has no quota: throttled %v", d)
	}
	// A default quota measures each user apart.
	def := entities(map[string]float64{"*/-": 100})
	if d := m.Record("p", "carol", "", 1500, t0, def); d != 5*time.Second {
		t.Fatalf("carol: %v, want 5s", d)
	}
	if d := m.Record("p", "dave", "", 500, t0, def); d != 0 {
		t.Fatalf("dave, within the default quota, throttled %v because of carol", d)
	}
	// Idle rates are dropped after an hour.
	m.Record("p", "dave", "", 1, t0.Add(2*time.Hour), def)
	if len(m.sensors) != 1 {
		t.Fatalf("%d rates after an hour idle, want dave's alone", len(m.sensors))
	}
}

// TestQuotaConvergence: a client that sends as fast as it may, waiting out each throttle
// time (KIP-219's muted channel), averages at most 30% above its bound, whatever its
// batch size; another client with the same quota is not slowed by it.
func TestQuotaConvergence(t *testing.T) {
	const bound = 1 << 20 // 1 MiB/s
	for _, batch := range []float64{16 << 10, 256 << 10, 1 << 20, 4 << 20} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			m := NewManager(cfg)
			lookup := entities(map[string]float64{"*/-": bound})
			t0 := time.Unix(1000, 0)
			now, sent := t0, 0.0
			for now.Sub(t0) < 120*time.Second {
				d := m.Record("producer_byte_rate", "fast", "", batch, now, lookup)
				sent += batch
				now = now.Add(time.Millisecond + d) // 1 ms per request, then the throttle
			}
			avg := sent / now.Sub(t0).Seconds()
			t.Logf("batch %.0f B: average %.0f B/s (%.2f × the bound)", batch, avg, avg/bound)
			if avg > 1.3*bound || avg < 0.7*bound {
				t.Fatalf("average %.0f B/s, want within 30%% of %d", avg, bound)
			}
			if d := m.Record("producer_byte_rate", "slow", "", 1024, now, lookup); d != 0 {
				t.Fatalf("another client throttled %v", d)
			}
		})
	}
}

// TestQuotaRateThrottle: a Rate's throttle time, as a Manager's.
func TestQuotaRateThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRate(Config{Samples: 2, Window: time.Second})
	for i := range 5 {
		if d := r.Record(1, 5, t0); d != 0 {
			t.Fatalf("connection %d of 5 in 1 s throttled %v", i+1, d)
		}
	}
	if d := r.Record(1, 5, t0); d != 200*time.Millisecond {
		t.Fatalf("the sixth: %v, want 200ms ((6-5)/5 × 1 s)", d)
	}
	if d := r.Record(1, 5, t0.Add(3*time.Second)); d != 0 {
		t.Fatalf("after a quiet 3 s: %v", d)
	}
}
