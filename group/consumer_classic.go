package group

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// Classic members of a consumer group (Kafka's classicGroupJoinToConsumerGroup,
// classicGroupSyncToConsumerGroup, classicGroupHeartbeatToConsumerGroup and
// classicGroupLeaveToConsumerGroup): a member using JoinGroup/SyncGroup/Heartbeat/
// LeaveGroup in a group whose members use the consumer protocol. The broker assigns: its
// JoinGroup is a heartbeat of the state machine (its subscription and owned partitions
// from the consumer protocol's metadata, ClassicMemberMetadata kept in its record), the
// generation it gets is its member epoch, nobody is leader, and SyncGroup hands it its
// current assignment. Its Heartbeat answers REBALANCE_IN_PROGRESS when it must rejoin to
// move on: the group epoch passed it, it has partitions to revoke, or partitions it
// waits for are free.

// consumerProtocolType is the protocol type of Kafka consumers, the only one a consumer
// group accepts from classic members.
const consumerProtocolType = "consumer"

// joinConsumerGroup runs a JoinGroup of a classic member into consumer group g.
func (c *Coordinator) joinConsumerGroup(g *group, req *JoinRequest) (JoinResult, error) {
	if req.ProtocolType != consumerProtocolType {
		return JoinResult{}, ErrInconsistentGroupProtocol
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(req.Protocols[0].Metadata); err != nil {
		return JoinResult{}, ErrInconsistentGroupProtocol
	}
	classic := classicMetadata(req.SessionTimeout, req.Protocols)
	id := req.MemberID
	if id == "" {
		prefix := req.ClientID
		if req.InstanceID != nil {
			prefix = *req.InstanceID
		} else if prefix == "" {
			prefix = "member"
		}
		id = newMemberID(prefix)
		if req.InstanceID == nil && req.RequireKnownMemberID {
			g.mu.Lock()
			ok := g.consumer == nil || g.consumer.supportsClassic(id, classic.SupportedProtocols)
			g.mu.Unlock()
			if !ok {
				return JoinResult{}, ErrInconsistentGroupProtocol
			}
			return JoinResult{MemberID: id, Generation: -1}, ErrMemberIDRequired
		}
	}
	topics := slices.Clone(sub.Topics)
	if topics == nil {
		topics = []string{}
	}
	hb := consumerHeartbeat{memberID: id, instanceID: req.InstanceID, rackID: sub.Rack,
		rebalanceTimeoutMs: int32(req.RebalanceTimeout.Milliseconds()), topics: topics,
		owned: assign.Assignment{}, clientID: req.ClientID, clientHost: req.ClientHost, classic: classic}
	for _, op := range sub.OwnedPartitions {
		if tid, _, ok := c.opts.Topics.Topic(op.Topic); ok {
			hb.owned[tid] = append(hb.owned[tid], op.Partitions...)
		}
	}
	for _, ps := range hb.owned {
		slices.Sort(ps)
	}
	epoch, _, _, err := c.consumerHeartbeat(g.id, hb)
	if err != nil {
		return JoinResult{}, err
	}
	return JoinResult{Generation: epoch, ProtocolType: consumerProtocolType, Protocol: req.Protocols[0].Name, MemberID: id}, nil
}

// classicMetadata is what a classic member of a consumer group keeps of its JoinGroup.
func classicMetadata(session time.Duration, protocols []Protocol) *classicMemberMetadata {
	c := &classicMemberMetadata{SessionTimeoutMs: int32(session.Milliseconds())}
	for _, p := range protocols {
		c.SupportedProtocols = append(c.SupportedProtocols, classicProtocol(p))
	}
	return c
}

// supportsClassic reports whether a classic member with these protocols may join: one
// of them must be supported by every other classic member.
func (cg *consumerGroup) supportsClassic(self string, protocols []classicProtocol) bool {
	for _, p := range protocols {
		all := true
		for id, m := range cg.members {
			if id != self && m.meta.Classic != nil && !slices.ContainsFunc(m.meta.Classic.SupportedProtocols,
				func(q classicProtocol) bool { return q.Name == p.Name }) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// classicMemberLocked finds the classic member of consumer group g that a SyncGroup or
// Heartbeat comes from, as Kafka validates it: FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID (also
// for a member using the consumer protocol), ILLEGAL_GENERATION (not its member epoch).
func (g *group) classicMemberLocked(memberID string, instanceID *string, generation int32) (*consumerMember, error) {
	if g.consumer == nil {
		return nil, ErrUnknownMemberID
	}
	if instanceID != nil {
		if sm := g.consumer.staticMember(instanceID); sm != nil && sm.id != memberID {
			return nil, ErrFencedInstanceID
		}
	}
	m := g.consumer.members[memberID]
	if m == nil || m.meta.Classic == nil {
		return nil, ErrUnknownMemberID
	}
	if generation != m.current.MemberEpoch {
		return nil, ErrIllegalGeneration
	}
	return m, nil
}

// syncConsumerGroup answers a SyncGroup of a classic member of consumer group g with its
// current assignment (the leader's assignments, if any, are ignored: the broker assigns).
func (c *Coordinator) syncConsumerGroup(g *group, req *SyncRequest) (SyncResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := g.classicMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return SyncResult{}, err
	}
	protocol := m.meta.Classic.SupportedProtocols[0]
	if req.ProtocolType != nil && *req.ProtocolType != consumerProtocolType || req.Protocol != nil && *req.Protocol != protocol.Name {
		return SyncResult{}, ErrInconsistentGroupProtocol
	}
	c.resetConsumerSessionLocked(g, m.id)
	return SyncResult{ProtocolType: consumerProtocolType, Protocol: protocol.Name, Assignment: c.classicAssignment(m)}, nil
}

// classicAssignment encodes classic member m's current assignment as the consumer
// protocol's assignment (the version of its subscription's, at most 3).
func (c *Coordinator) classicAssignment(m *consumerMember) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	if sub := kmsg.NewConsumerMemberMetadata(); sub.ReadFrom(m.meta.Classic.SupportedProtocols[0].Metadata) == nil {
		a.Version = min(sub.Version, 3)
	}
	for _, tp := range m.current.AssignedPartitions {
		if name, ok := c.opts.Topics.TopicName(tp.TopicID); ok {
			a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: name, Partitions: slices.Clone(tp.Partitions)})
		}
	}
	return a.AppendTo(nil)
}

// heartbeatConsumerGroup runs a Heartbeat of a classic member of consumer group g: its
// session is renewed; ErrRebalanceInProgress asks it to rejoin when the group epoch passed
// its epoch, it must revoke partitions, or partitions it waits for have been released.
func (c *Coordinator) heartbeatConsumerGroup(g *group, req *HeartbeatRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := g.classicMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	c.resetConsumerSessionLocked(g, m.id)
	switch {
	case m.current.MemberEpoch < g.consumer.epoch, m.current.State == memberUnrevokedPartitions,
		m.current.State == memberUnreleasedPartitions && g.consumer.released(m):
		return ErrRebalanceInProgress
	}
	return nil
}

// released reports whether a partition of m's target that m does not have yet is owned by
// no other member any more.
func (cg *consumerGroup) released(m *consumerMember) bool {
	owner := cg.partitionEpochExcept(m.id)
	assigned := toAssignment(m.current.AssignedPartitions)
	for _, tp := range m.target {
		for _, p := range tp.Partitions {
			if !slices.Contains(assigned[tp.TopicID], p) && owner(tp.TopicID, p) == -1 {
				return true
			}
		}
	}
	return false
}

// leaveConsumerGroup removes classic members of consumer group g (LeaveGroup), each as if
// it had left with member epoch -1. It returns one error per member.
func (c *Coordinator) leaveConsumerGroup(g *group, members []LeaveMember) []error {
	errs := make([]error, len(members))
	for i, lm := range members {
		g.mu.Lock()
		id := lm.MemberID
		var m *consumerMember
		if g.consumer != nil {
			if lm.InstanceID != nil {
				m = g.consumer.staticMember(lm.InstanceID)
				if m != nil && id != "" && m.id != id {
					errs[i] = ErrFencedInstanceID
				}
			} else {
				m = g.consumer.members[id]
			}
		}
		if errs[i] == nil && (m == nil || m.meta.Classic == nil) {
			errs[i] = ErrUnknownMemberID
		}
		g.mu.Unlock()
		if errs[i] == nil {
			_, _, _, errs[i] = c.consumerHeartbeat(g.id, consumerHeartbeat{memberID: m.id, memberEpoch: -1})
		}
	}
	return errs
}

// upgradeLocked converts classic group g, which has members, into a consumer group for a
// KIP-848 member joining it (Kafka's validateOnlineUpgrade and convertToConsumerGroup):
// the group epoch and every member's epoch are the classic generation, each member keeps
// its subscription, its assignment (as target and current) and its protocols and
// session timeout (ClassicMemberMetadata). It returns the consumer group and its records,
// the classic group's tombstone first, already applied to it; g is unchanged. Kafka
// refuses with GROUP_ID_NOT_FOUND when the migration policy does not allow upgrades, the
// group's protocol type is not consumer, it has more members than group.consumer.max.size
// or a member's subscription or assignment does not decode. g.mu must be held.
func (c *Coordinator) upgradeLocked(g *group) (*consumerGroup, []coord.Record, error) {
	refuse := func(why string) error {
		return fmt.Errorf("%w: cannot upgrade classic group %s to a consumer group: %s", ErrGroupIDNotFound, g.id, why)
	}
	switch {
	case !c.opts.ConsumerMigration.upgrade():
		return nil, nil, refuse("group.consumer.migration.policy")
	case g.protocolType != consumerProtocolType:
		return nil, nil, refuse("protocol type " + g.protocolType)
	case len(g.members) > c.opts.ConsumerMaxSize:
		return nil, nil, refuse("more members than group.consumer.max.size")
	}
	cg := newConsumerGroup()
	recs := []coord.Record{{Key: groupKey(g.id)}}
	emit := func(k cgKey, value []byte) {
		apply, err := consumerRecordApply(k, value)
		if err != nil {
			panic("group: a record the upgrade encoded does not decode: " + err.Error())
		}
		apply(cg)
		recs = append(recs, coord.Record{Key: k.appendTo(nil), Value: value})
	}
	epoch := g.generation
	for _, id := range g.sortedMemberIDs() {
		m := g.members[id]
		subscription := m.metadataFor(g.protocol)
		if g.protocol == "" && len(m.protocols) > 0 {
			subscription = m.protocols[0].Metadata
		}
		var sub kmsg.ConsumerMemberMetadata
		if err := sub.ReadFrom(subscription); err != nil {
			return nil, nil, refuse("a member's subscription does not decode")
		}
		var asg kmsg.ConsumerMemberAssignment
		if len(m.assignment) > 0 {
			if err := asg.ReadFrom(m.assignment); err != nil {
				return nil, nil, refuse("a member's assignment does not decode")
			}
		}
		assigned := assign.Assignment{}
		for _, t := range asg.Topics {
			if tid, _, ok := c.opts.Topics.Topic(t.Topic); ok {
				assigned[tid] = append(assigned[tid], t.Partitions...)
			}
		}
		meta := consumerMemberMetadata{InstanceID: m.instanceID, RackID: sub.Rack, ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopicNames: slices.Sorted(slices.Values(sub.Topics)), RebalanceTimeoutMs: int32(m.rebalanceTimeout.Milliseconds()),
			Classic: classicMetadata(m.sessionTimeout, m.protocols)}
		if meta.SubscribedTopicNames == nil {
			meta.SubscribedTopicNames = []string{}
		}
		tps := toTopicPartitions(assigned, nil)
		emit(cgKey{version: cgMemberKeyVersion, group: g.id, sub: id}, meta.appendTo(nil))
		emit(cgKey{version: cgTargetMemberKeyVersion, group: g.id, sub: id}, (&consumerTargetMember{TopicPartitions: tps}).appendTo(nil))
		cur := consumerCurrentAssignment{MemberEpoch: epoch, PreviousMemberEpoch: epoch, State: memberStable, AssignedPartitions: tps}
		emit(cgKey{version: cgCurrentAssignmentKeyVersion, group: g.id, sub: id}, cur.appendTo(nil))
	}
	emit(cgKey{version: cgTargetMetadataKeyVersion, group: g.id}, (&consumerTargetMetadata{AssignmentEpoch: epoch}).appendTo(nil))
	v := consumerGroupMetadata{Epoch: epoch, MetadataHash: cg.subscriptionHash(c.opts.Topics), CreationTimeMs: c.clock.Now().UnixMilli()}
	emit(cgKey{version: cgMetadataKeyVersion, group: g.id}, v.appendTo(nil))
	return cg, recs, nil
}

// endClassicLocked ends group g's classic life once it became a consumer group: its
// timers stop, its members' pending JoinGroup and SyncGroup calls get
// ErrRebalanceInProgress (they rejoin, as classic members of the consumer group), its
// classic metadata goes. g.mu must be held.
func (g *group) endClassicLocked() {
	for _, m := range g.members {
		if m.joinCh != nil {
			m.joinCh <- joinOutcome{err: ErrRebalanceInProgress}
			m.joinCh = nil
		}
		if m.syncCh != nil {
			m.syncCh <- syncOutcome{err: ErrRebalanceInProgress}
			m.syncCh = nil
		}
	}
	g.stopTimersLocked()
	g.joinOrder = nil
	g.dirty = false
	g.resetMetadata()
}

// downgradeIfLeft returns the classic group consumer group cg becomes, and the records
// that carry the change, when a member left it (memberEpoch -1) and it is downgradable;
// nil otherwise.
func (c *Coordinator) downgradeIfLeft(g *group, cg *consumerGroup, memberEpoch int32) (*group, []coord.Record) {
	if memberEpoch != -1 || !c.downgradable(cg) {
		return nil, nil
	}
	return c.downgrade(g, cg)
}

// downgradable reports whether consumer group cg, after a member left, becomes a classic
// group (Kafka's validateOnlineDowngrade): it still has members, all of them classic, and
// the migration policy allows downgrades.
func (c *Coordinator) downgradable(cg *consumerGroup) bool {
	if len(cg.members) == 0 || !c.opts.ConsumerMigration.downgrade() {
		return false
	}
	for _, m := range cg.members {
		if m.meta.Classic == nil {
			return false
		}
	}
	return true
}

// downgrade builds the classic group that consumer group cg of group id becomes (Kafka's
// ClassicGroup.fromConsumerGroup): generation the group epoch, Stable, each member with
// its protocols, timeouts and current assignment, the protocol by vote, a leader; and the
// records that carry the change (cg's tombstones, then the classic group's metadata).
func (c *Coordinator) downgrade(g *group, cg *consumerGroup) (*group, []coord.Record) {
	now := c.clock.Now()
	cl := newGroup(g.id, g.shard, now)
	cl.protocolType, cl.generation, cl.state = consumerProtocolType, cg.epoch, StateStable
	var recs []coord.Record
	ids := slices.Sorted(maps.Keys(cg.members))
	for _, id := range ids {
		m := cg.members[id]
		for _, v := range []int16{cgCurrentAssignmentKeyVersion, cgTargetMemberKeyVersion, cgMemberKeyVersion} {
			recs = append(recs, coord.Record{Key: cgKey{version: v, group: g.id, sub: id}.appendTo(nil)})
		}
		mm := &member{id: id, instanceID: m.meta.InstanceID, clientID: m.meta.ClientID, clientHost: m.meta.ClientHost,
			sessionTimeout:   time.Duration(m.meta.Classic.SessionTimeoutMs) * time.Millisecond,
			rebalanceTimeout: time.Duration(m.meta.RebalanceTimeoutMs) * time.Millisecond, assignment: c.classicAssignment(m)}
		if mm.rebalanceTimeout <= 0 {
			mm.rebalanceTimeout = mm.sessionTimeout
		}
		for _, p := range m.meta.Classic.SupportedProtocols {
			mm.protocols = append(mm.protocols, Protocol(p))
		}
		cl.members[id] = mm
		if mm.instanceID != nil {
			cl.static[*mm.instanceID] = id
		}
	}
	cl.protocol, cl.leader = cl.selectProtocolLocked(ids), ids[0]
	for _, re := range slices.Sorted(maps.Keys(cg.regexes)) {
		recs = append(recs, coord.Record{Key: cgKey{version: cgRegexKeyVersion, group: g.id, sub: re}.appendTo(nil)})
	}
	recs = append(recs, coord.Record{Key: cgKey{version: cgTargetMetadataKeyVersion, group: g.id}.appendTo(nil)},
		coord.Record{Key: cgKey{version: cgMetadataKeyVersion, group: g.id}.appendTo(nil)},
		coord.Record{Key: groupKey(g.id), Value: cl.metadataValueLocked()})
	return cl, recs
}

// becomeClassicLocked makes g the classic group cl (from downgrade) once its records are
// written: the consumer timers stop, the members' sessions start, and a rebalance begins
// (the members rejoin with JoinGroup, as Kafka's downgrade on a member's leave does).
// g.mu must be held.
func (c *Coordinator) becomeClassicLocked(g *group, cl *group) {
	for id := range g.consumerSessions {
		g.stopConsumerTimersLocked(id)
	}
	for id := range g.consumerRevocations {
		g.stopConsumerTimersLocked(id)
	}
	g.consumer = nil
	g.protocolType, g.protocol, g.generation, g.leader = cl.protocolType, cl.protocol, cl.generation, cl.leader
	g.members, g.static, g.joinOrder = cl.members, cl.static, nil
	now := c.clock.Now()
	g.setStateLocked(StateStable, now)
	for _, m := range g.members {
		c.resetSessionLocked(g, m)
	}
	c.prepareRebalanceLocked(g, now)
}
