package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/raft"
)

// TestClusterReassignmentFourthBroker: a cluster of three gets a fourth broker (a node
// started to join, added to the quorum) and, under acks=all produce load, a reassignment
// moves a replica of each of two partitions of replication factor 3 onto it: {1,2,3} →
// {4,2,3} (the leader, 1, leaves: leadership moves to 4, the preferred replica, once it
// is in sync) and {2,3,1} → {2,3,4}. When the moves complete, broker 4 hosts both
// partitions with logs equal byte for byte to their leaders', broker 1 has deleted both
// directories, and every acknowledged record is consumed.
func TestClusterReassignmentFourthBroker(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "grow", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}, {2, 3, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func(s *Server, i int32) metadata.PartitionState {
		cur, ok := s.image().TopicByID(tp.ID)
		if !ok {
			return metadata.PartitionState{Leader: metadata.NoLeader}
		}
		return cur.Partitions[i]
	}
	waitFor(t, func() bool { return len(state(c.nodes[0], 0).ISR) == 3 && len(state(c.nodes[0], 1).ISR) == 3 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].Addr().String()), kgo.DefaultProduceTopic("grow"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	load := startAckedLoad(ctx, cl, 0)
	waitFor(t, func() bool { return load.count() >= 100 })

	// The fourth node joins the quorum (combined mode: every node is a voter too).
	lns, four := quorumListeners(t, 1)
	four[0].ID = 4
	o := clusterOptions(append(slices.Clone(c.voters), four[0]), lns[0], 4, t.TempDir())
	o.Cluster.Join = true
	started := make(chan error, 1)
	var n4 *Server
	go func() {
		var err error
		n4, err = Start(o)
		started <- err
	}()
	if err := c.nodes[0].data.store.(*raft.Store).AddVoter(ctx, four[0]); err != nil {
		t.Fatalf("add node 4: %v", err)
	}
	if err := <-started; err != nil {
		t.Fatalf("node 4: %v", err)
	}
	defer n4.Close()
	nodes := append(slices.Clone(c.nodes), n4)
	waitFor(t, func() bool { b, ok := c.nodes[0].image().Broker(4); return ok && !b.Fenced })

	res, err := c.nodes[2].data.store.AlterReassignments(ctx, metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{
		"grow": {0: {4, 2, 3}, 1: {2, 3, 4}}}})
	if err != nil || len(res) != 2 || res[0].Outcome != metadata.Reassigned || res[1].Outcome != metadata.Reassigned {
		t.Fatalf("reassign: %+v, %v", res, err)
	}
	want := [][]int32{{4, 2, 3}, {2, 3, 4}}
	for _, s := range nodes {
		for i := range int32(2) {
			for deadline := time.Now().Add(30 * time.Second); ; {
				st := state(s, i)
				if !st.Reassigning() && slices.Equal(st.Replicas, want[i]) && (i != 0 || st.Leader == 4) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("partition %d on node %d: %+v, want replicas %v", i, s.opts.NodeID, st, want[i])
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	at := load.count()
	waitFor(t, func() bool { return load.count() >= at+100 }) // produce goes on, partition 0 at broker 4
	acked := load.finish()

	for i := range int32(2) {
		waitFor(t, func() bool { return hostedPartition(c.nodes[0], "grow", i) == nil })
		if _, err := os.Stat(filepath.Join(c.dirs[0], metadata.PartitionDir("grow", i))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("broker 1's directory of partition %d after the move: %v", i, err)
		}
		leader := hostedPartition(nodes[state(n4, i).Leader-1], "grow", i)
		added := hostedPartition(n4, "grow", i)
		if leader == nil || added == nil {
			t.Fatalf("partition %d: not hosted by its leader or broker 4", i)
		}
		waitFor(t, func() bool { return added.EndOffset() == leader.EndOffset() })
		if a, b := wholeLog(t, leader), wholeLog(t, added); !bytes.Equal(a, b) {
			t.Fatalf("partition %d: broker 4's log (%d bytes) differs from the leader's (%d bytes)", i, len(b), len(a))
		}
	}

	consumeAcked(ctx, t, n4, "grow", acked)
}
