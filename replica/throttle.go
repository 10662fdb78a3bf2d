package replica

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

// Replication throttles (KIP-73, Kafka's ReplicationQuotaManager): a broker, as leader,
// sends at most leader.replication.throttled.rate bytes per second to the followers of
// the replicas its topics list in leader.replication.throttled.replicas, and, as
// follower, fetches at most follower.replication.throttled.rate for its replicas listed in
// follower.replication.throttled.replicas. As in Kafka the bytes of every throttled
// replica count against the quota, but only replicas that are behind are held back: a
// leader does not throttle a follower in the ISR, a follower does not throttle a replica
// caught up with the leader's high watermark; a held-back fetch gets (or asks for)
// nothing while the rate is above the bound. The rates are dynamic broker settings (the
// metadata image's, over the static ones); the window is replication.quota.window.num
// samples of replication.quota.window.size.seconds.

// quota measures a byte rate over a window of samples (Kafka's Rate over a SampledStat):
// the bytes of the last num samples, each size long, over the time they span, at least
// num-1 samples (so a burst after a quiet spell is measured over the whole window), and
// tells whether it is above its bound.
//
// Concurrency: safe for concurrent use.
type quota struct {
	num  int
	size time.Duration

	mu struct {
		sync.Mutex
		bound   int64 // bytes per second; math.MaxInt64: unbounded
		samples []quotaSample
	}
}

type quotaSample struct {
	start time.Time
	bytes int64
}

func newQuota(num int, size time.Duration) *quota {
	q := &quota{num: max(num, 1), size: max(size, time.Millisecond)}
	q.mu.bound = math.MaxInt64
	return q
}

// setBound sets the rate bound in bytes per second (math.MaxInt64: none).
func (q *quota) setBound(b int64) {
	q.mu.Lock()
	q.mu.bound = b
	q.mu.Unlock()
}

func (q *quota) bound() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mu.bound
}

// purgeLocked drops the samples that ended before the window. q.mu is held.
func (q *quota) purgeLocked(now time.Time) {
	cut := now.Add(-time.Duration(q.num) * q.size)
	i := 0
	for i < len(q.mu.samples) && !q.mu.samples[i].start.After(cut) {
		i++
	}
	q.mu.samples = q.mu.samples[i:]
}

// record counts n bytes at now.
func (q *quota) record(n int64, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.purgeLocked(now)
	s := q.mu.samples
	if len(s) == 0 || now.Sub(s[len(s)-1].start) >= q.size {
		s = append(s, quotaSample{start: now})
		if len(s) > q.num {
			s = slices.Delete(s, 0, len(s)-q.num)
		}
	}
	s[len(s)-1].bytes += n
	q.mu.samples = s
}

// exceeded reports whether the rate at now is above the bound.
func (q *quota) exceeded(now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.bound == math.MaxInt64 {
		return false
	}
	q.purgeLocked(now)
	var total int64
	for _, s := range q.mu.samples {
		total += s.bytes
	}
	elapsed := time.Duration(0)
	if len(q.mu.samples) > 0 {
		elapsed = now.Sub(q.mu.samples[0].start)
	}
	elapsed = max(elapsed, time.Duration(q.num-1)*q.size, q.size)
	return float64(total)/elapsed.Seconds() > float64(q.mu.bound)
}

// throttledReplicas parses a topic's throttled replicas setting; a bad value (the
// registry validates it) throttles none.
func throttledReplicas(r config.Resolved, name string) config.ThrottledReplicas {
	tr, _ := config.ParseThrottledReplicas(r.String(name))
	return tr
}

// setThrottleRates takes the rates of im's dynamic broker settings over the static ones.
func (m *Manager) setThrottleRates(im *metadata.Image) {
	r := config.ResolveBroker(im.BrokerLayers(m.node, m.opts.Broker).Effective())
	m.leaderQuota.setBound(r.Int64("leader.replication.throttled.rate"))
	m.followerQuota.setBound(r.Int64("follower.replication.throttled.rate"))
}

// LeaderThrottle tells the leader's fetch handler, for follower's fetch of partition
// index of the topic with id: throttled, the bytes sent count against
// leader.replication.throttled.rate (RecordLeaderThrottled); hold, send nothing now —
// the replica is throttled, the follower is out of the ISR and the rate is above the
// bound (Kafka's ReplicaManager.shouldLeaderThrottle).
func (m *Manager) LeaderThrottle(id metadata.TopicID, index, follower int32) (throttled, hold bool) {
	ht, ok := m.hosted.Load().byID[id]
	if !ok || !ht.leaderThrottled.Has(index, m.node) {
		return false, false
	}
	st, ok := ht.topic.Partition(index)
	return true, ok && !slices.Contains(st.ISR, follower) && m.leaderQuota.exceeded(m.opts.Now())
}

// RecordLeaderThrottled counts n bytes sent to followers of throttled replicas.
func (m *Manager) RecordLeaderThrottled(n int) {
	if n > 0 {
		m.leaderQuota.record(int64(n), m.opts.Now())
	}
}

// followerThrottled reports whether this broker's replica of partition k is throttled
// as follower.
func (m *Manager) followerThrottled(k tp) bool {
	ht, ok := m.hosted.Load().byID[k.id]
	return ok && ht.followerThrottled.Has(k.index, m.node)
}

// ThrottleRates returns the bounds in force of leader.replication.throttled.rate and
// follower.replication.throttled.rate, in bytes per second.
func (m *Manager) ThrottleRates() (leader, follower int64) {
	return m.leaderQuota.bound(), m.followerQuota.bound()
}
