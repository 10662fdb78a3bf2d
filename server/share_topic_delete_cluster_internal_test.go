package server

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// TestClusterShareGroupTopicDeleted: on three brokers, a share group (coordinated by
// another broker than q-0's leader) consumes q; q is deleted: the group's coordinator
// deletes q's share-partition states at their share coordinators (DeleteShareGroupState
// where they are another broker) and forgets q; q created again under the same name
// starts fresh for the group (every record delivered once, from offset 0).
func TestClusterShareGroupTopicDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	group, coordinator := groupCoordinatedAway(c.nodes[0], q, "dg")
	gc := c.node(coordinator)
	cl, _ := consumeShareCluster(ctx, t, c.addrs(), group, 30, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	cl.Close()
	keys := []share.Key{shareKey(group, q.ID, 0), shareKey(group, q.ID, 1), shareKey(group, q.ID, 2)}
	if !slices.ContainsFunc([]int32{0, 1, 2}, func(p int32) bool { return shareCoordinatorOf(gc, group, q, p) != coordinator }) {
		t.Fatalf("every share coordinator of %s on q is its group coordinator %d: nothing remote to delete", group, coordinator)
	}
	sums, err := c.nodes[0].data.shares.states.Summaries(keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if sums[k].Start != 10 {
			t.Fatalf("q-%d stored before the deletion: %+v, want start offset 10", k.Partition, sums[k])
		}
	}

	if err := c.nodes[0].data.store.DeleteTopic(ctx, q.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		sums, err := c.nodes[0].data.shares.states.Summaries(keys)
		return err == nil && len(sums) == 0 && len(gc.data.shares.groups.InitializedKeys(group)) == 0
	})

	q2, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "q", Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return !slices.ContainsFunc(c.nodes, func(s *Server) bool { tp, ok := s.image().Topic("q"); return !ok || tp.ID != q2.ID })
	})
	c.waitForLeaders(t, "q")
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	for i := range 6 {
		if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: "q", Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl, seen := consumeShareCluster(ctx, t, c.addrs(), group, 6, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	defer cl.Close()
	for i := range 6 {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("q created again: record %d delivered %d times, want once: %v", i, seen[strconv.Itoa(i)], seen)
		}
	}
	keys = []share.Key{shareKey(group, q2.ID, 0), shareKey(group, q2.ID, 1), shareKey(group, q2.ID, 2)}
	if sums, err = c.nodes[0].data.shares.states.Summaries(keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if sums[k].Start != 2 {
			t.Fatalf("q-%d created again: %+v, want start offset 2", k.Partition, sums[k])
		}
	}
}
