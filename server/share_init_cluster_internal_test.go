package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// TestClusterShareGroupInitialized: on three brokers, the group's coordinator (leading no
// partition of q's first partition) initializes q's share-partitions at their share
// coordinators when it assigns them: right after the assignment, before any fetch,
// DescribeShareGroupOffsets lists them (start offset and lag -1). A new leader's read of
// one then stores its epoch, so after its share coordinator moves (replays its partition
// of __share_group_state) the former leader's first write is still FENCED_LEADER_EPOCH.
// Deleted, a state's write is refused (INVALID_REQUEST, as Kafka's), not stored back.
func TestClusterShareGroupInitialized(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	group, coordinator := groupCoordinatedAway(c.nodes[0], q, "ig")
	gc := c.node(coordinator)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = group, "m", []string{"q"}
	r := rawRequest(ctx, t, gc, hb).(*kmsg.ShareGroupHeartbeatResponse)
	if r.ErrorCode != 0 || r.Assignment == nil || len(r.Assignment.TopicPartitions) != 1 || len(r.Assignment.TopicPartitions[0].Partitions) != 3 {
		t.Fatalf("join: %+v", r)
	}
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: group}}
	d := rawRequest(ctx, t, gc, req).(*kmsg.DescribeShareGroupOffsetsResponse)
	if len(d.Groups) != 1 || d.Groups[0].ErrorCode != 0 || len(d.Groups[0].Topics) != 1 || len(d.Groups[0].Topics[0].Partitions) != 3 {
		t.Fatalf("describe right after the assignment: %+v", d)
	}
	for _, p := range d.Groups[0].Topics[0].Partitions {
		if p.ErrorCode != 0 || p.StartOffset != -1 || p.Lag != -1 {
			t.Fatalf("q-%d right after the assignment: %+v, want start offset and lag -1", p.Partition, p)
		}
	}

	// q-0's leader reads at a newer epoch (as its next leader would), the share
	// coordinator moves, then a write of the former leader's comes.
	k := shareKey(group, q.ID, 0)
	leader := q.Partitions[0].Leader
	var ln, sc *Server
	for _, s := range c.nodes {
		if s.opts.NodeID == leader {
			ln = s
		}
		if s.opts.NodeID == shareCoordinatorOf(s, group, q, 0) {
			sc = s
		}
	}
	epoch := ln.shareLeaderEpoch(q.ID, 0)
	if st, ok, err := ln.data.shares.states.ReadAt(k, epoch+1); err != nil || !ok || st.Start != share.Uninitialized {
		t.Fatalf("the new leader's read: %+v %v %v", st, ok, err)
	}
	stp := sc.data.shares.store.PartitionFor(k)
	st, _ := sc.image().Topic(metadata.ShareGroupStateTopic)
	sc.data.shares.store.Unload(stp, -1)
	if err := sc.data.shares.store.Load(stp, st.Partitions[stp].LeaderEpoch); err != nil {
		t.Fatal(err)
	}
	write := func(leaderEpoch int32) error {
		return ln.data.shares.states.Write([]share.Update{{Key: k, LeaderEpoch: leaderEpoch, Start: 0, Batches: []share.StateBatch{{First: 0, Last: 0, State: share.Acknowledged, DeliveryCount: 1}}}})
	}
	if err := write(epoch); !errors.Is(err, share.ErrFencedLeaderEpoch) && !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("the former leader's first write after the share coordinator moved: %v", err)
	}
	if err := write(epoch + 1); err != nil {
		t.Fatal(err)
	}
	if err := ln.data.shares.states.Delete([]share.Key{k}); err != nil {
		t.Fatal(err)
	}
	if err := write(epoch + 1); !errors.Is(err, share.ErrUninitialized) {
		t.Fatalf("a write of the deleted state: %v", err)
	}
}
