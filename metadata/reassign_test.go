package metadata

import (
	"slices"
	"testing"
)

// TestMetadataReassignment: KIP-455 in the rules. Moving {1,2,3} led by 1 to {2,3,4}
// makes the replicas the union (target first), 4 adding and 1 removing, without a leader
// change; the leader's AlterPartition that brings 4 into the ISR completes the move:
// replicas {2,3,4}, 1 out of the ISR, the leader moved to 2 with its epoch grown. A
// target of replicas already in sync completes at once; a cancel reverts; errors are
// per partition; ListReassignments shows the ongoing moves. The image is not modified.
func TestMetadataReassignment(t *testing.T) {
	st := PartitionState{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 6}
	id := TopicID{7}
	im := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2}, Broker{ID: 3}, Broker{ID: 4}, Broker{ID: 5, Fenced: true}).Edit().
		PutTopic(&Topic{Name: "a", ID: id, Partitions: []PartitionState{st, st, st}}).Build()
	r := &Rules{}
	apply := func(im *Image, changed []*Topic) *Image {
		b := im.Edit()
		for _, c := range changed {
			b.PutTopic(c)
		}
		return b.Build()
	}

	changed, res := r.AlterReassignments(im, &AlterReassignments{Partitions: map[string]map[int32][]int32{
		"a":    {0: {2, 3, 4}, 1: {3, 2, 1}, 2: nil, 9: {1}},
		"nope": {0: {1}},
	}})
	wantOutcomes := []ReassignmentOutcome{Reassigned, Reassigned, NoReassignmentInProgress, ReassignmentUnknownPartition, ReassignmentUnknownPartition}
	if len(res) != len(wantOutcomes) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range wantOutcomes {
		if res[i].Outcome != w || (w != Reassigned) == (res[i].Message == "") {
			t.Errorf("result %d: %+v, want outcome %d", i, res[i], w)
		}
	}
	if len(changed) != 1 {
		t.Fatalf("changed %+v", changed)
	}
	moving := changed[0].Partitions[0]
	if want := (PartitionState{Replicas: []int32{2, 3, 4, 1}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7,
		Adding: []int32{4}, Removing: []int32{1}}); !moving.equal(&want) {
		t.Errorf("started: %+v, want %+v", moving, want)
	}
	// A reorder of in-sync replicas completes at once: no leader change.
	if got, want := changed[0].Partitions[1], (PartitionState{Replicas: []int32{3, 2, 1}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7}); !got.equal(&want) {
		t.Errorf("reordered: %+v, want %+v", got, want)
	}
	if a, _ := im.Topic("a"); !a.Partitions[0].equal(&st) {
		t.Fatal("AlterReassignments modified the image")
	}
	im2 := apply(im, changed)
	if got := ListReassignments(im2, nil); len(got) != 1 || got[0].Topic != "a" || got[0].Partition != 0 ||
		!slices.Equal(got[0].Replicas, []int32{2, 3, 4, 1}) || !slices.Equal(got[0].Adding, []int32{4}) || !slices.Equal(got[0].Removing, []int32{1}) {
		t.Errorf("list all: %+v", got)
	}
	if got := ListReassignments(im2, map[string][]int32{"a": {1, 0, 7}, "nope": {0}}); len(got) != 1 || got[0].Partition != 0 {
		t.Errorf("list named: %+v", got)
	}

	// A change of replication factor, refused on request: against the factor before the move.
	for target, want := range map[int]ReassignmentOutcome{2: ReassignmentChangesReplicationFactor, 3: Reassigned} {
		_, res := r.AlterReassignments(im2, &AlterReassignments{KeepReplicationFactor: true, Partitions: map[string]map[int32][]int32{"a": {0: []int32{4, 3, 2}[:target]}}})
		if len(res) != 1 || res[0].Outcome != want {
			t.Errorf("%d replicas, keeping the replication factor: %+v, want outcome %d", target, res, want)
		}
	}

	// Bad targets.
	for _, target := range [][]int32{{}, {2, 2, 3}, {2, 3, 8}} {
		_, res := r.AlterReassignments(im2, &AlterReassignments{Partitions: map[string]map[int32][]int32{"a": {0: target}}})
		if len(res) != 1 || res[0].Outcome != ReassignmentInvalid {
			t.Errorf("target %v: %+v, want invalid", target, res)
		}
	}

	// The leader brings 4 into the ISR: the move completes, the leader leaves.
	c, err := r.AlterPartition(im2, &AlterPartition{Topic: id, Partition: 0, Broker: 1, LeaderEpoch: 4, PartitionEpoch: 7, ISR: []int32{1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Partitions[0], (PartitionState{Replicas: []int32{2, 3, 4}, ISR: []int32{2, 3, 4}, Leader: 2, LeaderEpoch: 5, PartitionEpoch: 8}); !got.equal(&want) {
		t.Errorf("completed: %+v, want %+v", got, want)
	}
	if got := ListReassignments(apply(im2, []*Topic{c}), nil); len(got) != 0 {
		t.Errorf("list after completion: %+v", got)
	}

	// An ISR change that leaves 4 out does not complete it.
	c, err = r.AlterPartition(im2, &AlterPartition{Topic: id, Partition: 0, Broker: 1, LeaderEpoch: 4, PartitionEpoch: 7, ISR: []int32{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Partitions[0]; !got.Reassigning() || got.Leader != 1 || !slices.Equal(got.ISR, []int32{3, 1}) {
		t.Errorf("shrunk mid-move: %+v", got)
	}

	// Cancel mid-move: back to {1,2,3}, nothing else changes but the partition epoch.
	changed, res = r.AlterReassignments(im2, &AlterReassignments{Partitions: map[string]map[int32][]int32{"a": {0: nil}}})
	if len(res) != 1 || res[0].Outcome != Reassigned || len(changed) != 1 {
		t.Fatalf("cancel: %+v %+v", res, changed)
	}
	if got, want := changed[0].Partitions[0], (PartitionState{Replicas: []int32{2, 3, 1}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 8}); !got.equal(&want) {
		t.Errorf("cancelled: %+v, want %+v", got, want)
	}

	// Re-targeting a move: {2,3,4,1} to {2,3,5} drops 4 and 1, adds 5 (fenced brokers may be
	// targets, as in Kafka: they catch up once back).
	changed, _ = r.AlterReassignments(im2, &AlterReassignments{Partitions: map[string]map[int32][]int32{"a": {0: {2, 3, 5}}}})
	if got, want := changed[0].Partitions[0], (PartitionState{Replicas: []int32{2, 3, 5, 4, 1}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 8,
		Adding: []int32{5}, Removing: []int32{4, 1}}); !got.equal(&want) {
		t.Errorf("re-targeted: %+v, want %+v", got, want)
	}

	// A cancel whose only in-sync replicas are adding ones needs unclean election.
	onlyNew := NewImage("c", 1, Broker{ID: 1}, Broker{ID: 2}).Edit().PutTopic(&Topic{Name: "b", ID: TopicID{8}, Partitions: []PartitionState{
		{Replicas: []int32{2, 1}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 1, PartitionEpoch: 1, Adding: []int32{2}, Removing: []int32{1}},
	}}).Build()
	cancel := &AlterReassignments{Partitions: map[string]map[int32][]int32{"b": {0: nil}}}
	if _, res := r.AlterReassignments(onlyNew, cancel); res[0].Outcome != ReassignmentInvalid {
		t.Errorf("unclean revert without unclean.leader.election.enable: %+v", res)
	}
	unclean := &Rules{Broker: map[string]string{"unclean.leader.election.enable": "true"}}
	changed, res = unclean.AlterReassignments(onlyNew, cancel)
	if res[0].Outcome != Reassigned || len(changed) != 1 {
		t.Fatalf("unclean revert: %+v", res)
	}
	if got, want := changed[0].Partitions[0], (PartitionState{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2}); !got.equal(&want) {
		t.Errorf("unclean revert: %+v, want %+v", got, want)
	}
}
