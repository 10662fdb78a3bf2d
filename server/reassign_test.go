package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/metadata"
)

// TestClusterReassignment: the brokers follow a reassignment of the controller
// (AlterReassignments through the store; the wire APIs are not served yet) under acks=all
// produce load: a partition on {1,2} led by 1 moves to {2,3}. Broker 3 starts fetching
// from the leader as an adding replica, joins the ISR, which completes the move: the
// leader moves to 2, broker 1 stops hosting the partition and deletes its directory;
// broker 3's log equals broker 2's byte for byte, and every acknowledged record is
// there.
func TestClusterReassignment(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "mv", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	state := func(node int) metadata.PartitionState {
		cur, ok := c.nodes[node].image().TopicByID(tp.ID)
		if !ok {
			return metadata.PartitionState{Leader: metadata.NoLeader}
		}
		return cur.Partitions[0]
	}
	waitFor(t, func() bool { return len(state(1).ISR) == 2 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[1].Addr().String()), kgo.DefaultProduceTopic("mv"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // produce until stopped, recording what is acknowledged
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := strconv.Itoa(i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err == nil {
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			}
		}
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 50 })

	res, err := c.nodes[2].data.store.AlterReassignments(ctx, metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"mv": {0: {2, 3}}}})
	if err != nil || len(res) != 1 || res[0].Outcome != metadata.Reassigned {
		t.Fatalf("reassign: %+v, %v", res, err)
	}
	for node := range 3 {
		waitFor(t, func() bool {
			st := state(node)
			return !st.Reassigning() && slices.Equal(st.Replicas, []int32{2, 3}) && st.Leader == 2
		})
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 150 }) // produce goes on at the new leader
	close(stop)
	wg.Wait()

	waitFor(t, func() bool { return hostedPartition(c.nodes[0], "mv", 0) == nil })
	if _, err := os.Stat(filepath.Join(c.dirs[0], metadata.PartitionDir("mv", 0))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("broker 1's partition directory after the move: %v", err)
	}
	leader, added := hostedPartition(c.nodes[1], "mv", 0), hostedPartition(c.nodes[2], "mv", 0)
	if leader == nil || added == nil {
		t.Fatal("brokers 2 and 3 do not host the partition")
	}
	waitFor(t, func() bool { return added.EndOffset() == leader.EndOffset() })
	if a, b := wholeLog(t, leader), wholeLog(t, added); !bytes.Equal(a, b) || leader.LogStartOffset() != 0 {
		t.Fatalf("broker 3's log (%d bytes) differs from the leader's (%d bytes)", len(b), len(a))
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[2].Addr().String()), kgo.ConsumeTopics("mv"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	for end := leader.EndOffset(); int64(len(seen)) < end; {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), end, err)
		}
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range acked {
		if !seen[v] {
			t.Fatalf("acknowledged record %s lost (%d acknowledged, %d consumed)", v, len(acked), len(seen))
		}
	}
}
