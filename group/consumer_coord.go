package group

import (
	"maps"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// DefaultConsumerSessionTimeout is group.consumer.session.timeout.ms (Kafka's default).
const DefaultConsumerSessionTimeout = 45 * time.Second

// clone returns a copy of cg that the heartbeat can change without touching cg: members
// are copied (the apply functions replace their fields, never modify them in place).
func (cg *consumerGroup) clone() *consumerGroup {
	c := *cg
	c.members = make(map[string]*consumerMember, len(cg.members))
	for id, m := range cg.members {
		mm := *m
		c.members[id] = &mm
	}
	c.regexes = maps.Clone(cg.regexes)
	return &c
}

// consumerHeartbeat runs a ConsumerGroupHeartbeat of group: the state machine on a copy
// of the group, the records written to __consumer_offsets, then the copy made current and
// the member's session timer (re)armed — or, for a leave, stopped. Not served yet (the
// server does not advertise ConsumerGroupHeartbeat): the next step wires it.
func (c *Coordinator) consumerHeartbeat(group string, hb consumerHeartbeat, topics topicInfo) (int32, assign.Assignment, error) {
	if c.closed() {
		return 0, nil, ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(group)
	if err != nil {
		return 0, nil, err
	}
	g := sh.getOrCreate(group)
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if g.consumer == nil && (len(g.members) > 0 || g.protocolType != "") {
		g.mu.Unlock()
		return 0, nil, ErrInconsistentGroupProtocol // classic → consumer migration: to come
	}
	next := newConsumerGroup()
	if g.consumer != nil {
		next = g.consumer.clone()
	}
	epoch, assigned, recs, err := next.heartbeatLocked(group, hb, topics, "uniform")
	if err != nil {
		if g.consumer == nil {
			sh.dropIfUnusedReplay(g) // created for this call
		}
		g.mu.Unlock()
		return 0, nil, err
	}
	g.mu.Unlock()
	if err := sh.write(recs); err != nil {
		return 0, nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.consumer = next
	for id := range g.consumerSessions {
		if next.members[id] == nil { // left, or replaced by its static successor
			g.stopConsumerTimersLocked(id)
		}
	}
	if m := next.members[hb.memberID]; m != nil {
		c.resetConsumerSessionLocked(g, hb.memberID)
		c.checkRevocationLocked(g, m)
	}
	return epoch, assigned, nil
}

func (g *group) stopConsumerSessionLocked(id string) {
	if t := g.consumerSessions[id]; t != nil {
		t.Stop()
		delete(g.consumerSessions, id)
	}
}

// stopConsumerTimersLocked stops the timers of a member that is gone.
func (g *group) stopConsumerTimersLocked(id string) {
	g.stopConsumerSessionLocked(id)
	if r, ok := g.consumerRevocations[id]; ok {
		r.timer.Stop()
		delete(g.consumerRevocations, id)
	}
}

// revocation is the timer of a member that must revoke partitions at epoch.
type revocation struct {
	timer coord.Timer
	epoch int32
}

// checkRevocationLocked arms the rebalance timeout of a member that has partitions to
// revoke (Kafka: one that has not revoked them within its rebalance timeout is removed
// from the group, so that the others get them), or stops it once the member moved on.
// g.mu must be held.
func (c *Coordinator) checkRevocationLocked(g *group, m *consumerMember) {
	r, armed := g.consumerRevocations[m.id]
	if m.current.State != memberUnrevokedPartitions {
		if armed {
			r.timer.Stop()
			delete(g.consumerRevocations, m.id)
		}
		return
	}
	if armed && r.epoch == m.current.MemberEpoch {
		return
	}
	if armed {
		r.timer.Stop()
	}
	if g.consumerRevocations == nil {
		g.consumerRevocations = make(map[string]revocation)
	}
	timeout := time.Duration(m.meta.RebalanceTimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = c.opts.ConsumerSessionTimeout
	}
	id, epoch := m.id, m.current.MemberEpoch
	var t coord.Timer
	t = g.shard.afterFunc(timeout, func() {
		g.mu.Lock()
		current := g.consumerRevocations[id].timer == t
		g.mu.Unlock()
		if !current {
			return
		}
		c.logger.Info("consumer group member did not revoke its partitions in time", "group", g.id, "member", id, "epoch", epoch)
		if _, _, err := c.consumerHeartbeat(g.id, consumerHeartbeat{memberID: id, memberEpoch: -1}, nil); err != nil {
			c.logger.Warn("removing a consumer group member", "group", g.id, "member", id, "err", err)
		}
	})
	g.consumerRevocations[id] = revocation{timer: t, epoch: epoch}
}

// resetConsumerSessionLocked (re)arms member id's session timer: when it fires, the
// member is removed as if it had left. g.mu must be held.
func (c *Coordinator) resetConsumerSessionLocked(g *group, id string) {
	g.stopConsumerSessionLocked(id)
	if g.consumerSessions == nil {
		g.consumerSessions = make(map[string]coord.Timer)
	}
	var t coord.Timer
	t = g.shard.afterFunc(c.opts.ConsumerSessionTimeout, func() {
		g.mu.Lock()
		current := g.consumerSessions[id] == t
		g.mu.Unlock()
		if !current {
			return
		}
		c.logger.Info("consumer group member session expired", "group", g.id, "member", id)
		if _, _, err := c.consumerHeartbeat(g.id, consumerHeartbeat{memberID: id, memberEpoch: -1}, nil); err != nil {
			c.logger.Warn("removing an expired consumer group member", "group", g.id, "member", id, "err", err)
		}
	})
	g.consumerSessions[id] = t
}
