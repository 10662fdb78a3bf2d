package group

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stratalog/strata/group/assign"
)

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat (KIP-848) of one member.
type ConsumerHeartbeatRequest struct {
	Group    string
	MemberID string // required (ConsumerGroupHeartbeat v0 lets the server make one: the caller's)
	// MemberEpoch is 0 to join, -1 to leave, -2 for a static member's temporary leave,
	// else the member's current epoch.
	MemberEpoch int32
	InstanceID  *string // group.instance.id (static membership); nil: unchanged
	RackID      *string // nil: unchanged
	// RebalanceTimeout is how long the member may take to revoke partitions; <= 0:
	// unchanged (required when joining).
	RebalanceTimeout time.Duration
	Topics           []string // subscribed topic names; nil: unchanged
	Regex            *string  // subscribed regular expression (RE2); nil: unchanged, "": none
	ServerAssignor   *string  // nil: unchanged (the group's default)
	// Owned are the partitions the member owns, by topic id; nil: not reported (unchanged).
	Owned      map[assign.TopicID][]int32
	ClientID   string
	ClientHost string
}

// ConsumerHeartbeatResult answers a ConsumerGroupHeartbeat.
type ConsumerHeartbeatResult struct {
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// Assignment is the member's assignment by topic id; nil when the member has it
	// already (Kafka sends it on a full request or when it changed).
	Assignment map[assign.TopicID][]int32
}

// ConsumerHeartbeat runs a ConsumerGroupHeartbeat (Kafka's GroupMetadataManager.
// consumerGroupHeartbeat): the request is checked as Kafka checks it (ErrInvalidRequest,
// ErrInvalidGroupID), then the member joins, leaves or moves towards its target
// assignment; the change is written to __consumer_offsets before the answer. Errors:
// ErrUnknownMemberID, ErrFencedMemberEpoch, ErrUnreleasedInstanceID,
// ErrUnsupportedAssignor, ErrInvalidRegularExpression, ErrGroupMaxSizeReached,
// ErrGroupIDNotFound (a classic group that cannot be upgraded), and those of the runtime.
func (c *Coordinator) ConsumerHeartbeat(req *ConsumerHeartbeatRequest) (ConsumerHeartbeatResult, error) {
	if err := checkConsumerHeartbeat(req); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	hb := consumerHeartbeat{memberID: req.MemberID, memberEpoch: req.MemberEpoch, instanceID: req.InstanceID,
		rackID: req.RackID, rebalanceTimeoutMs: int32(req.RebalanceTimeout.Milliseconds()), topics: req.Topics,
		regex: req.Regex, serverAssignor: req.ServerAssignor, clientID: req.ClientID, clientHost: req.ClientHost}
	if req.Owned != nil {
		hb.owned = assign.Assignment{}
		for t, ps := range req.Owned {
			hb.owned[t] = slices.Sorted(slices.Values(ps))
		}
	}
	epoch, assigned, changed, err := c.consumerHeartbeat(req.Group, hb)
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	_, interval := c.opts.consumerSettings(req.Group)
	res := ConsumerHeartbeatResult{MemberEpoch: epoch, HeartbeatInterval: interval}
	full := req.MemberEpoch == 0 || req.RebalanceTimeout > 0 && (req.Topics != nil || req.Regex != nil) && req.Owned != nil
	if epoch >= 0 && (full || changed) {
		res.Assignment = maps.Clone(assigned)
		if res.Assignment == nil {
			res.Assignment = map[assign.TopicID][]int32{}
		}
	}
	return res, nil
}

// checkConsumerHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func checkConsumerHeartbeat(req *ConsumerHeartbeatRequest) error {
	invalid := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, why) }
	switch {
	case req.Group == "":
		return fmt.Errorf("%w: GroupId can't be empty", ErrInvalidGroupID)
	case req.MemberID == "":
		return invalid("MemberId can't be empty.")
	case req.InstanceID != nil && *req.InstanceID == "":
		return invalid("InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return invalid("RackId can't be empty.")
	}
	switch {
	case req.MemberEpoch == 0:
		switch {
		case req.RebalanceTimeout <= 0:
			return invalid("RebalanceTimeoutMs must be provided in first request.")
		case req.Owned == nil || len(req.Owned) > 0:
			return invalid("TopicPartitions must be empty when (re-)joining.")
		case req.Topics == nil && req.Regex == nil:
			return invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
		}
	case req.MemberEpoch == -2:
		if req.InstanceID == nil {
			return invalid("InstanceId can't be null.")
		}
	case req.MemberEpoch < -2:
		return invalid("MemberEpoch is invalid.")
	}
	return nil
}

// ConsumerGroupDescription is one group in ConsumerGroupDescribe. Err is
// ErrGroupIDNotFound for a group that does not exist or is not a consumer group, or the
// runtime's error; the other fields are then unset.
type ConsumerGroupDescription struct {
	Group           string
	Err             error
	State           string // Kafka's: Empty, Assigning, Reconciling, Stable
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// ConsumerMemberDescription is one member of a consumer group.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	Topics           []string // subscribed names
	Regex            *string
	Assignment       map[assign.TopicID][]int32 // current
	TargetAssignment map[assign.TopicID][]int32
	Classic          bool // uses the classic protocol (JoinGroup …), not ConsumerGroupHeartbeat
}

// DescribeConsumerGroups describes each named consumer group (ConsumerGroupDescribe).
func (c *Coordinator) DescribeConsumerGroups(ids []string) []ConsumerGroupDescription {
	out := make([]ConsumerGroupDescription, 0, len(ids))
	for _, id := range ids {
		d := ConsumerGroupDescription{Group: id}
		sh, err := c.shardOf(id)
		if err != nil {
			d.Err = err
			out = append(out, d)
			continue
		}
		g := sh.lookup(id)
		if g == nil {
			d.Err = fmt.Errorf("%w: group %s not found", ErrGroupIDNotFound, id)
			out = append(out, d)
			continue
		}
		g.mu.Lock()
		if cg := g.consumer; cg == nil || g.state == StateDead {
			d.Err = fmt.Errorf("%w: group %s is not a consumer group", ErrGroupIDNotFound, id)
		} else {
			d.State, d.Epoch, d.AssignmentEpoch = cg.state(), cg.epoch, cg.assignmentEpoch
			d.Assignor = cg.assignor(c.opts.ConsumerAssignors[0])
			for _, mid := range slices.Sorted(maps.Keys(cg.members)) {
				m := cg.members[mid]
				d.Members = append(d.Members, ConsumerMemberDescription{MemberID: mid, InstanceID: m.meta.InstanceID,
					RackID: m.meta.RackID, MemberEpoch: m.current.MemberEpoch, ClientID: m.meta.ClientID,
					ClientHost: m.meta.ClientHost, Topics: slices.Clone(m.meta.SubscribedTopicNames),
					Regex: m.meta.SubscribedTopicRegex, Assignment: toAssignment(m.current.AssignedPartitions),
					TargetAssignment: toAssignment(m.target), Classic: m.meta.Classic != nil})
			}
		}
		g.mu.Unlock()
		out = append(out, d)
	}
	return out
}

// state is the group's state as Kafka's ConsumerGroup computes it.
func (cg *consumerGroup) state() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch > cg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if toMemberAssignment(m.current).state != memberStable || m.current.MemberEpoch != cg.assignmentEpoch {
			return "Reconciling"
		}
	}
	return "Stable"
}

// assignor is the server-side assignor the group uses: the one most members name (Kafka's
// computePreferredServerAssignor; a tie goes to the first name in byte order), else def.
func (cg *consumerGroup) assignor(def string) string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if a := m.meta.ServerAssignor; a != nil {
			votes[*a]++
		}
	}
	best := ""
	for _, a := range slices.Sorted(maps.Keys(votes)) {
		if votes[a] > votes[best] {
			best = a
		}
	}
	if best == "" {
		return def
	}
	return best
}

// CheckFetchMember validates the member of an OffsetFetch v9+ (Kafka's
// ConsumerGroup.validateOffsetFetch): for a consumer group, a request with a member id or
// an epoch must come from a member (ErrUnknownMemberID) at its current epoch
// (ErrStaleMemberEpoch; KIP-1251 relaxes commits only, as in Kafka 4.3). Classic groups,
// and groups that do not exist, accept any.
func (c *Coordinator) CheckFetchMember(groupID string, memberID *string, epoch int32) error {
	sh, err := c.shardOf(groupID)
	if err != nil {
		return err
	}
	g := sh.lookup(groupID)
	if g == nil || memberID == nil && epoch < 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.consumer == nil {
		return nil
	}
	var m *consumerMember
	if memberID != nil {
		m = g.consumer.members[*memberID]
	}
	switch {
	case m == nil:
		return ErrUnknownMemberID
	case m.current.MemberEpoch != epoch:
		return ErrStaleMemberEpoch
	}
	return nil
}
