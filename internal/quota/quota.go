package quota

import (
	"math"
	"sync"
	"time"
)

// Config is the sampling of rates: Kafka's quota.window.num and quota.window.size.seconds.
type Config struct {
	Samples int
	Window  time.Duration
}

// PartKind is how a quota entity names a user or a client id.
type PartKind int8

// The kinds of part.
const (
	Absent  PartKind = iota // the entity does not name this type
	Default                 // the default of the type (Kafka's <default>)
	Named                   // the name given
)

// Part is the user or the client-id part of a quota entity.
type Part struct {
	Kind PartKind
	Name string
}

// Lookup returns the bound an entity (user part, client-id part) sets for the key the
// caller asks about, if it sets one.
type Lookup func(user, clientID Part) (bound float64, ok bool)

// Resolve finds the quota of user and clientID as Kafka's default quota callback does,
// most specific first: (user, client id), (user, default client), (user), (default user,
// client id), (default user, default client), (default user), (client id), (default
// client). It returns the bound and the user and client id the rate is measured for: a
// default quota applies to each user (client id) separately, and a quota that names no
// client id to all of a user's clients together.
func Resolve(user, clientID string, lookup Lookup) (bound float64, tagUser, tagClient string, ok bool) {
	u, du, c, dc := Part{Named, user}, Part{Kind: Default}, Part{Named, clientID}, Part{Kind: Default}
	none := Part{}
	for _, l := range []struct {
		user, client     Part
		byUser, byClient bool
	}{
		{u, c, true, true}, {u, dc, true, true}, {u, none, true, false},
		{du, c, true, true}, {du, dc, true, true}, {du, none, true, false},
		{none, c, false, true}, {none, dc, false, true},
	} {
		if b, found := lookup(l.user, l.client); found {
			if l.byUser {
				tagUser = user
			}
			if l.byClient {
				tagClient = clientID
			}
			return b, tagUser, tagClient, true
		}
	}
	return 0, "", "", false
}

// sample is one window of a rate: Kafka's SampledStat.Sample of a Rate's sum.
type sample struct {
	start, last time.Time
	value       float64
}

// rate is Kafka's Rate (per second) over a SampledStat of sums: Samples samples of Window
// each, the oldest overwritten, samples idle for Samples windows reset.
type rate struct {
	samples []sample
	current int
}

func (r *rate) record(cfg Config, v float64, now time.Time) {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, sample{start: now, last: now})
	}
	s := &r.samples[r.current]
	if now.Sub(s.start) >= cfg.Window { // complete: advance, keeping one overlapping sample
		r.current = (r.current + 1) % (cfg.Samples + 1)
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, sample{})
		}
		s = &r.samples[r.current]
		*s = sample{start: now, last: now}
	}
	s.value += v
	s.last = now
}

// purge resets the samples that have seen nothing for Samples windows.
func (r *rate) purge(cfg Config, now time.Time) {
	expire := time.Duration(cfg.Samples) * cfg.Window
	for i := range r.samples {
		if now.Sub(r.samples[i].last) >= expire {
			r.samples[i] = sample{start: now, last: now}
		}
	}
}

// window is the time the rate divides by: since the oldest sample started, but at least
// Samples-1 full windows, and at least 1 ms.
func (r *rate) window(cfg Config, now time.Time) time.Duration {
	r.purge(cfg, now)
	oldest := now
	for _, s := range r.samples {
		if s.start.Before(oldest) {
			oldest = s.start
		}
	}
	elapsed := now.Sub(oldest)
	if full, min := int(elapsed/cfg.Window), cfg.Samples-1; full < min {
		elapsed += time.Duration(min-full) * cfg.Window
	}
	return max(elapsed, time.Millisecond)
}

// measure is the rate per second.
func (r *rate) measure(cfg Config, now time.Time) (perSecond float64, window time.Duration) {
	window = r.window(cfg, now)
	var sum float64
	for _, s := range r.samples {
		sum += s.value
	}
	return sum / window.Seconds(), window
}

// Rate is one windowed rate (Kafka's Rate): the connection creation rate of a broker or a
// listener (KIP-612). It is safe for concurrent use.
type Rate struct {
	cfg Config
	mu  sync.Mutex
	r   rate
}

// NewRate returns a Rate sampling with cfg.
func NewRate(cfg Config) *Rate {
	cfg.Samples = max(cfg.Samples, 1)
	cfg.Window = max(cfg.Window, time.Millisecond)
	return &Rate{cfg: cfg}
}

// Record adds v and returns how long to wait for the rate to come back to bound: Kafka's
// (rate - bound) / bound × window, 0 within it.
func (r *Rate) Record(v, bound float64, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.record(r.cfg, v, now)
	value, window := r.r.measure(r.cfg, now)
	return throttleTime(value, bound, window)
}

func throttleTime(value, bound float64, window time.Duration) time.Duration {
	if value <= bound || bound <= 0 {
		return 0
	}
	ms := math.Round((value - bound) / bound * float64(window.Milliseconds()))
	return time.Duration(min(ms, math.MaxInt32)) * time.Millisecond
}

// Manager measures the rates of clients against their quotas. It is safe for concurrent
// use.
type Manager struct {
	cfg Config
	mu  sync.Mutex
	// sensors are the rates, by quota key and the user and client id measured; one idle
	// for an hour is dropped (Kafka's inactive sensor expiration).
	sensors   map[sensorKey]*sensor
	lastSweep time.Time
}

type sensorKey struct{ key, user, client string }

type sensor struct {
	r    rate
	used time.Time
}

// sensorExpiry is how long an idle rate is kept (Kafka's 3600 s).
const sensorExpiry = time.Hour

// NewManager returns a Manager sampling with cfg (at least one sample of at least 1 ms).
func NewManager(cfg Config) *Manager {
	cfg.Samples = max(cfg.Samples, 1)
	cfg.Window = max(cfg.Window, time.Millisecond)
	return &Manager{cfg: cfg, sensors: map[sensorKey]*sensor{}}
}

// Record adds v (bytes, or for a request quota the percentage-seconds used) to the rate
// key of user and clientID, and returns how long to throttle the client: 0 without a
// quota (Resolve with lookup) or within it, else Kafka's (rate - bound) / bound × the
// rate's window. A negative v takes back what was recorded (Kafka's unrecord of a fetch
// answered empty because it was throttled).
func (m *Manager) Record(key, user, clientID string, v float64, now time.Time, lookup Lookup) time.Duration {
	return m.measure(key, user, clientID, v, true, now, lookup)
}

// Throttle is how long to throttle the client now, without recording anything: Kafka's
// strict check of controller mutations (KIP-599), which refuses a request while the
// rate is already over the quota.
func (m *Manager) Throttle(key, user, clientID string, now time.Time, lookup Lookup) time.Duration {
	return m.measure(key, user, clientID, 0, false, now, lookup)
}

func (m *Manager) measure(key, user, clientID string, v float64, record bool, now time.Time, lookup Lookup) time.Duration {
	bound, tagUser, tagClient, ok := Resolve(user, clientID, lookup)
	if !ok {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	k := sensorKey{key, tagUser, tagClient}
	s := m.sensors[k]
	if s == nil && !record {
		return 0
	}
	if s == nil {
		s = &sensor{}
		m.sensors[k] = s
	}
	s.used = now
	if record {
		s.r.record(m.cfg, v, now)
	}
	value, window := s.r.measure(m.cfg, now)
	return throttleTime(value, bound, window)
}

func (m *Manager) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < time.Minute {
		return
	}
	m.lastSweep = now
	for k, s := range m.sensors {
		if now.Sub(s.used) >= sensorExpiry {
			delete(m.sensors, k)
		}
	}
}
