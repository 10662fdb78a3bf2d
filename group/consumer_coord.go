package group

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

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
// the member's session timer (re)armed — or, for a leave, stopped. It returns the member's
// epoch and assignment, and whether that assignment differs from the one it had.
func (c *Coordinator) consumerHeartbeat(group string, hb consumerHeartbeat) (int32, assign.Assignment, bool, error) {
	if c.closed() {
		return 0, nil, false, ErrCoordinatorNotAvailable
	}
	if hb.serverAssignor != nil && hb.memberEpoch != -1 && !slices.Contains(c.opts.ConsumerAssignors, *hb.serverAssignor) {
		return 0, nil, false, ErrUnsupportedAssignor
	}
	sh, err := c.shardOf(group)
	if err != nil {
		return 0, nil, false, err
	}
	g := sh.getOrCreate(group)
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if g.consumer == nil && hb.classic != nil {
		g.mu.Unlock() // the consumer group became classic since the caller looked: rejoin
		return 0, nil, false, ErrRebalanceInProgress
	}
	next := newConsumerGroup()
	var upgrade []coord.Record // a classic group with members becoming a consumer group
	if g.consumer == nil && len(g.members) > 0 {
		err := fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, group)
		if hb.memberEpoch == 0 {
			next, upgrade, err = c.upgradeLocked(g)
		}
		if err != nil {
			g.mu.Unlock()
			return 0, nil, false, err
		}
	}
	convert := upgrade == nil && g.consumer == nil && (g.protocolType != "" || g.generation != 0)
	if convert && !c.opts.ConsumerMigration.upgrade() {
		g.mu.Unlock()
		return 0, nil, false, fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, group)
	}
	if g.consumer != nil {
		next = g.consumer.clone()
	}
	var before assign.Assignment
	if m := next.members[hb.memberID]; m != nil {
		before = toAssignment(m.current.AssignedPartitions)
	} else if (hb.memberEpoch == 0 || hb.classic != nil) && len(next.members) >= c.opts.ConsumerMaxSize && next.staticMember(hb.instanceID) == nil {
		g.mu.Unlock()
		return 0, nil, false, ErrGroupMaxSizeReached
	}
	epoch, assigned, recs, err := next.heartbeatLocked(group, hb, c.opts.Topics, c.opts.ConsumerAssignors[0])
	if err != nil {
		if g.consumer == nil {
			sh.dropIfUnusedReplay(g) // created for this call
		}
		g.mu.Unlock()
		return 0, nil, false, err
	}
	if convert {
		// An empty classic group becomes a consumer group (Kafka: the classic group's
		// metadata is deleted; its committed offsets stay).
		recs = append([]coord.Record{{Key: groupKey(g.id)}}, recs...)
	}
	recs = append(upgrade, recs...)
	// After a member left, the consumer group may become the classic group classic.
	classic, more := c.downgradeIfLeft(g, next, hb.memberEpoch)
	recs = append(recs, more...)
	g.mu.Unlock()
	if err := sh.write(recs); err != nil {
		return 0, nil, false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if convert {
		g.resetMetadata()
	}
	if upgrade != nil {
		g.endClassicLocked()
	}
	if classic != nil {
		c.becomeClassicLocked(g, classic)
		return epoch, assigned, false, nil
	}
	g.consumer = next
	for id := range g.consumerSessions {
		if next.members[id] == nil { // left, or replaced by its static successor
			g.stopConsumerTimersLocked(id)
		}
	}
	armed := []string{hb.memberID}
	if upgrade != nil {
		armed = slices.Collect(maps.Keys(next.members)) // every classic member's too
	}
	for _, id := range armed {
		if m := next.members[id]; m != nil {
			c.resetConsumerSessionLocked(g, id)
			c.checkRevocationLocked(g, m)
		}
	}
	return epoch, assigned, !sameAssignment(before, assigned), nil
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
		timeout, _ = c.opts.consumerSettings(g.id)
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
		if _, _, _, err := c.consumerHeartbeat(g.id, consumerHeartbeat{memberID: id, memberEpoch: -1}); err != nil {
			c.logger.Warn("removing a consumer group member", "group", g.id, "member", id, "err", err)
		}
	})
	g.consumerRevocations[id] = revocation{timer: t, epoch: epoch}
}

// resetConsumerSessionLocked (re)arms member id's session timer (a classic member's
// session timeout is its own): when it fires, the member is removed as if it had left.
// g.mu must be held and g.consumer set.
func (c *Coordinator) resetConsumerSessionLocked(g *group, id string) {
	g.stopConsumerSessionLocked(id)
	if g.consumerSessions == nil {
		g.consumerSessions = make(map[string]coord.Timer)
	}
	timeout, _ := c.opts.consumerSettings(g.id)
	if m := g.consumer.members[id]; m != nil && m.meta.Classic != nil {
		timeout = time.Duration(m.meta.Classic.SessionTimeoutMs) * time.Millisecond // its JoinGroup's
	}
	var t coord.Timer
	t = g.shard.afterFunc(timeout, func() {
		g.mu.Lock()
		current := g.consumerSessions[id] == t
		g.mu.Unlock()
		if !current {
			return
		}
		c.logger.Info("consumer group member session expired", "group", g.id, "member", id)
		if _, _, _, err := c.consumerHeartbeat(g.id, consumerHeartbeat{memberID: id, memberEpoch: -1}); err != nil {
			c.logger.Warn("removing an expired consumer group member", "group", g.id, "member", id, "err", err)
		}
	})
	g.consumerSessions[id] = t
}
