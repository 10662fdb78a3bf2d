package share

import (
	"bytes"
	"maps"
	"slices"

	"github.com/stratalog/strata/coord"
)

// Stored membership. With GroupsOptions.Partition set, each share group lives in a
// partition of __consumer_offsets, as in Kafka: the group coordinator's runtime opens the
// partitions this broker leads (OpenPartition, a coord.Shard beside the consumer groups'),
// replays the share group records into Groups and unloads them with the partition. Every
// change of a group (epoch, members, subscriptions, assignments, member epochs) is written
// before the heartbeat that made it is answered: persist writes the difference between the
// records that describe the group now (records) and those it wrote last (written), so a
// failed write is made up by the next one, and concurrent heartbeats of one group wait for
// one write.

// compareIDs orders topic ids by their bytes.
func compareIDs(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }

// groupsPart is the share groups' shard of one partition of __consumer_offsets.
type groupsPart struct {
	g      *Groups
	p      *coord.Partition
	loaded bool // guarded by g.mu
}

// OpenPartition returns the shard of the share groups of partition p of
// __consumer_offsets, which the group coordinator's runtime is loading (group.Options.Shares):
// it replays the share group records (isGroupRecord) and serves the groups once loaded;
// members keep their epochs and assignments and expire share.session.timeout.ms after the
// load unless they heartbeat. Unloading drops the groups without calling OnLeave.
func (g *Groups) OpenPartition(p *coord.Partition) coord.Shard {
	gp := &groupsPart{g: g, p: p}
	g.mu.Lock()
	g.mu.parts[p.Index()] = gp
	g.mu.Unlock()
	return gp
}

// partLocked returns the open and loaded shard of group's partition: ErrNotCoordinator
// when this broker does not lead it, ErrLoadInProgress while it loads. nil, nil when
// membership is not stored. g.mu must be held.
func (g *Groups) partLocked(group string) (*groupsPart, error) {
	if g.opts.Partition == nil {
		return nil, nil
	}
	gp := g.mu.parts[g.opts.Partition(group)]
	switch {
	case gp == nil:
		return nil, coord.ErrNotCoordinator
	case !gp.loaded:
		return nil, coord.ErrLoadInProgress
	}
	return gp, nil
}

// Replay applies a share group record (coord.Shard); other records are the caller's.
func (gp *groupsPart) Replay(m coord.Meta, r coord.Record) error {
	if m.Control {
		return nil
	}
	k, err := decodeGroupKey(r.Key)
	if err != nil {
		return err
	}
	if k.version == sgPartitionMetadataKey {
		return nil
	}
	g := gp.g
	g.mu.Lock()
	defer g.mu.Unlock()
	sg := g.mu.groups[k.group]
	if sg == nil {
		if r.Value == nil {
			return nil
		}
		sg = &shareGroup{name: k.group, members: map[string]*shareMember{}, part: gp, written: map[string][]byte{}}
		g.mu.groups[k.group] = sg
	}
	if err := sg.replay(k, r.Value); err != nil {
		return err
	}
	if r.Value == nil {
		delete(sg.written, string(r.Key))
	} else {
		sg.written[string(r.Key)] = bytes.Clone(r.Value)
	}
	return nil
}

// replay applies one record to sg. A per-member record creates its member; the member
// metadata record is what makes it one (Loaded drops members without it).
func (sg *shareGroup) replay(k groupKey, value []byte) error {
	var m *shareMember
	if k.member != "" {
		m = sg.members[k.member]
		if m == nil && value == nil {
			return nil
		}
		if m == nil {
			m = &shareMember{id: k.member}
			sg.members[k.member] = m
		}
	}
	switch k.version {
	case sgMetadataKey:
		if value == nil {
			sg.stored = false
			return nil
		}
		e, err := decodeEpochValue(value)
		if err != nil {
			return err
		}
		sg.epoch, sg.stored = e, true
	case sgStatePartitionMetadataKey:
		if value == nil {
			sg.initialized = nil
			return nil
		}
		v, err := decodeStatePartitionsValue(value)
		if err != nil {
			return err
		}
		sg.initialized = v.Initialized // initializing ones are initialized at the next heartbeat
	case sgTargetMetadataKey: // the assignment epoch is the group epoch
		if value != nil {
			_, err := decodeEpochValue(value)
			return err
		}
	case sgMemberKey:
		if value == nil {
			delete(sg.members, k.member)
			return nil
		}
		v, err := decodeMemberValue(value)
		if err != nil {
			return err
		}
		m.rackID, m.clientID, m.clientHost, m.topics, m.stored = v.RackID, v.ClientID, v.ClientHost, v.Topics, true
	case sgTargetMemberKey:
		if value == nil {
			return nil
		}
		a, err := decodeTargetValue(value)
		if err != nil {
			return err
		}
		m.assignment = a
	case sgCurrentAssignmentKey:
		if value == nil {
			return nil
		}
		v, err := decodeCurrentValue(value)
		if err != nil {
			return err
		}
		m.epoch, m.prevEpoch = v.MemberEpoch, v.PreviousMemberEpoch
	}
	return nil
}

// Loaded serves the partition's groups (coord.Shard): what the log left half written (a
// member without its metadata record, a group without its metadata record and no members)
// is dropped, and each member's session starts now.
func (gp *groupsPart) Loaded() {
	g := gp.g
	g.mu.Lock()
	defer g.mu.Unlock()
	gp.loaded = true
	for name, sg := range g.mu.groups {
		if sg.part != gp {
			continue
		}
		for id, m := range sg.members {
			if !m.stored {
				delete(sg.members, id)
				sg.dirty = true
			}
		}
		if !sg.stored {
			if len(sg.members) == 0 {
				delete(g.mu.groups, name)
				continue
			}
			sg.dirty = true
		}
		timeout := g.opts.Configs.ShareConfig(name).SessionTimeout
		for _, m := range sg.members {
			g.resetSessionLocked(sg, m, timeout)
		}
	}
}

// Unloaded drops the partition's groups (coord.Shard): their timers stopped with the
// partition; their members carry on with the next coordinator.
func (gp *groupsPart) Unloaded() {
	g := gp.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.parts[gp.p.Index()] == gp {
		delete(g.mu.parts, gp.p.Index())
	}
	for name, sg := range g.mu.groups {
		if sg.part == gp {
			delete(g.mu.groups, name)
		}
	}
}

// records are the records that describe sg now: key → value; none once deleted. g.mu must
// be held.
func (sg *shareGroup) records() map[string][]byte {
	out := map[string][]byte{}
	if sg.deleted {
		return out
	}
	put := func(version int16, member string, value []byte) {
		out[string(groupKey{version: version, group: sg.name, member: member}.appendTo(nil))] = value
	}
	put(sgMetadataKey, "", appendEpochValue(nil, sg.epoch))
	put(sgTargetMetadataKey, "", appendEpochValue(nil, sg.epoch))
	if len(sg.initialized) > 0 {
		v := statePartitionsValue{Initialized: sg.initialized}
		put(sgStatePartitionMetadataKey, "", v.appendTo(nil))
	}
	for id, m := range sg.members {
		mv := memberValue{RackID: m.rackID, ClientID: m.clientID, ClientHost: m.clientHost, Topics: m.topics}
		put(sgMemberKey, id, mv.appendTo(nil))
		put(sgTargetMemberKey, id, appendTargetValue(nil, m.assignment))
		cv := currentValue{MemberEpoch: m.epoch, PreviousMemberEpoch: m.prevEpoch, State: memberStable, Assigned: m.assignment}
		put(sgCurrentAssignmentKey, id, cv.appendTo(nil))
	}
	return out
}

// persist writes sg's changes since its last write (nothing when membership is not stored
// or nothing changed) and returns once they are committed, or the write's error (wrapping
// coord's ErrNotCoordinator, ErrNotAvailable or ErrStorage).
func (g *Groups) persist(sg *shareGroup) error {
	if sg.part == nil {
		return nil
	}
	sg.wmu.Lock()
	defer sg.wmu.Unlock()
	g.mu.Lock()
	if !sg.dirty {
		g.mu.Unlock()
		return nil
	}
	sg.dirty = false
	want := sg.records()
	g.mu.Unlock()
	var recs []coord.Record
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !bytes.Equal(sg.written[k], want[k]) {
			recs = append(recs, coord.Record{Key: []byte(k), Value: want[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sg.written)) {
		if _, ok := want[k]; !ok {
			recs = append(recs, coord.Record{Key: []byte(k)}) // a tombstone
		}
	}
	if err := sg.part.p.Write(recs); err != nil {
		g.mu.Lock()
		sg.dirty = true
		g.mu.Unlock()
		return err
	}
	sg.written = want
	return nil
}
