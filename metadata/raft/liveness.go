package raft

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

// Broker liveness (Kafka's broker.heartbeat.interval.ms and broker.session.timeout.ms):
// every registered broker sends the controller a heartbeat each HeartbeatInterval (in
// combined mode the Store does it for its own node, once the node registered); the
// controller keeps the time it last heard each one in memory (not in the log) and fences
// a broker it has not heard for SessionTimeout — or, for a voter that Raft itself cannot
// reach (its heartbeats to it fail: a killed process refuses connections at once), for
// two heartbeat intervals. A new controller gives every broker a full session from its
// take-over before it fences it, but places new replicas only on the brokers that have
// heartbeated (or registered) to it since: a broker that died with the old controller
// is not fenced yet, and must not get new partitions meanwhile. A placement in the first
// two heartbeat intervals after the take-over waits (at most until then) for every
// unfenced broker to be heard, so that creating a topic right after an election still
// spreads it over every live broker; one that would fail for want of brokers
// (INVALID_REPLICATION_FACTOR) waits longer, for the unheard brokers, at most until a
// session has passed since the take-over. A fenced broker that heartbeats or registers again
// is unfenced.

// liveness is the leader's memory of the brokers' heartbeats.
type liveness struct {
	sync.Mutex
	seen    map[int32]time.Time // the last heartbeat (or the take-over) by broker
	suspect map[int32]bool      // voters Raft fails to reach
	since   time.Time           // the take-over
	heardOf map[int32]bool      // the brokers heard since the take-over
	news    chan struct{}       // closed (and replaced) when heardOf grows
}

// reset starts every broker's session afresh (a new controller, at now).
func (l *liveness) reset(now time.Time) {
	l.Lock()
	defer l.Unlock()
	l.seen, l.suspect, l.heardOf = map[int32]time.Time{}, map[int32]bool{}, map[int32]bool{}
	l.since = now
}

func (l *liveness) heard(b int32, now time.Time) {
	l.Lock()
	defer l.Unlock()
	if l.seen == nil {
		l.seen = map[int32]time.Time{}
	}
	l.seen[b] = now
	if l.heardOf == nil {
		l.heardOf = map[int32]bool{}
	}
	if !l.heardOf[b] {
		l.heardOf[b] = true
		if l.news != nil {
			close(l.news)
			l.news = nil
		}
	}
}

// heardAt records that broker b was last heard at t, when t is set and before its
// session started (a new controller's predecessor: the last contact of its Raft); it
// does not count as heard since the take-over.
func (l *liveness) heardAt(b int32, t time.Time) {
	l.Lock()
	defer l.Unlock()
	if t.IsZero() || !t.Before(l.since) {
		return
	}
	if l.seen == nil {
		l.seen = map[int32]time.Time{}
	}
	l.seen[b] = t
}

// heardSince reports whether broker b was heard since the take-over.
func (l *liveness) heardSince(b int32) bool {
	l.Lock()
	defer l.Unlock()
	return l.heardOf[b]
}

// unheard reports whether a broker of im other than self, unfenced, was not heard since
// the take-over; if so, it returns the take-over time and a channel closed when another
// broker is heard.
func (l *liveness) unheard(im *metadata.Image, self int32) (since time.Time, news <-chan struct{}, ok bool) {
	l.Lock()
	defer l.Unlock()
	for _, b := range im.Brokers() {
		if !b.Fenced && b.ID != self && !l.heardOf[b.ID] {
			if l.news == nil {
				l.news = make(chan struct{})
			}
			return l.since, l.news, true
		}
	}
	return time.Time{}, nil, false
}

func (l *liveness) setSuspect(b int32, suspect bool) {
	l.Lock()
	defer l.Unlock()
	if l.suspect == nil {
		l.suspect = map[int32]bool{}
	}
	l.suspect[b] = suspect
}

// expired returns the unfenced brokers of im, other than self, whose session expired
// at now; a broker not heard of yet starts its session now.
func (l *liveness) expired(im *metadata.Image, self int32, now time.Time, session, suspectAfter time.Duration) []int32 {
	l.Lock()
	defer l.Unlock()
	if l.seen == nil {
		l.seen = map[int32]time.Time{}
	}
	var out []int32
	for _, b := range im.Brokers() {
		if b.Fenced || b.ID == self {
			continue
		}
		if _, ok := l.seen[b.ID]; !ok {
			l.seen[b.ID] = now
			continue
		}
		if l.expiredLocked(b.ID, now, session, suspectAfter) {
			out = append(out, b.ID)
		}
	}
	return out
}

// stillExpired reports whether broker b, found expired, is still unheard for its
// session at now: not heard while its fence waited for the commands before it.
func (l *liveness) stillExpired(b int32, now time.Time, session, suspectAfter time.Duration) bool {
	l.Lock()
	defer l.Unlock()
	return l.expiredLocked(b, now, session, suspectAfter)
}

func (l *liveness) expiredLocked(b int32, now time.Time, session, suspectAfter time.Duration) bool {
	last, ok := l.seen[b]
	if !ok {
		return false
	}
	idle := now.Sub(last)
	return idle > session || l.suspect[b] && idle > suspectAfter
}

// sendHeartbeats is the broker side: once this node registered, it heartbeats every
// interval.
func (s *Store) sendHeartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.hbInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		if !s.registered.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.session)
		_, err := s.submit(ctx, &request{Heartbeat: &s.node})
		cancel()
		if err != nil && !errors.Is(err, metadata.ErrClosed) {
			s.log.Debug("broker heartbeat", "err", err)
		}
	}
}

// usable is the controller's Rules.Usable: new replicas go to this node's broker and to
// the brokers heard since the take-over. On a node that does not lead (its rules only
// precheck commands it forwards), every broker is usable.
func (s *Store) usable(b int32) bool {
	return b == s.node || !s.ready() || s.live.heardSince(b)
}

// awaitBrokers holds a placement on a new controller until every unfenced broker has
// been heard since the take-over, or two heartbeat intervals have passed since it (or
// the store closes): the live brokers heartbeat within one.
func (s *Store) awaitBrokers() {
	for {
		since, news, ok := s.live.unheard(s.Image(), s.node)
		if !ok {
			return
		}
		left := time.Until(since.Add(2 * s.hbInterval))
		if left <= 0 {
			return
		}
		t := time.NewTimer(left)
		select {
		case <-news:
			t.Stop()
		case <-t.C:
			return
		case <-s.closing:
			t.Stop()
			return
		}
	}
}

// awaitHeard waits for an unfenced broker not heard since the take-over to be heard, at
// most until a session has passed since the take-over: it reports whether one was (false:
// none is unheard, the session is over, or the store closes). A broker still unheard a
// session after the take-over is expired (fenceExpired fences it): it does not count.
func (s *Store) awaitHeard() bool {
	since, news, ok := s.live.unheard(s.Image(), s.node)
	if !ok {
		return false
	}
	left := time.Until(since.Add(s.session))
	if left <= 0 {
		return false
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-news:
		return true
	case <-t.C:
	case <-s.closing:
	}
	return false
}

// fenceExpired is the controller side: it fences the brokers whose session expired.
func (s *Store) fenceExpired() {
	defer s.wg.Done()
	t := time.NewTicker(s.hbInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		if !s.ready() {
			continue
		}
		for _, b := range s.live.expired(s.Image(), s.node, time.Now(), s.session, 2*s.hbInterval) {
			resp := s.serve(&request{FenceBroker: &b, expiredOnly: true})
			if resp.Err != nil || resp.NotLeader {
				break
			}
			if resp.Index == 0 && !resp.Pending {
				continue // heard meanwhile, or fenced already
			}
			s.log.Warn("fenced a broker: its session expired", "broker", b)
		}
	}
}

// followRaftHeartbeats marks the voters the leader's Raft heartbeats fail to reach as
// suspect, and clears them when they resume.
func (s *Store) followRaftHeartbeats(ch <-chan hraft.Observation) {
	defer s.wg.Done()
	for {
		select {
		case o := <-ch:
			switch d := o.Data.(type) {
			case hraft.FailedHeartbeatObservation:
				if id, err := strconv.ParseInt(string(d.PeerID), 10, 32); err == nil {
					s.live.setSuspect(int32(id), true)
				}
			case hraft.ResumedHeartbeatObservation:
				if id, err := strconv.ParseInt(string(d.PeerID), 10, 32); err == nil {
					s.live.setSuspect(int32(id), false)
				}
			}
		case <-s.closing:
			return
		}
	}
}

// ControlledShutdown prepares this node to stop (Kafka's controlled shutdown, on
// SIGTERM): its broker stops heartbeating and asks the controller to fence it, which
// moves its partitions' leadership away (or takes them offline, when no other in-sync
// replica is live), and, if this node is the Raft leader, hands the leadership to
// another voter, so that the quorum does not wait for an election timeout. Close
// follows. A failure is returned, and the node may stop anyway (the others fence it
// after its session).
func (s *Store) ControlledShutdown(ctx context.Context) error {
	var errs []error
	if s.registered.Swap(false) {
		if _, err := s.submit(ctx, &request{FenceBroker: &s.node}); err != nil {
			errs = append(errs, fmt.Errorf("raft: fence this broker: %w", err))
		}
	}
	if s.raft.State() == hraft.Leader && len(s.voters) > 1 {
		f := s.raft.LeadershipTransfer()
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("raft: hand over the leadership: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("raft: hand over the leadership: %w", ctx.Err()))
		}
	}
	return errors.Join(errs...)
}

// maxElectionsPerBalance bounds the elections of one record of balanceLeaders (Kafka's
// maxElectionsPerImbalance); the rest follow at once in further records.
const maxElectionsPerBalance = 1000

// balanceLeaders is the controller side of auto.leader.rebalance.enable (Kafka's
// QuorumController.maybeBalancePartitionLeaders): every
// leader.imbalance.check.interval.seconds it gives every partition whose preferred
// replica is live and in sync but does not lead back to that replica (a preferred
// ElectLeaders).
func (s *Store) balanceLeaders() {
	defer s.wg.Done()
	broker := config.ResolveBroker(s.rules.Broker)
	if !broker.Bool("auto.leader.rebalance.enable") {
		return
	}
	t := time.NewTicker(time.Duration(broker.Int64("leader.imbalance.check.interval.seconds")) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		for more := s.ready(); more; {
			var ps map[string][]int32
			if ps, more = metadata.Imbalanced(s.Image(), maxElectionsPerBalance); len(ps) == 0 {
				break
			}
			resp := s.serve(&request{ElectLeaders: &metadata.ElectLeaders{Type: metadata.ElectPreferred, Partitions: ps}})
			if resp.Err != nil || resp.NotLeader {
				break
			}
			n := 0
			for _, r := range resp.Elections {
				if r.Outcome == metadata.Elected {
					n++
				}
			}
			if n == 0 {
				break
			}
			s.log.Info("moved partition leadership back to the preferred replicas", "partitions", n)
		}
	}
}
