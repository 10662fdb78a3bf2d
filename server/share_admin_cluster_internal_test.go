package server

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
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
	if err := c.nodes[0].data.shares.states.Initialize(keys); err != nil {
		t.Fatal(err)
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

// TestClusterShareGroupOffsetsAdmin: DescribeShareGroupOffsets, AlterShareGroupOffsets
// and DeleteShareGroupOffsets through kadm on a three-broker cluster, the group's
// coordinator not leading q-0: start offsets and lags of a consumed group; after an
// alteration to offset 5 the next member gets offsets 5-9 of each partition once (the
// partition leaders, holding the share-partitions at 10, read them again); after a
// delete the next member gets every record again (share.auto.offset.reset earliest).
func TestClusterShareGroupOffsetsAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	group, _ := groupCoordinatedAway(c.nodes[0], q, "ag")
	cl, _ := consumeShareCluster(ctx, t, c.addrs(), group, 30, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	cl.Close()
	acl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)
	describe := func(wantStart, wantLag int64) {
		t.Helper()
		d, err := adm.DescribeShareGroupOffsets(ctx, group)
		if err != nil || d[group].Err != nil {
			t.Fatalf("describe: %v %v", err, d[group].Err)
		}
		for p := range int32(3) {
			o, ok := d[group].Offsets["q"][p]
			switch {
			case wantStart < 0 && ok:
				t.Errorf("q-%d described %+v, want no row", p, o)
			case wantStart >= 0 && (!ok || o.Err != nil || o.StartOffset != wantStart || o.Lag != wantLag):
				t.Errorf("q-%d described %+v (%v), want start offset %d, lag %d", p, o, ok, wantStart, wantLag)
			}
		}
	}
	describe(10, 0)
	to := kadm.Offsets{}
	for p := range int32(3) {
		to.AddOffset("q", p, 5, -1)
	}
	res, err := adm.AlterShareGroupOffsets(ctx, group, to)
	if err != nil || res.Error() != nil {
		t.Fatalf("alter: %v %v", err, res)
	}
	describe(5, 5)
	cl, seen := consumeShareCluster(ctx, t, c.addrs(), group, 15, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	cl.Close()
	for i := range 30 {
		if want := 0; i >= 15 && seen[strconv.Itoa(i)] != 1 || i < 15 && seen[strconv.Itoa(i)] != want {
			t.Fatalf("after the alteration record %d delivered %d times (seen %v), want once from offset 5", i, seen[strconv.Itoa(i)], seen)
		}
	}
	dres, err := adm.DeleteShareGroupOffsets(ctx, group, "q")
	if err != nil || dres.Error() != nil {
		t.Fatalf("delete: %v %v", err, dres)
	}
	describe(-1, -1)
	cl, seen = consumeShareCluster(ctx, t, c.addrs(), group, 30, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	defer cl.Close()
	if len(seen) != 30 {
		t.Fatalf("after the delete %d records delivered, want all 30 again: %v", len(seen), seen)
	}
}

// groupCoordinatedAway is a group named prefix and a number whose coordinator (returned)
// is not the leader of q's first partition.
func groupCoordinatedAway(n *Server, q metadata.Topic, prefix string) (string, int32) {
	o, _ := n.image().Topic(metadata.ConsumerOffsetsTopic)
	for i := 0; ; i++ {
		g := prefix + strconv.Itoa(i)
		if l := o.Partitions[coord.PartitionFor(g, o.NumPartitions())].Leader; l != q.Partitions[0].Leader {
			return g, l
		}
	}
}
