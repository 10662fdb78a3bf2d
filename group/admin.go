package group

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
)

// Listing is one group in ListGroups.
type Listing struct {
	Group        string
	ProtocolType string
	State        string // Kafka's name of the state (classic: PreparingRebalance …; consumer: Assigning …)
	Type         string // classic or consumer
}

// ListGroups lists the groups of the loaded partitions, optionally only those in the
// given states (Kafka's names, case-insensitive) and of the given types (classic,
// consumer; case-insensitive). While a partition loads it fails with
// ErrCoordinatorLoadInProgress, as Kafka's does.
func (c *Coordinator) ListGroups(states, types []string) ([]Listing, error) {
	groups, err := c.groupsSnapshot()
	if err != nil {
		return nil, err
	}
	var out []Listing
	for _, g := range groups {
		g.mu.Lock()
		dead := g.state == StateDead
		l := Listing{Group: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"}
		if g.consumer != nil {
			l.ProtocolType, l.State, l.Type = "consumer", g.consumer.state(), "consumer"
		}
		g.mu.Unlock()
		if dead || !matchAny(states, l.State) || !matchAny(types, l.Type) {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

func matchAny(filter []string, v string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, v) {
			return true
		}
	}
	return false
}

// Description is one group in DescribeGroups. A group that does not exist is reported
// as Dead with no members, as Kafka does. Err is set when this coordinator cannot answer
// for the group (ErrNotCoordinator, ErrCoordinatorLoadInProgress,
// ErrCoordinatorNotAvailable); the other fields are then unset. A consumer (KIP-848)
// group is described as Kafka's ConsumerGroup.asDescribedGroup does: protocol type
// consumer, its state's name, the default assignor as protocol, and each member's
// current assignment in the consumer protocol's format (no metadata).
type Description struct {
	Group        string
	Err          error
	State        State  // classic groups' (Empty for a consumer group)
	StateName    string // Kafka's name of the state, either type
	ProtocolType string
	Protocol     string // only when Stable
	Members      []MemberDescription
}

// MemberDescription is one member; Metadata and Assignment are set only when Stable.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// DescribeGroups describes each named group.
func (c *Coordinator) DescribeGroups(ids []string) []Description {
	out := make([]Description, 0, len(ids))
	for _, id := range ids {
		d := Description{Group: id, State: StateDead}
		sh, err := c.shardOf(id)
		if err != nil {
			out = append(out, Description{Group: id, Err: err})
			continue
		}
		if g := sh.lookup(id); g != nil && g.consumer != nil {
			g.mu.Lock()
			c.describeConsumerAsClassicLocked(g, &d)
			g.mu.Unlock()
		} else if g != nil {
			g.mu.Lock()
			d.State = g.state
			d.ProtocolType = g.protocolType
			stable := g.state == StateStable
			if stable {
				d.Protocol = g.protocol
			}
			for _, mid := range g.sortedMemberIDs() {
				m := g.members[mid]
				md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
				if stable {
					md.Metadata = m.metadataFor(g.protocol)
					md.Assignment = m.assignment
				}
				d.Members = append(d.Members, md)
			}
			g.mu.Unlock()
		}
		if d.StateName == "" {
			d.StateName = d.State.String()
		}
		out = append(out, d)
	}
	return out
}

// describeConsumerAsClassicLocked fills d for consumer group g (DescribeGroups).
func (c *Coordinator) describeConsumerAsClassicLocked(g *group, d *Description) {
	cg := g.consumer
	d.State, d.StateName, d.ProtocolType = StateEmpty, cg.state(), "consumer"
	d.Protocol = cg.assignor(c.opts.ConsumerAssignors[0])
	for _, id := range slices.Sorted(maps.Keys(cg.members)) {
		m := cg.members[id]
		var a kmsg.ConsumerMemberAssignment
		for _, tp := range m.current.AssignedPartitions {
			if name, ok := c.opts.Topics.TopicName(tp.TopicID); ok {
				t := kmsg.NewConsumerMemberAssignmentTopic()
				t.Topic, t.Partitions = name, slices.Clone(tp.Partitions)
				a.Topics = append(a.Topics, t)
			}
		}
		d.Members = append(d.Members, MemberDescription{MemberID: id, InstanceID: m.meta.InstanceID,
			ClientID: m.meta.ClientID, ClientHost: m.meta.ClientHost, Metadata: []byte{}, Assignment: a.AppendTo(nil)})
	}
}

// consumerTombstonesLocked are the records that delete consumer group g, which has no
// members: its regular expressions, its target assignment's metadata, then its metadata
// (Kafka's createGroupTombstoneRecords order).
func (g *group) consumerTombstonesLocked() []coord.Record {
	if g.consumer == nil {
		return nil
	}
	var recs []coord.Record
	for _, re := range slices.Sorted(maps.Keys(g.consumer.regexes)) {
		recs = append(recs, coord.Record{Key: cgKey{version: cgRegexKeyVersion, group: g.id, sub: re}.appendTo(nil)})
	}
	return append(recs, coord.Record{Key: cgKey{version: cgTargetMetadataKeyVersion, group: g.id}.appendTo(nil)},
		coord.Record{Key: cgKey{version: cgMetadataKeyVersion, group: g.id}.appendTo(nil)})
}

// activeLocked reports whether g has members, classic or consumer.
func (g *group) activeLocked() bool {
	return g.state != StateEmpty || len(g.members) > 0 || g.consumer != nil && len(g.consumer.members) > 0
}

// DeleteGroups deletes each named group and its offsets (tombstones in
// __consumer_offsets). Per group: nil, ErrGroupIDNotFound, ErrNonEmptyGroup,
// ErrStorage, ErrNotCoordinator, ErrCoordinatorLoadInProgress or
// ErrCoordinatorNotAvailable.
func (c *Coordinator) DeleteGroups(ids []string) []error {
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = c.deleteGroup(id)
	}
	return errs
}

func (c *Coordinator) deleteGroup(id string) error {
	if c.closed() {
		return ErrCoordinatorNotAvailable
	}
	sh, err := c.shardOf(id)
	if err != nil {
		return err
	}
	g := sh.lookup(id)
	if g == nil {
		return ErrGroupIDNotFound
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	switch {
	case g.state == StateDead:
		g.mu.Unlock()
		return ErrGroupIDNotFound
	case g.activeLocked():
		g.mu.Unlock()
		return ErrNonEmptyGroup
	}
	recs := make([]coord.Record, 0, len(g.offsets)+1)
	for tp := range g.offsets {
		recs = append(recs, coord.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
	}
	recs = append(recs, coord.Record{Key: groupKey(g.id)})
	recs = append(recs, g.consumerTombstonesLocked()...)
	g.mu.Unlock()
	if err := sh.write(recs); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.activeLocked() {
		// Someone joined while we wrote the tombstones; the offsets are gone on disk
		// either way, so drop them here too but keep the group.
		g.offsets = make(map[TopicPartition]committed)
		g.dirty = true
		return ErrNonEmptyGroup
	}
	g.consumer = nil
	sh.removeGroupLocked(g)
	return nil
}

// Summary is one group's figures for the broker's metrics (strata_consumer_group_*).
type Summary struct {
	Group        string
	State        string // Kafka's name of the group's state
	ProtocolType string
	Members      int
	// Subscribed are the topics the members subscribe to (consumer protocol), sorted.
	Subscribed []string
	// Offsets are the group's committed offsets (Metadata left out), sorted.
	Offsets []FetchedOffset
}

// Summaries describes every group of the loaded partitions but Dead ones, by id, each
// read under its lock once. While a partition loads it fails with
// ErrCoordinatorLoadInProgress (with the groups of the other partitions).
func (c *Coordinator) Summaries() ([]Summary, error) {
	groups, err := c.groupsSnapshot()
	out := make([]Summary, 0, len(groups))
	for _, g := range groups {
		g.mu.Lock()
		if g.state == StateDead {
			g.mu.Unlock()
			continue
		}
		s := Summary{Group: g.id, State: g.state.String(), ProtocolType: g.protocolType, Members: len(g.members),
			Offsets: make([]FetchedOffset, 0, len(g.offsets))}
		if g.consumer != nil {
			s.State, s.ProtocolType, s.Members = g.consumer.state(), "consumer", len(g.consumer.members)
		}
		if s.ProtocolType == "consumer" {
			for t := range g.subscribedTopicsLocked() {
				s.Subscribed = append(s.Subscribed, t)
			}
		}
		for tp, o := range g.offsets {
			s.Offsets = append(s.Offsets, FetchedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: o.offset, LeaderEpoch: o.leaderEpoch})
		}
		g.mu.Unlock()
		slices.Sort(s.Subscribed)
		slices.SortFunc(s.Offsets, func(a, b FetchedOffset) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		out = append(out, s)
	}
	return out, err
}
