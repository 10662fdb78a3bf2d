package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCLIShareGroupCluster: `strata group describe` shows a share group served by a
// cluster (its type, state and members) and its partitions (DescribeShareGroupOffsets
// at the group's coordinator); once the group is empty, `strata group reset-offsets`
// moves its start offset back (AlterShareGroupOffsets) and the next member gets the
// records again.
func TestCLIShareGroupCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three strata processes")
	}
	c := startProcClusterWith(t, "--set", "group.coordinator.rebalance.protocols=classic,consumer,share",
		"--set", "share.coordinator.state.topic.num.partitions=3", "--set", "offsets.topic.num.partitions=3")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c.waitMetadata(t, ctx, 0, "three brokers", func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
	createRF3(t, ctx, c, 0, "work", 1)
	c.waitInSync(t, ctx, 0, "work", 1)
	addr := c.addrs[0]
	cli(t, addr, codeOK, "0\n1\n", "produce", "work", "--partition", "0")

	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "workers"
	res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "share.auto.offset.reset", Value: kmsg.StringPtr("earliest")}}
	iac.Resources = append(iac.Resources, res)
	if r, err := req[*kmsg.IncrementalAlterConfigsResponse](ctx, c.client(t, 0), iac); err != nil || r.Resources[0].ErrorCode != 0 {
		t.Fatalf("setting share.auto.offset.reset: %v %v", err, r)
	}
	sc, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics("work"), kgo.ShareGroup("workers"), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 2 && ctx.Err() == nil; {
		sc.PollFetches(ctx).EachRecord(func(r *kgo.Record) { n++; r.Ack(kgo.AckAccept) })
	}
	if err := sc.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	r := cli(t, addr, codeOK, "", "group", "describe", "workers")
	mustContain(t, "group describe", r.stdout, "protocol     share", "state        Stable", "members      1", "work[0]", "START", "LAG")
	cli(t, addr, codeConflict, "", "group", "reset-offsets", "workers", "--to", "earliest")
	sc.Close()

	r = cli(t, c.addrs[1], codeOK, "", "group", "reset-offsets", "workers", "--to", "earliest")
	mustContain(t, "group reset-offsets", r.stdout, "work   0          2     0   -2", "reset 1 partition of group workers")
	again, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics("work"), kgo.ShareGroup("workers"), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	seen := map[string]bool{}
	for len(seen) < 2 && ctx.Err() == nil {
		again.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true; r.Ack(kgo.AckAccept) })
	}
	if !seen["0"] || !seen["1"] {
		t.Fatalf("after the reset the next member got %v, want 0 and 1", seen)
	}
}
