package raft

import (
	"slices"
	"testing"

	"github.com/stratalog/strata/metadata"
)

// TestRaftReassignment: a reassignment forwarded to the controller puts the partition in
// motion on every node ({1,2} → {2,3}: replicas {2,3,1}, 3 adding, 1 removing); the
// ongoing move survives a restart from a snapshot; the leader's AlterPartition that
// brings 3 into the ISR completes it (replicas {2,3}, leader 1 replaced by 2, leader
// epoch grown) and ListReassignments is empty again on every node.
func TestRaftReassignment(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	registerAll(t, c)
	ctx := t.Context()
	tp, err := c.store(1).CreateTopic(ctx, metadata.CreateTopic{Name: "mv", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	p := tp.Partitions[0]
	if _, err := c.store(1).AlterPartition(ctx, metadata.AlterPartition{Topic: tp.ID, Broker: 1, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.store(3).AlterReassignments(ctx, metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"mv": {0: {2, 3}, 1: {2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Outcome != metadata.Reassigned || res[1].Outcome != metadata.ReassignmentUnknownPartition {
		t.Fatalf("results %+v", res)
	}
	moving := func(im *metadata.Image) bool {
		l := metadata.ListReassignments(im, nil)
		return len(l) == 1 && slices.Equal(l[0].Replicas, []int32{2, 3, 1}) && slices.Equal(l[0].Adding, []int32{3}) && slices.Equal(l[0].Removing, []int32{1})
	}
	if im := c.converged(); !moving(im) {
		t.Fatalf("reassignments %+v", metadata.ListReassignments(im, nil))
	}

	if err := c.store(2).raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.stop(2)
	c.start(2)
	if im := c.converged(); !moving(c.store(2).Image()) {
		t.Fatalf("node 2 after a restart from its snapshot: %+v", metadata.ListReassignments(im, nil))
	}

	cur, _ := c.store(1).Image().Topic("mv")
	p = cur.Partitions[0]
	got, err := c.store(1).AlterPartition(ctx, metadata.AlterPartition{Topic: tp.ID, Broker: 1, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Replicas, []int32{2, 3}) || !slices.Equal(got.ISR, []int32{2, 3}) || got.Leader != 2 || got.LeaderEpoch != p.LeaderEpoch+1 || got.Reassigning() {
		t.Fatalf("after 3 joined the ISR: %+v, want replicas = ISR = {2,3} led by 2", got)
	}
	if im := c.converged(); len(metadata.ListReassignments(im, nil)) != 0 {
		t.Fatalf("reassignments after completion: %+v", metadata.ListReassignments(im, nil))
	}
}
