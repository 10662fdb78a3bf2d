package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// TestClusterReassignmentThrottled: a move under the replication throttle (KIP-73) goes
// at about the rate. A partition on {1,2} holding 3 MiB moves to {1,3} with
// leader.replication.throttled.rate and follower.replication.throttled.rate at 512 KiB/s
// cluster-wide (IncrementalAlterConfigs on the BROKER resource ""), the move's replicas
// listed in the topic's *.replication.throttled.replicas, as kafka-reassign-partitions
// sets them. The quota (2 samples of 1 s) lets at most about 1 s of the rate and one
// fetch (64 KiB) through ahead of time, so the move cannot complete in less than half of
// 3 MiB / 512 KiB/s = 6 s however fast the machine: the assertion is a lower bound on
// time, which a slow machine only makes safer. Meanwhile acks=all produce goes on (the
// in-sync follower is not throttled), and every acknowledged record ends up on broker 3,
// whose log equals the leader's byte for byte.
func TestClusterReassignmentThrottled(t *testing.T) {
	c := startClusterWith(t, map[string]string{"replication.quota.window.num": "2", "replica.fetch.max.bytes": "65536"})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "th", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func(node int) metadata.PartitionState {
		cur, _ := c.nodes[node].image().TopicByID(tp.ID)
		return cur.Partitions[0]
	}
	waitFor(t, func() bool { return len(state(0).ISR) == 2 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()), kgo.DefaultProduceTopic("th"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const total, rate = 3 << 20, 512 << 10
	value := make([]byte, 4<<10) // incompressible: the log holds total bytes
	rand.Read(value)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range total / len(value) {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d records not acknowledged", n)
	}

	adm := kadm.NewClient(cl)
	r := strconv.Itoa(rate)
	bres, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: kmsg.StringPtr(r)},
		{Op: kadm.SetConfig, Name: "follower.replication.throttled.rate", Value: kmsg.StringPtr(r)}})
	if err == nil {
		err = bres[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	tres, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "leader.replication.throttled.replicas", Value: kmsg.StringPtr("0:1,0:2")},
		{Op: kadm.SetConfig, Name: "follower.replication.throttled.replicas", Value: kmsg.StringPtr("0:3")}}, "th")
	if err == nil {
		err = tres[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		waitFor(t, func() bool { l, f := c.nodes[i].data.replicas.ThrottleRates(); return l == rate && f == rate })
	}

	load := startAckedLoad(ctx, cl, 5*time.Millisecond) // a trickle of acks=all produce during the move
	start := time.Now()
	res, err := c.nodes[1].data.store.AlterReassignments(ctx, metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"th": {0: {1, 3}}}})
	if err != nil || len(res) != 1 || res[0].Outcome != metadata.Reassigned {
		t.Fatalf("reassign: %+v, %v", res, err)
	}
	moved := func() bool { st := state(0); return !st.Reassigning() && slices.Equal(st.Replicas, []int32{1, 3}) }
	for ctx.Err() == nil && !moved() {
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	acked := load.finish()
	if ctx.Err() != nil {
		t.Fatalf("the move did not complete: %v", ctx.Err())
	}
	if min := time.Duration(float64(total) / rate * 0.5 * float64(time.Second)); took < min {
		t.Fatalf("a throttled move of %d bytes at %d B/s took %v, less than %v", total, rate, took, min)
	}
	if len(acked) == 0 {
		t.Fatal("no acks=all produce acknowledged during the move")
	}
	t.Logf("moved %d bytes at %d B/s in %v; %d records acknowledged meanwhile", total, rate, took, len(acked))

	leader, added := hostedPartition(c.nodes[0], "th", 0), hostedPartition(c.nodes[2], "th", 0)
	if leader == nil || added == nil {
		t.Fatal("brokers 1 and 3 do not host the partition")
	}
	waitFor(t, func() bool { return added.EndOffset() == leader.EndOffset() })
	if a, b := wholeLog(t, leader), wholeLog(t, added); !bytes.Equal(a, b) || len(a) < total {
		t.Fatalf("broker 3's log (%d bytes) differs from the leader's (%d bytes, at least %d)", len(b), len(a), total)
	}
	consumeAcked(ctx, t, c.nodes[2], "th", acked)
}
