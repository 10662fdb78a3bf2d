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
			g.stopConsumerSessionLocked(id)
		}
	}
	if next.members[hb.memberID] != nil {
		c.resetConsumerSessionLocked(g, hb.memberID)
	}
	return epoch, assigned, nil
}

func (g *group) stopConsumerSessionLocked(id string) {
	if t := g.consumerSessions[id]; t != nil {
		t.Stop()
		delete(g.consumerSessions, id)
	}
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
