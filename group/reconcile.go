package group

import (
	"maps"
	"slices"

	"github.com/stratalog/strata/group/assign"
)

// Member states of a KIP-848 member, with Kafka's MemberState values (they are stored in
// ConsumerGroupCurrentMemberAssignmentValue.State).
const (
	memberStable               int8 = 1 // owns its assignment, at the target epoch or waiting for a new one
	memberUnrevokedPartitions  int8 = 2 // must give up PartitionsPendingRevocation first
	memberUnreleasedPartitions int8 = 3 // waits for partitions other members still own
)

// memberAssignment is where a member is in its reconciliation: its epochs, the partitions
// it is assigned (owns) and those it must revoke.
type memberAssignment struct {
	state     int8
	epoch     int32
	prevEpoch int32
	assigned  assign.Assignment
	revoking  assign.Assignment
	// since is the member epoch at which each partition of assigned and revoking was
	// assigned to the member (KIP-1251's assignment epochs).
	since map[partitionKey]int32
}

// partitionKey names a partition by topic id.
type partitionKey struct {
	topic     assign.TopicID
	partition int32
}

// reconcile moves a member one step towards its target assignment (of epoch
// targetEpoch), Kafka's CurrentAssignmentBuilder: partitions are revoked before they are
// given to another member. owned is what the member reported owning in this heartbeat,
// nil if it did not report it. partitionEpoch gives the epoch of the member currently
// owning (assigned or revoking) a partition, -1 if none.
//
//   - Stable at the target epoch: nothing changes.
//   - Unrevoked partitions: while the member still reports (or may still own, owned nil)
//     a partition to revoke, nothing changes; then it moves on at min(epoch+1, target).
//   - Otherwise the member keeps current ∩ target. If it must revoke current − target
//     (and may still own some), it stays at its epoch in the unrevoked state; else it
//     moves to the target epoch and gets target − current, except partitions still owned
//     by others (unreleased state until they are free).
func reconcile(m memberAssignment, targetEpoch int32, target, owned assign.Assignment, partitionEpoch func(assign.TopicID, int32) int32) memberAssignment {
	switch m.state {
	case memberUnrevokedPartitions:
		if ownsAny(owned, m.revoking) {
			return m
		}
		return nextAssignment(m, min(m.epoch+1, targetEpoch), targetEpoch, target, owned, partitionEpoch)
	case memberUnreleasedPartitions:
		return nextAssignment(m, m.epoch, targetEpoch, target, owned, partitionEpoch)
	default:
		if m.epoch == targetEpoch {
			return m
		}
		return nextAssignment(m, m.epoch, targetEpoch, target, owned, partitionEpoch)
	}
}

func nextAssignment(m memberAssignment, epoch, targetEpoch int32, target, owned assign.Assignment, partitionEpoch func(assign.TopicID, int32) int32) memberAssignment {
	keep, revoke, add := assign.Assignment{}, assign.Assignment{}, assign.Assignment{}
	unreleased := false
	topics := slices.Collect(maps.Keys(target))
	for t := range m.assigned {
		if _, ok := target[t]; !ok {
			topics = append(topics, t)
		}
	}
	for _, t := range topics {
		cur, tgt := m.assigned[t], target[t]
		for _, p := range cur {
			if slices.Contains(tgt, p) {
				keep[t] = append(keep[t], p)
			} else {
				revoke[t] = append(revoke[t], p)
			}
		}
		for _, p := range tgt {
			if slices.Contains(cur, p) {
				continue
			}
			if partitionEpoch(t, p) != -1 {
				unreleased = true
				continue
			}
			add[t] = append(add[t], p)
		}
	}
	next := memberAssignment{prevEpoch: m.epoch, assigned: keep, revoking: assign.Assignment{}, since: map[partitionKey]int32{}}
	for t, ps := range keep {
		for _, p := range ps {
			next.since[partitionKey{t, p}] = m.since[partitionKey{t, p}]
		}
	}
	switch {
	case len(revoke) > 0 && ownsAny(owned, revoke):
		next.state, next.epoch, next.revoking = memberUnrevokedPartitions, epoch, revoke
		for t, ps := range revoke {
			for _, p := range ps {
				next.since[partitionKey{t, p}] = m.since[partitionKey{t, p}]
			}
		}
	default:
		for t, ps := range add {
			next.assigned[t] = append(next.assigned[t], ps...)
			for _, p := range ps {
				next.since[partitionKey{t, p}] = targetEpoch
			}
		}
		next.state, next.epoch = memberStable, targetEpoch
		if unreleased {
			next.state = memberUnreleasedPartitions
		}
	}
	for _, ps := range next.assigned {
		slices.Sort(ps)
	}
	return next
}

// ownsAny reports whether a member that reported owned (nil: did not report) may still
// own one of ps.
func ownsAny(owned, ps assign.Assignment) bool {
	if owned == nil {
		return true
	}
	for t, o := range owned {
		for _, p := range o {
			if slices.Contains(ps[t], p) {
				return true
			}
		}
	}
	return false
}

// isSubset reports whether owned (nil: not reported) is a subset of a.
func isSubset(owned, a assign.Assignment) bool {
	if owned == nil {
		return false
	}
	for t, ps := range owned {
		for _, p := range ps {
			if !slices.Contains(a[t], p) {
				return false
			}
		}
	}
	return true
}

// checkMemberEpoch validates the epoch a member heartbeats with (Kafka's rule): newer
// than its epoch is fenced; older is fenced too, unless it is the previous epoch and the
// member owns a subset of its assignment (the response that bumped its epoch was lost).
func checkMemberEpoch(m memberAssignment, received int32, owned assign.Assignment) error {
	if received > m.epoch || received < m.epoch && (received != m.prevEpoch || !isSubset(owned, m.assigned)) {
		return ErrFencedMemberEpoch
	}
	return nil
}

// sameAssignment reports whether a and b hold the same partitions (topics without
// partitions count as absent).
func sameAssignment(a, b assign.Assignment) bool {
	for _, x := range []struct{ a, b assign.Assignment }{{a, b}, {b, a}} {
		for t, ps := range x.a {
			if len(ps) > 0 && !slices.Equal(ps, x.b[t]) {
				return false
			}
		}
	}
	return true
}
