package group

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// consumerHeartbeat is one ConsumerGroupHeartbeat of a member, as the group state
// machine sees it (topics already checked against the metadata by the caller).
type consumerHeartbeat struct {
	memberID           string
	memberEpoch        int32   // 0 join, -1 leave, else the member's epoch
	instanceID         *string // static membership (group.instance.id)
	rackID             *string
	rebalanceTimeoutMs int32    // <= 0: unchanged
	topics             []string // subscribed topic names; nil: unchanged
	regex              *string  // subscribed regular expression (RE2); nil: unchanged, "": none
	serverAssignor     *string  // nil: unchanged
	owned              assign.Assignment
	clientID           string
	clientHost         string
	// classic is set for a JoinGroup of a classic-protocol member (Kafka's
	// classicGroupJoinToConsumerGroup): memberEpoch is not checked, a new member joins, a
	// known one keeps its assignment and reconciles with owned (from its subscription).
	classic *classicMemberMetadata
}

// TopicResolver is what a consumer group needs of the broker's topics: KIP-848 members
// subscribe by name or regular expression, assignments name topics by id.
type TopicResolver interface {
	// Topic returns a topic's id and partition count; ok false if it does not exist.
	Topic(name string) (id assign.TopicID, partitions int32, ok bool)
	// TopicName returns the name of the topic with id; ok false if there is none.
	TopicName(id assign.TopicID) (name string, ok bool)
	// Names lists every topic's name (what regular expressions are matched against).
	Names() []string
}

// noTopics is the TopicResolver of a coordinator without topics.
type noTopics struct{}

func (noTopics) Topic(string) (assign.TopicID, int32, bool) { return assign.TopicID{}, 0, false }
func (noTopics) TopicName(assign.TopicID) (string, bool)    { return "", false }
func (noTopics) Names() []string                            { return nil }

// heartbeatLocked runs one heartbeat through the consumer group's state machine (Kafka's
// consumerGroupHeartbeat, without timers): it
// returns the records that carry the change, already applied to cg (through the same
// apply functions replay uses, so that replaying them rebuilds the same state), and the
// member's epoch and assignment to answer. defaultAssignor names the assignor when the
// member names none. The caller writes the records before answering. On error nothing
// is emitted or changed.
func (cg *consumerGroup) heartbeatLocked(group string, hb consumerHeartbeat, topics TopicResolver, defaultAssignor string) (epoch int32, assigned assign.Assignment, recs []coord.Record, err error) {
	if topics == nil {
		topics = noTopics{}
	}
	emit := func(k cgKey, value []byte) {
		apply, decodeErr := consumerRecordApply(k, value)
		if decodeErr != nil {
			panic("group: a record the heartbeat encoded does not decode: " + decodeErr.Error())
		}
		apply(cg)
		recs = append(recs, coord.Record{Key: k.appendTo(nil), Value: value})
	}
	// The group epoch moves on when a member's subscription changes, and when the topics
	// the members subscribe to change (created, deleted, more partitions: the hash of
	// their metadata, Kafka 4.1's ConsumerGroupMetadataValue.MetadataHash).
	bumpGroupEpoch := func(hash int64) {
		v := consumerGroupMetadata{Epoch: cg.epoch + 1, MetadataHash: hash, CreationTimeMs: cg.creationTimeMs}
		emit(cgKey{version: cgMetadataKeyVersion, group: group}, v.appendTo(nil))
	}

	if hb.serverAssignor != nil && hb.memberEpoch != -1 {
		if _, ok := assign.ByName[*hb.serverAssignor]; !ok {
			return 0, nil, nil, ErrUnsupportedAssignor
		}
	}
	if hb.regex != nil && *hb.regex != "" {
		if _, err := compileSubscription(*hb.regex); err != nil {
			return 0, nil, nil, fmt.Errorf("%w: %v", ErrInvalidRegularExpression, err)
		}
	}
	m := cg.members[hb.memberID]
	switch {
	case hb.classic != nil:
		if !cg.supportsClassic(hb.memberID, hb.classic.SupportedProtocols) {
			return 0, nil, nil, ErrInconsistentGroupProtocol
		}
		if old := cg.staticMember(hb.instanceID); old != nil && old.id != hb.memberID {
			// A classic static member comes back under a new member id (classic clients
			// send no temporary leave): it takes the old one's place and assignment.
			cg.replaceStatic(group, old, hb.memberID, emit)
			m = cg.members[hb.memberID]
		}
	case hb.memberEpoch == -1:
		if m == nil {
			return -1, nil, nil, ErrUnknownMemberID
		}
		for _, v := range []int16{cgCurrentAssignmentKeyVersion, cgTargetMemberKeyVersion, cgMemberKeyVersion} {
			emit(cgKey{version: v, group: group, sub: hb.memberID}, nil)
		}
		bumpGroupEpoch(cg.subscriptionHash(topics))
		return -1, nil, recs, nil
	case hb.memberEpoch == -2:
		// A static member's temporary leave: it keeps its assignment (until its session
		// expires) for the member that comes back with its instance id.
		if hb.instanceID == nil {
			return 0, nil, nil, ErrInvalidRequest
		}
		if m == nil || !equalPtr(m.meta.InstanceID, hb.instanceID) {
			return 0, nil, nil, ErrUnknownMemberID
		}
		v := m.current
		v.MemberEpoch = -2
		emit(cgKey{version: cgCurrentAssignmentKeyVersion, group: group, sub: hb.memberID}, v.appendTo(nil))
		return -2, nil, recs, nil
	case hb.memberEpoch == 0:
		if hb.topics == nil && hb.regex == nil && m == nil {
			return 0, nil, nil, ErrInvalidRequest
		}
		if old := cg.staticMember(hb.instanceID); old != nil && old.id != hb.memberID {
			// The static member comes back under a new member id: it takes the place
			// of the one that left with epoch -2 (its assignment, no new group epoch).
			if old.current.MemberEpoch != -2 {
				return 0, nil, nil, ErrUnreleasedInstanceID
			}
			cg.replaceStatic(group, old, hb.memberID, emit)
			m = cg.members[hb.memberID]
		} else if m != nil && (m.current.MemberEpoch != 0 || len(m.current.AssignedPartitions) > 0) {
			v := consumerCurrentAssignment{State: memberStable}
			emit(cgKey{version: cgCurrentAssignmentKeyVersion, group: group, sub: hb.memberID}, v.appendTo(nil))
		}
	default:
		if m == nil {
			return 0, nil, nil, ErrUnknownMemberID
		}
		if err := checkMemberEpoch(toMemberAssignment(m.current), hb.memberEpoch, hb.owned); err != nil {
			return 0, nil, nil, err
		}
	}

	// The member's metadata: a change of subscription or assignor bumps the group epoch.
	var old consumerMemberMetadata
	if m != nil {
		old = m.meta
	}
	meta := old
	// Fields left out (nil, rebalance timeout <= 0) are unchanged, as the heartbeat sends
	// them only when they change.
	meta.ClientID, meta.ClientHost = hb.clientID, hb.clientHost
	if hb.instanceID != nil {
		meta.InstanceID = hb.instanceID
	}
	if hb.rackID != nil {
		meta.RackID = hb.rackID
	}
	if hb.rebalanceTimeoutMs > 0 {
		meta.RebalanceTimeoutMs = hb.rebalanceTimeoutMs
	} else if m == nil {
		meta.RebalanceTimeoutMs = -1 // none: the session timeout applies
	}
	if hb.topics != nil {
		meta.SubscribedTopicNames = slices.Sorted(slices.Values(hb.topics))
	}
	if hb.regex != nil {
		meta.SubscribedTopicRegex = hb.regex
		if *hb.regex == "" {
			meta.SubscribedTopicRegex = nil
		}
	}
	if hb.serverAssignor != nil {
		meta.ServerAssignor = hb.serverAssignor
	}
	meta.Classic = hb.classic // only a classic member's joins carry it
	bump := false
	if m == nil || !sameMemberMetadata(old, meta) {
		emit(cgKey{version: cgMemberKeyVersion, group: group, sub: hb.memberID}, meta.appendTo(nil))
		bump = m == nil || !slices.Equal(old.SubscribedTopicNames, meta.SubscribedTopicNames) ||
			!equalPtr(old.SubscribedTopicRegex, meta.SubscribedTopicRegex) || !equalPtr(old.ServerAssignor, meta.ServerAssignor)
	}
	if hash := cg.subscriptionHash(topics); bump || hash != cg.metadataHash {
		bumpGroupEpoch(hash)
	}
	m = cg.members[hb.memberID]

	// A new target assignment when the group epoch moved past it.
	if cg.assignmentEpoch < cg.epoch {
		name := cg.assignor(defaultAssignor)
		parts := map[assign.TopicID]int32{}
		var members []assign.Member
		for _, id := range slices.Sorted(maps.Keys(cg.members)) {
			mm := cg.members[id]
			am := assign.Member{ID: id, Owned: toAssignment(mm.target)}
			for _, name := range subscribedTopics(mm.meta, topics) {
				if tid, n, ok := topics.Topic(name); ok {
					parts[tid] = n
					am.Topics = append(am.Topics, tid)
				}
			}
			members = append(members, am)
		}
		targets := assign.ByName[name](members, parts)
		for _, id := range slices.Sorted(maps.Keys(targets)) {
			tps := toTopicPartitions(targets[id], nil)
			if !slices.EqualFunc(tps, cg.members[id].target, equalTopicPartitions) || cg.members[id].target == nil {
				v := consumerTargetMember{TopicPartitions: tps}
				emit(cgKey{version: cgTargetMemberKeyVersion, group: group, sub: id}, v.appendTo(nil))
			}
		}
		v := consumerTargetMetadata{AssignmentEpoch: cg.epoch}
		emit(cgKey{version: cgTargetMetadataKeyVersion, group: group}, v.appendTo(nil))
	}

	// Reconcile the member towards its target.
	cur := toMemberAssignment(m.current)
	next := reconcile(cur, cg.assignmentEpoch, toAssignment(m.target), hb.owned, cg.partitionEpochExcept(hb.memberID))
	if nv := fromMemberAssignment(next); !equalCurrent(nv, m.current) {
		emit(cgKey{version: cgCurrentAssignmentKeyVersion, group: group, sub: hb.memberID}, nv.appendTo(nil))
	}
	return next.epoch, next.assigned, recs, nil
}

// replaceStatic moves static member old's metadata and assignments to member id (no new
// group epoch), emitting the records through emit.
func (cg *consumerGroup) replaceStatic(group string, old *consumerMember, id string, emit func(cgKey, []byte)) {
	meta, target, current := old.meta, old.target, old.current
	for _, v := range []int16{cgCurrentAssignmentKeyVersion, cgTargetMemberKeyVersion, cgMemberKeyVersion} {
		emit(cgKey{version: v, group: group, sub: old.id}, nil)
	}
	emit(cgKey{version: cgMemberKeyVersion, group: group, sub: id}, meta.appendTo(nil))
	emit(cgKey{version: cgTargetMemberKeyVersion, group: group, sub: id},
		(&consumerTargetMember{TopicPartitions: target}).appendTo(nil))
	current = consumerCurrentAssignment{State: memberStable, AssignedPartitions: current.AssignedPartitions}
	emit(cgKey{version: cgCurrentAssignmentKeyVersion, group: group, sub: id}, current.appendTo(nil))
}

// staticMember returns the member with instance id, or nil.
func (cg *consumerGroup) staticMember(instanceID *string) *consumerMember {
	if instanceID == nil {
		return nil
	}
	for _, m := range cg.members {
		if equalPtr(m.meta.InstanceID, instanceID) {
			return m
		}
	}
	return nil
}

// partitionEpochExcept returns the epoch of the member (other than self) that holds a
// partition, assigned or being revoked; -1 if none.
func (cg *consumerGroup) partitionEpochExcept(self string) func(assign.TopicID, int32) int32 {
	return func(t assign.TopicID, p int32) int32 {
		for id, m := range cg.members {
			if id == self {
				continue
			}
			for _, tps := range [][]topicPartitions{m.current.AssignedPartitions, m.current.PartitionsPendingRevocation} {
				for _, tp := range tps {
					if tp.TopicID == t && slices.Contains(tp.Partitions, p) {
						return m.current.MemberEpoch
					}
				}
			}
		}
		return -1
	}
}

func toAssignment(tps []topicPartitions) assign.Assignment {
	a := make(assign.Assignment, len(tps))
	for _, tp := range tps {
		a[tp.TopicID] = append(a[tp.TopicID], tp.Partitions...)
	}
	for _, ps := range a {
		slices.Sort(ps)
	}
	return a
}

// toTopicPartitions lists a by topic id, leaving out topics without partitions; with
// since, each partition's assignment epoch too.
func toTopicPartitions(a assign.Assignment, since map[partitionKey]int32) []topicPartitions {
	out := []topicPartitions{}
	for _, t := range slices.SortedFunc(maps.Keys(a), func(x, y assign.TopicID) int { return bytes.Compare(x[:], y[:]) }) {
		if len(a[t]) == 0 {
			continue
		}
		tp := topicPartitions{TopicID: t, Partitions: slices.Sorted(slices.Values(a[t]))}
		if since != nil {
			tp.Epochs = make([]int32, len(tp.Partitions))
			for i, p := range tp.Partitions {
				tp.Epochs[i] = since[partitionKey{t, p}]
			}
		}
		out = append(out, tp)
	}
	return out
}

func toMemberAssignment(c consumerCurrentAssignment) memberAssignment {
	state := c.State
	if state == 0 {
		state = memberStable
	}
	return memberAssignment{state: state, epoch: c.MemberEpoch, prevEpoch: c.PreviousMemberEpoch,
		assigned: toAssignment(c.AssignedPartitions), revoking: toAssignment(c.PartitionsPendingRevocation),
		since: c.assignmentEpochs()}
}

// assignmentEpochs maps each partition of the assignment to the epoch at which it was
// assigned; a record without them (written before KIP-1251) gives every partition the
// member epoch (at least 0), as Kafka reads such records.
func (v consumerCurrentAssignment) assignmentEpochs() map[partitionKey]int32 {
	since := map[partitionKey]int32{}
	for _, tps := range [][]topicPartitions{v.AssignedPartitions, v.PartitionsPendingRevocation} {
		for _, tp := range tps {
			for i, p := range tp.Partitions {
				e := max(v.MemberEpoch, 0)
				if tp.Epochs != nil {
					e = tp.Epochs[i]
				}
				since[partitionKey{tp.TopicID, p}] = e
			}
		}
	}
	return since
}

func fromMemberAssignment(m memberAssignment) consumerCurrentAssignment {
	return consumerCurrentAssignment{MemberEpoch: m.epoch, PreviousMemberEpoch: m.prevEpoch, State: m.state,
		AssignedPartitions: toTopicPartitions(m.assigned, m.since), PartitionsPendingRevocation: toTopicPartitions(m.revoking, m.since)}
}

func equalTopicPartitions(a, b topicPartitions) bool {
	return a.TopicID == b.TopicID && slices.Equal(a.Partitions, b.Partitions) && slices.Equal(a.Epochs, b.Epochs)
}

func equalCurrent(a, b consumerCurrentAssignment) bool {
	return a.MemberEpoch == b.MemberEpoch && a.PreviousMemberEpoch == b.PreviousMemberEpoch && a.State == b.State &&
		slices.EqualFunc(a.AssignedPartitions, b.AssignedPartitions, equalTopicPartitions) &&
		slices.EqualFunc(a.PartitionsPendingRevocation, b.PartitionsPendingRevocation, equalTopicPartitions)
}

func equalPtr(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func sameMemberMetadata(a, b consumerMemberMetadata) bool {
	return equalPtr(a.InstanceID, b.InstanceID) && equalPtr(a.RackID, b.RackID) && a.ClientID == b.ClientID &&
		a.ClientHost == b.ClientHost && slices.Equal(a.SubscribedTopicNames, b.SubscribedTopicNames) &&
		equalPtr(a.SubscribedTopicRegex, b.SubscribedTopicRegex) && a.RebalanceTimeoutMs == b.RebalanceTimeoutMs &&
		equalPtr(a.ServerAssignor, b.ServerAssignor) && sameClassic(a.Classic, b.Classic)
}

func sameClassic(a, b *classicMemberMetadata) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.SessionTimeoutMs == b.SessionTimeoutMs && slices.EqualFunc(a.SupportedProtocols, b.SupportedProtocols,
		func(x, y classicProtocol) bool { return x.Name == y.Name && bytes.Equal(x.Metadata, y.Metadata) })
}

// compileSubscription compiles a subscribed regular expression, which must match a whole
// topic name (Java's Matcher.matches, as Kafka resolves it; Go's regexp is RE2, the
// syntax KIP-848 specifies).
func compileSubscription(re string) (*regexp.Regexp, error) {
	subscriptions.mu.Lock()
	defer subscriptions.mu.Unlock()
	if c, ok := subscriptions.compiled[re]; ok {
		return c, nil
	}
	c, err := regexp.Compile(`^(?:` + re + `)$`)
	if err != nil {
		return nil, err
	}
	if len(subscriptions.compiled) >= 1024 { // bounded: start over rather than grow
		clear(subscriptions.compiled)
	}
	subscriptions.compiled[re] = c
	return c, nil
}

// subscriptions caches compiled subscriptions: every heartbeat resolves every member's.
var subscriptions = struct {
	mu       sync.Mutex
	compiled map[string]*regexp.Regexp
}{compiled: map[string]*regexp.Regexp{}}

// subscribedTopics are the names of the topics a member subscribes to: those it names and
// those its regular expression matches, sorted, without duplicates.
func subscribedTopics(meta consumerMemberMetadata, topics TopicResolver) []string {
	names := slices.Clone(meta.SubscribedTopicNames)
	if meta.SubscribedTopicRegex != nil {
		if re, err := compileSubscription(*meta.SubscribedTopicRegex); err == nil {
			for _, t := range topics.Names() {
				if re.MatchString(t) {
					names = append(names, t)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// subscriptionHash hashes the metadata of the topics the members subscribe to (name, id,
// partition count): it changes when one of them is created, deleted or grows, and the
// group epoch with it, so that the next heartbeat computes a new target assignment.
func (cg *consumerGroup) subscriptionHash(topics TopicResolver) int64 {
	var names []string
	for _, m := range cg.members {
		names = append(names, subscribedTopics(m.meta, topics)...)
	}
	slices.Sort(names)
	h := fnv.New64a()
	for _, name := range slices.Compact(names) {
		id, n, ok := topics.Topic(name)
		if !ok {
			continue
		}
		h.Write([]byte(name))
		h.Write(id[:])
		h.Write(binary.BigEndian.AppendUint32([]byte{0}, uint32(n)))
	}
	return int64(h.Sum64())
}
