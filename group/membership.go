package group

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group            string
	MemberID         string  // "" on a first join
	InstanceID       *string // group.instance.id (static membership), nil for dynamic members
	ClientID         string
	ClientHost       string
	ProtocolType     string // "consumer" for Kafka consumers
	Protocols        []Protocol
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration // JoinGroup v0 has none: pass the session timeout
	// RequireKnownMemberID is set for JoinGroup v4+: a first dynamic join gets
	// ErrMemberIDRequired with a member ID to rejoin with.
	RequireKnownMemberID bool
}

// JoinMember is one member as the leader sees it in the JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult is a JoinGroup response. MemberID is also set with ErrMemberIDRequired.
type JoinResult struct {
	Generation     int32
	ProtocolType   string
	Protocol       string
	LeaderID       string
	MemberID       string
	SkipAssignment bool         // a static leader rejoined a stable group: do not reassign
	Members        []JoinMember // for the leader only
}

// SyncRequest is a SyncGroup request. Assignments is used only from the leader.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string // v5+, nil when absent
	Protocol     *string // v5+, nil when absent
	Assignments  map[string][]byte
}

// SyncResult is a SyncGroup response.
type SyncResult struct {
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat request.
type HeartbeatRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
}

// LeaveMember identifies a member leaving: by MemberID, or by InstanceID with an empty
// MemberID (LeaveGroup v3+).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
}

func (c *Coordinator) checkSessionTimeout(d time.Duration) error {
	if d < c.opts.MinSessionTimeout || d > c.opts.MaxSessionTimeout {
		return ErrInvalidSessionTimeout
	}
	return nil
}

// Join handles JoinGroup. It blocks until the rebalance completes (or ctx is done) and
// returns the result for this member; errors are the package's sentinels.
func (c *Coordinator) Join(ctx context.Context, req *JoinRequest) (JoinResult, error) {
	if c.closed() {
		return JoinResult{}, ErrCoordinatorNotAvailable
	}
	if req.Group == "" {
		return JoinResult{}, ErrInvalidGroupID
	}
	if err := c.checkSessionTimeout(req.SessionTimeout); err != nil {
		return JoinResult{}, err
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		return JoinResult{}, ErrInconsistentGroupProtocol
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	sh, err := c.shardOf(req.Group)
	if err != nil {
		return JoinResult{}, err
	}
	var g *group
	if req.MemberID == "" {
		g = sh.getOrCreate(req.Group)
	} else if g = sh.lookup(req.Group); g == nil {
		return JoinResult{}, ErrUnknownMemberID
	}
	if active, err := c.dropEmptyConsumerGroup(g); err != nil {
		return JoinResult{}, err
	} else if active {
		return c.joinConsumerGroup(g, req)
	}

	g.mu.Lock()
	ch, res, err := c.joinLocked(g, req)
	g.mu.Unlock()
	_ = sh.persistGroup(g)
	if ch == nil {
		return res, err
	}
	out, err := wait(ctx, g, ch)
	if err != nil {
		return JoinResult{}, err
	}
	return out.res, out.err
}

// joinLocked runs a join under g.mu. It returns either a channel to wait on or an
// immediate result.
func (c *Coordinator) joinLocked(g *group, req *JoinRequest) (<-chan joinOutcome, JoinResult, error) {
	now := c.clock.Now()
	if g.state == StateDead {
		// Deleted under our feet; the client retries.
		return nil, JoinResult{}, ErrCoordinatorNotAvailable
	}
	if !g.supportsLocked(req.MemberID, req.ProtocolType, req.Protocols) {
		return nil, JoinResult{}, ErrInconsistentGroupProtocol
	}

	if req.MemberID == "" {
		if req.InstanceID != nil {
			if old, ok := g.static[*req.InstanceID]; ok {
				if m := g.members[old]; m != nil {
					return c.replaceStaticLocked(g, m, req, now)
				}
			}
			id := newMemberID(*req.InstanceID)
			return c.addMemberLocked(g, id, req, now), JoinResult{}, nil
		}
		clientID := req.ClientID
		if clientID == "" {
			clientID = "member"
		}
		id := newMemberID(clientID)
		if req.RequireKnownMemberID {
			c.addPendingLocked(g, id, req.SessionTimeout)
			return nil, JoinResult{MemberID: id, Generation: -1}, ErrMemberIDRequired
		}
		return c.addMemberLocked(g, id, req, now), JoinResult{}, nil
	}

	if req.InstanceID != nil {
		if cur, ok := g.static[*req.InstanceID]; ok && cur != req.MemberID {
			return nil, JoinResult{}, ErrFencedInstanceID
		}
	}
	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		return c.addMemberLocked(g, req.MemberID, req, now), JoinResult{}, nil
	}
	m := g.members[req.MemberID]
	if m == nil {
		return nil, JoinResult{}, ErrUnknownMemberID
	}
	switch g.state {
	case StatePreparingRebalance:
		c.updateMemberLocked(g, m, req)
		ch := c.awaitJoinLocked(g, m)
		c.maybeCompleteJoinLocked(g)
		return ch, JoinResult{}, nil
	case StateCompletingRebalance, StateStable:
		if sameProtocols(m.protocols, req.Protocols) && (g.state == StateCompletingRebalance || m.id != g.leader) {
			// Nothing changed: the member lost our response, give it again.
			c.resetSessionLocked(g, m)
			return nil, g.joinResultLocked(m, false), nil
		}
		c.updateMemberLocked(g, m, req)
		ch := c.awaitJoinLocked(g, m)
		c.prepareRebalanceLocked(g, now)
		return ch, JoinResult{}, nil
	default:
		return nil, JoinResult{}, ErrUnknownMemberID
	}
}

// supportsLocked reports whether a member with these protocols may join g: the protocol
// type must match and at least one protocol must be supported by every other member.
func (g *group) supportsLocked(self, protocolType string, protocols []Protocol) bool {
	others := 0
	for id := range g.members {
		if id != self {
			others++
		}
	}
	if others == 0 {
		return true
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for id, m := range g.members {
			if id != self && m.metadataFor(p.Name) == nil && !m.hasProtocol(p.Name) {
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

func (m *member) hasProtocol(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (c *Coordinator) addPendingLocked(g *group, id string, session time.Duration) {
	g.pending[id] = g.shard.afterFunc(session, func() {
		g.mu.Lock()
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			if g.state == StatePreparingRebalance {
				c.maybeCompleteJoinLocked(g)
			}
		}
		g.mu.Unlock()
		_ = g.shard.persistGroup(g)
	})
}

func (c *Coordinator) updateMemberLocked(g *group, m *member, req *JoinRequest) {
	m.clientID = req.ClientID
	m.clientHost = req.ClientHost
	m.sessionTimeout = req.SessionTimeout
	m.rebalanceTimeout = req.RebalanceTimeout
	m.protocols = append([]Protocol(nil), req.Protocols...)
	if req.InstanceID != nil {
		id := *req.InstanceID
		m.instanceID = &id
	}
}

// addMemberLocked adds a new member and starts or joins a rebalance.
func (c *Coordinator) addMemberLocked(g *group, id string, req *JoinRequest, now time.Time) <-chan joinOutcome {
	m := &member{id: id}
	c.updateMemberLocked(g, m, req)
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	ch := c.awaitJoinLocked(g, m)
	if g.state == StatePreparingRebalance {
		c.maybeCompleteJoinLocked(g)
	} else {
		c.prepareRebalanceLocked(g, now)
	}
	return ch
}

// replaceStaticLocked gives a rejoining static member a new member ID, fencing the old one.
func (c *Coordinator) replaceStaticLocked(g *group, old *member, req *JoinRequest, now time.Time) (<-chan joinOutcome, JoinResult, error) {
	newID := newMemberID(*req.InstanceID)
	if old.joinCh != nil {
		old.joinCh <- joinOutcome{err: ErrFencedInstanceID}
		old.joinCh = nil
	}
	if old.syncCh != nil {
		old.syncCh <- syncOutcome{err: ErrFencedInstanceID}
		old.syncCh = nil
	}
	if old.session != nil {
		old.session.Stop()
		old.session = nil
	}
	old.sessionSeq++
	unchanged := sameProtocols(old.protocols, req.Protocols)
	oldID := old.id
	delete(g.members, oldID)
	old.id = newID
	g.members[newID] = old
	g.static[*req.InstanceID] = newID
	for i, id := range g.joinOrder {
		if id == oldID {
			g.joinOrder[i] = newID
		}
	}
	wasLeader := g.leader == oldID
	if wasLeader {
		g.leader = newID
	}
	switch {
	case g.state == StateStable && unchanged:
		c.updateMemberLocked(g, old, req)
		g.dirty = true
		c.resetSessionLocked(g, old)
		res := g.joinResultLocked(old, wasLeader)
		return nil, res, nil
	case g.state == StatePreparingRebalance:
		c.updateMemberLocked(g, old, req)
		ch := c.awaitJoinLocked(g, old)
		c.maybeCompleteJoinLocked(g)
		return ch, JoinResult{}, nil
	default:
		c.updateMemberLocked(g, old, req)
		ch := c.awaitJoinLocked(g, old)
		c.prepareRebalanceLocked(g, now)
		return ch, JoinResult{}, nil
	}
}

// joinResultLocked is the current generation as member m sees it.
func (g *group) joinResultLocked(m *member, skipAssignment bool) JoinResult {
	res := JoinResult{
		Generation:     g.generation,
		ProtocolType:   g.protocolType,
		Protocol:       g.protocol,
		LeaderID:       g.leader,
		MemberID:       m.id,
		SkipAssignment: skipAssignment,
	}
	if m.id == g.leader {
		for _, id := range g.sortedMemberIDs() {
			o := g.members[id]
			res.Members = append(res.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadataFor(g.protocol)})
		}
	}
	return res
}

// awaitJoinLocked registers m as joined in the current rebalance and returns its channel.
func (c *Coordinator) awaitJoinLocked(g *group, m *member) chan joinOutcome {
	if m.joinCh == nil {
		g.joinOrder = append(g.joinOrder, m.id)
	}
	m.joinCh = make(chan joinOutcome, 1)
	// A member waiting in JoinGroup is not expected to heartbeat.
	if m.session != nil {
		m.session.Stop()
		m.session = nil
	}
	m.sessionSeq++
	return m.joinCh
}

// prepareRebalanceLocked moves g to PreparingRebalance and arms the join timer.
func (c *Coordinator) prepareRebalanceLocked(g *group, now time.Time) {
	if g.state == StateCompletingRebalance {
		for _, m := range g.members {
			if m.syncCh != nil {
				m.syncCh <- syncOutcome{err: ErrRebalanceInProgress}
				m.syncCh = nil
			}
			m.assignment = nil
		}
	}
	wasEmpty := g.state == StateEmpty
	g.setStateLocked(StatePreparingRebalance, now)
	g.rebalanceStart = now
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	g.joinSeq++
	seq := g.joinSeq
	var d time.Duration
	if wasEmpty {
		g.initialDelay = true
		d = c.opts.InitialRebalanceDelay
	} else {
		g.initialDelay = false
		for _, m := range g.members {
			d = max(d, m.rebalanceTimeout)
		}
	}
	g.joinTimer = g.shard.afterFunc(d, func() {
		g.mu.Lock()
		if g.joinSeq == seq && g.state == StatePreparingRebalance {
			g.joinTimer = nil
			g.initialDelay = false
			c.completeJoinLocked(g)
		}
		g.mu.Unlock()
		_ = g.shard.persistGroup(g)
	})
	c.maybeCompleteJoinLocked(g)
}

// maybeCompleteJoinLocked completes the rebalance if every member has rejoined.
func (c *Coordinator) maybeCompleteJoinLocked(g *group) {
	if g.state != StatePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinCh == nil {
			return
		}
	}
	c.completeJoinLocked(g)
}

// completeJoinLocked ends PreparingRebalance: members that did not rejoin are removed,
// the generation advances, a protocol and leader are chosen and every waiting member is
// answered.
func (c *Coordinator) completeJoinLocked(g *group) {
	now := c.clock.Now()
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinSeq++
	for _, m := range g.members {
		if m.joinCh == nil {
			c.removeMemberLocked(g, m, ErrUnknownMemberID)
		}
	}
	order := g.joinOrder
	g.joinOrder = nil
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setStateLocked(StateEmpty, now)
		g.dirty = true
		return
	}
	g.protocol = g.selectProtocolLocked(order)
	if g.members[g.leader] == nil {
		g.leader = ""
		for _, id := range order {
			if g.members[id] != nil {
				g.leader = id
				break
			}
		}
	}
	g.setStateLocked(StateCompletingRebalance, now)
	for _, m := range g.members {
		m.assignment = nil
		m.joinCh <- joinOutcome{res: g.joinResultLocked(m, false)}
		m.joinCh = nil
		c.resetSessionLocked(g, m)
	}
}

// selectProtocolLocked picks the protocol every member supports, by vote of each member's
// most preferred candidate; ties go to the earliest joiner's preference.
func (g *group) selectProtocolLocked(order []string) string {
	counts := map[string]int{}
	for _, m := range g.members {
		seen := map[string]bool{}
		for _, p := range m.protocols {
			if !seen[p.Name] {
				seen[p.Name] = true
				counts[p.Name]++
			}
		}
	}
	candidate := func(name string) bool { return counts[name] == len(g.members) }
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if candidate(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	var first *member
	for _, id := range order {
		if first = g.members[id]; first != nil {
			break
		}
	}
	if first == nil {
		for _, id := range g.sortedMemberIDs() {
			first = g.members[id]
			break
		}
	}
	for _, p := range first.protocols {
		if candidate(p.Name) && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// removeMemberLocked removes m, answering its pending calls with err.
func (c *Coordinator) removeMemberLocked(g *group, m *member, err error) {
	if m.session != nil {
		m.session.Stop()
		m.session = nil
	}
	m.sessionSeq++
	if m.joinCh != nil {
		m.joinCh <- joinOutcome{err: err}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncOutcome{err: err}
		m.syncCh = nil
	}
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	for i, id := range g.joinOrder {
		if id == m.id {
			g.joinOrder = append(g.joinOrder[:i:i], g.joinOrder[i+1:]...)
			break
		}
	}
	g.dirty = true
}

// memberGoneLocked reacts to a member having left or expired.
func (c *Coordinator) memberGoneLocked(g *group, now time.Time) {
	switch g.state {
	case StateStable, StateCompletingRebalance:
		c.prepareRebalanceLocked(g, now)
	case StatePreparingRebalance:
		c.maybeCompleteJoinLocked(g)
	}
}

// resetSessionLocked (re)arms m's session timeout.
func (c *Coordinator) resetSessionLocked(g *group, m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.session = g.shard.afterFunc(m.sessionTimeout, func() {
		g.mu.Lock()
		if cur := g.members[m.id]; cur == m && m.sessionSeq == seq {
			c.logger.Info("member session expired", "group", g.id, "member", m.id)
			m.session = nil
			c.removeMemberLocked(g, m, ErrUnknownMemberID)
			c.memberGoneLocked(g, c.clock.Now())
		}
		g.mu.Unlock()
		_ = g.shard.persistGroup(g)
	})
}

// Sync handles SyncGroup. The leader's call stores every assignment; the others wait for it.
func (c *Coordinator) Sync(ctx context.Context, req *SyncRequest) (SyncResult, error) {
	if c.closed() {
		return SyncResult{}, ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(req.Group)
	if err != nil {
		return SyncResult{}, err
	}
	g := sh.lookup(req.Group)
	if g == nil {
		return SyncResult{}, ErrUnknownMemberID
	}
	g.mu.Lock()
	if g.consumer != nil {
		g.mu.Unlock()
		return c.syncConsumerGroup(g, req)
	}
	m, err := g.checkMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		g.mu.Unlock()
		return SyncResult{}, err
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol) {
		g.mu.Unlock()
		return SyncResult{}, ErrInconsistentGroupProtocol
	}
	switch g.state {
	case StatePreparingRebalance:
		g.mu.Unlock()
		return SyncResult{}, ErrRebalanceInProgress
	case StateStable:
		c.resetSessionLocked(g, m)
		res := SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
		g.mu.Unlock()
		return res, nil
	case StateCompletingRebalance:
	default:
		g.mu.Unlock()
		return SyncResult{}, ErrUnknownMemberID
	}
	c.resetSessionLocked(g, m)
	if m.id != g.leader {
		m.syncCh = make(chan syncOutcome, 1)
		ch := m.syncCh
		g.mu.Unlock()
		out, err := wait(ctx, g, ch)
		if err != nil {
			return SyncResult{}, err
		}
		return out.res, out.err
	}
	// The leader: store the assignments, become Stable, answer everyone.
	for id, om := range g.members {
		om.assignment = req.Assignments[id]
		if om.assignment == nil {
			om.assignment = []byte{}
		}
	}
	g.setStateLocked(StateStable, c.clock.Now())
	g.dirty = true
	for _, om := range g.members {
		if om.syncCh != nil {
			om.syncCh <- syncOutcome{res: SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: om.assignment}}
			om.syncCh = nil
		}
	}
	res := SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
	g.mu.Unlock()
	if err := sh.persistGroup(g); err != nil {
		return SyncResult{}, err
	}
	return res, nil
}

// checkMemberLocked validates member, instance and generation as Kafka's
// ClassicGroup.validateMember: an instance id no static member holds is
// ErrUnknownMemberID, one another member holds ErrFencedInstanceID.
func (g *group) checkMemberLocked(memberID string, instanceID *string, generation int32) (*member, error) {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		switch {
		case !ok:
			return nil, ErrUnknownMemberID
		case cur != memberID:
			return nil, ErrFencedInstanceID
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, ErrUnknownMemberID
	}
	if generation != g.generation {
		return nil, ErrIllegalGeneration
	}
	return m, nil
}

// Heartbeat handles Heartbeat.
func (c *Coordinator) Heartbeat(req *HeartbeatRequest) error {
	if c.closed() {
		return ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(req.Group)
	if err != nil {
		return err
	}
	g := sh.lookup(req.Group)
	if g == nil {
		return ErrUnknownMemberID
	}
	g.mu.Lock()
	if g.consumer != nil {
		g.mu.Unlock()
		return c.heartbeatConsumerGroup(g, req)
	}
	defer g.mu.Unlock()
	if g.state == StateEmpty || g.state == StateDead {
		return ErrUnknownMemberID
	}
	m, err := g.checkMemberLocked(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	if m.joinCh == nil {
		c.resetSessionLocked(g, m)
	}
	if g.state == StatePreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// Leave handles LeaveGroup: it removes the members and rebalances at once. It returns one
// error per member (nil when it left).
func (c *Coordinator) Leave(groupID string, members []LeaveMember) ([]error, error) {
	if c.closed() {
		return nil, ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(groupID)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(members))
	g := sh.lookup(groupID)
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	g.mu.Lock()
	if g.consumer != nil {
		g.mu.Unlock()
		return c.leaveConsumerGroup(g, members), nil
	}
	now := c.clock.Now()
	left := false
	for i, lm := range members {
		id := lm.MemberID
		if lm.InstanceID != nil {
			cur, ok := g.static[*lm.InstanceID]
			switch {
			case !ok:
				errs[i] = ErrUnknownMemberID
				continue
			case id != "" && cur != id:
				errs[i] = ErrFencedInstanceID
				continue
			}
			id = cur
		}
		if t, ok := g.pending[id]; ok {
			t.Stop()
			delete(g.pending, id)
			left = true
			continue
		}
		m := g.members[id]
		if m == nil {
			errs[i] = ErrUnknownMemberID
			continue
		}
		c.removeMemberLocked(g, m, ErrUnknownMemberID)
		left = true
	}
	if left {
		c.memberGoneLocked(g, now)
	}
	g.mu.Unlock()
	_ = sh.persistGroup(g)
	return errs, nil
}

func sortStrings(s []string) { sort.Strings(s) }

// dropEmptyConsumerGroup lets a classic member join group g: it reports whether g is a
// consumer group with members (the member joins it as a classic member, consumer_
// classic.go); an empty consumer group becomes a classic group (its records deleted, its
// offsets kept) if the migration policy allows downgrades, as Kafka's does.
func (c *Coordinator) dropEmptyConsumerGroup(g *group) (active bool, err error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.consumer == nil:
		return false, nil
	case len(g.consumer.members) > 0:
		return true, nil
	case !c.opts.ConsumerMigration.downgrade():
		return false, fmt.Errorf("%w: group %s is not a classic group", ErrGroupIDNotFound, g.id)
	}
	recs := g.consumerTombstonesLocked()
	g.mu.Unlock()
	err = g.shard.write(recs) // g.wmu held: no heartbeat changes the group meanwhile
	g.mu.Lock()
	if err != nil {
		return false, err
	}
	g.consumer = nil
	return false, nil
}
