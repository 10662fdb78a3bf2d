package server

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// TestClusterElectLeaders: after a failover and the old leader's return, leadership stays
// with the new leader; kadm's ElectLeaders (preferred) moves it back to the preferred
// replica, with the leader epoch grown, and produce goes on there. A second election is
// ELECTION_NOT_NEEDED, an unclean one on a partition with a leader too, an unknown
// partition UNKNOWN_TOPIC_OR_PARTITION, and with the preferred replica down the answer is
// PREFERRED_LEADER_NOT_AVAILABLE.
func TestClusterElectLeaders(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "el", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func() metadata.PartitionState {
		cur, ok := c.nodes[1].image().TopicByID(tp.ID)
		if !ok { // not applied on node 2 yet
			return metadata.PartitionState{Leader: metadata.NoLeader}
		}
		return cur.Partitions[0]
	}
	waitFor(t, func() bool { return len(state().ISR) == 3 })
	adm := func() *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].Addr().String()), kgo.RetryTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}()
	elect := func(how kadm.ElectLeadersHow, partitions ...int32) map[int32]error {
		t.Helper()
		res, err := adm.ElectLeaders(ctx, how, kadm.TopicsSet{"el": func() map[int32]struct{} {
			m := map[int32]struct{}{}
			for _, p := range partitions {
				m[p] = struct{}{}
			}
			return m
		}()})
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]error{}
		for p, r := range res["el"] {
			out[p] = r.Err
		}
		return out
	}

	if err := c.nodes[0].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { l := state().Leader; return l != 1 && l != metadata.NoLeader })
	if got := elect(kadm.ElectPreferredReplica, 0); !errors.Is(got[0], kerr.PreferredLeaderNotAvailable) {
		t.Errorf("preferred election with the preferred replica down: %v", got)
	}
	back, err := Start(clusterOptions(c.voters, nil, 1, c.dirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0] = back
	waitFor(t, func() bool { return len(state().ISR) == 3 })
	before := state()
	if before.Leader == 1 {
		t.Fatalf("leadership went back by itself: %+v", before)
	}

	if got := elect(kadm.ElectPreferredReplica, 0, 5); got[0] != nil || !errors.Is(got[5], kerr.UnknownTopicOrPartition) {
		t.Fatalf("preferred election: %v", got)
	}
	// The node kgo sends ElectLeaders to answers once it has applied the election; node 2,
	// whose image state reads, may apply it moments later.
	waitFor(t, func() bool { return state().LeaderEpoch > before.LeaderEpoch })
	after := state()
	if after.Leader != 1 || after.LeaderEpoch <= before.LeaderEpoch || !slices.Equal(slices.Sorted(slices.Values(after.ISR)), []int32{1, 2, 3}) {
		t.Fatalf("after the preferred election: %+v, was %+v", after, before)
	}
	if got := elect(kadm.ElectPreferredReplica, 0); !errors.Is(got[0], kerr.ElectionNotNeeded) {
		t.Errorf("second preferred election: %v", got)
	}
	if got := elect(kadm.ElectLiveReplica, 0); !errors.Is(got[0], kerr.ElectionNotNeeded) {
		t.Errorf("unclean election of a partition with a leader: %v", got)
	}
	p := hostedPartition(back, "el", 0)
	waitFor(t, func() bool { return p.IsLeader() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].Addr().String()), kgo.DefaultProduceTopic("el"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	end := p.EndOffset()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("back")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if p.EndOffset() != end+1 {
		t.Errorf("produce after the election: the preferred leader's log end %d, was %d", p.EndOffset(), end)
	}
}

// TestElectLeadersSingleNode: on a single node every partition's only replica leads it:
// a listed partition is ELECTION_NOT_NEEDED, a null topic list answers nothing (only the
// partitions whose election was needed), and an unknown ElectionType is INVALID_REQUEST.
func TestElectLeadersSingleNode(t *testing.T) {
	s := newGroupTestServer(t)
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "one", Partitions: 2, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.TimeoutMillis = 2, 10000
	req.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "one", Partitions: []int32{1}}}
	resp := call[*kmsg.ElectLeadersResponse](t, s, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.ElectionNotNeeded.Code {
		t.Errorf("listed partition: %+v", resp)
	}
	req.Topics = nil
	if resp := call[*kmsg.ElectLeadersResponse](t, s, req); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("every partition: %+v, want no result", resp)
	}
	req.ElectionType = 2
	if resp := call[*kmsg.ElectLeadersResponse](t, s, req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("election type 2: %v, want INVALID_REQUEST", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestClusterAutoLeaderRebalance: with auto.leader.rebalance.enable (the default) the
// controller gives a partition back to its preferred replica by itself once that replica
// is back in the ISR after a failover, at the next leader.imbalance.check.interval.seconds
// (1 s here).
func TestClusterAutoLeaderRebalance(t *testing.T) {
	c := startClusterWith(t, map[string]string{"leader.imbalance.check.interval.seconds": "1"})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "ar", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func() metadata.PartitionState {
		cur, ok := c.nodes[1].image().TopicByID(tp.ID)
		if !ok { // not applied on node 2 yet
			return metadata.PartitionState{Leader: metadata.NoLeader}
		}
		return cur.Partitions[0]
	}
	waitFor(t, func() bool { return len(state().ISR) == 3 })
	if err := c.nodes[0].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { l := state().Leader; return l != 1 && l != metadata.NoLeader })
	moved := state()
	o := clusterOptions(c.voters, nil, 1, c.dirs[0])
	o.Settings["leader.imbalance.check.interval.seconds"] = "1"
	back, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0] = back
	waitFor(t, func() bool { return state().Leader == 1 })
	if p := state(); p.LeaderEpoch <= moved.LeaderEpoch || len(p.ISR) != 3 {
		t.Fatalf("after the rebalance: %+v, was %+v", p, moved)
	}
	p := hostedPartition(back, "ar", 0)
	waitFor(t, func() bool { return p.IsLeader() })
}
