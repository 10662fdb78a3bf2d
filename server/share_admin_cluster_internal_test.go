package server

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

// TestClusterShareStatesAdmin: what the offsets APIs of share groups read and change on
// a cluster reaches each share-partition's coordinator from every broker: the stored
// summaries (ReadShareGroupStateSummary from the others), fresh states at new start
// offsets of the next state epoch (InitializeShareGroupState from the others), which a
// broker that does not coordinate the key refuses with NOT_COORDINATOR; a key without a
// state has no summary.
func TestClusterShareStatesAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	const group = "admin"
	keys := []share.Key{shareKey(group, q.ID, 0), shareKey(group, q.ID, 1), shareKey(group, q.ID, 2)}
	var us []share.Update
	for _, k := range keys {
		us = append(us, share.Update{Key: k, LeaderEpoch: 0, Start: 10, Batches: []share.StateBatch{{First: 11, Last: 12, State: share.Acknowledged, DeliveryCount: 1}}})
	}
	if err := c.nodes[0].data.shares.states.Write(us); err != nil {
		t.Fatal(err)
	}
	missing := shareKey("nobody", q.ID, 0)
	for _, n := range c.nodes {
		sums, err := n.data.shares.states.Summaries(append(keys, missing))
		if err != nil {
			t.Fatalf("node %d: %v", n.opts.NodeID, err)
		}
		if len(sums) != 3 {
			t.Errorf("node %d: %d summaries, want 3: %v", n.opts.NodeID, len(sums), sums)
		}
		for _, k := range keys {
			if got := sums[k]; got.Start != 10 || got.Done != 2 {
				t.Errorf("node %d: summary of q-%d (coordinator %d) = %+v, want start 10, 2 done", n.opts.NodeID, k.Partition, shareCoordinatorOf(n, group, q, k.Partition), got)
			}
		}
	}
	for i, n := range c.nodes {
		start := int64(20 + i)
		starts := map[share.Key]int64{}
		for _, k := range keys {
			starts[k] = start
		}
		if err := n.data.shares.states.Reset(starts); err != nil {
			t.Fatalf("node %d: %v", n.opts.NodeID, err)
		}
		for _, k := range keys {
			coordinator := c.nodes[0]
			for _, s := range c.nodes {
				if s.opts.NodeID == shareCoordinatorOf(n, group, q, k.Partition) {
					coordinator = s
				}
			}
			got, ok, err := coordinator.data.shares.store.Read(k)
			if err != nil || !ok || got.Start != start || len(got.Batches) != 0 || got.StateEpoch != int32(i+1) {
				t.Errorf("after node %d's reset, q-%d on its coordinator: %+v %v %v, want start %d, no batches, state epoch %d", n.opts.NodeID, k.Partition, got, ok, err, start, i+1)
			}
		}
	}
	// InitializeShareGroupState at a broker that does not coordinate the key.
	for p := range int32(3) {
		coordinator := shareCoordinatorOf(c.nodes[0], group, q, p)
		for _, s := range c.nodes {
			if s.opts.NodeID == coordinator {
				continue
			}
			req := kmsg.NewPtrInitializeShareGroupStateRequest()
			req.GroupID = group
			req.Topics = []kmsg.InitializeShareGroupStateRequestTopic{{TopicID: q.ID, Partitions: []kmsg.InitializeShareGroupStateRequestTopicPartition{{Partition: p, StartOffset: 1}}}}
			got := rawRequest(ctx, t, s, req).(*kmsg.InitializeShareGroupStateResponse).Topics[0].Partitions[0]
			if got.ErrorCode != kerr.NotCoordinator.Code {
				t.Errorf("InitializeShareGroupState of q-%d on node %d, not its coordinator %d: error %v", p, s.opts.NodeID, coordinator, kerr.ErrorForCode(got.ErrorCode))
			}
		}
	}
}
