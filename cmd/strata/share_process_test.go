package main

import (
	"context"
	"encoding/base64"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareAccount is the workers' accounting of a share group's records: each delivery, and
// each accept the broker confirmed (the acknowledgement of the record's partition
// answered without error).
type shareAccount struct {
	mu         sync.Mutex
	deliveries map[string]int
	confirmed  map[string]bool
	violations []string // an accepted (confirmed) record delivered again
}

func (a *shareAccount) delivered(v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deliveries[v]++
	if a.confirmed[v] {
		a.violations = append(a.violations, v)
	}
}

func (a *shareAccount) confirm(v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.confirmed[v] = true
}

func (a *shareAccount) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.confirmed)
}

// shareWorker consumes topic in group, accepting every record it gets and confirming the
// accepts of each poll (FlushAcks, with the per-partition results of the acknowledge
// callback), until ctx is done.
func shareWorker(ctx context.Context, t *testing.T, addrs []string, group, topic string, a *shareAccount) {
	var mu sync.Mutex
	failed := map[int32]bool{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.ShareMaxRecords(20),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.ShareAckCallback(func(_ *kgo.Client, rs kgo.ShareAckResults) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				if r.Err != nil {
					failed[r.Partition] = true
				}
			}
		}))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		mu.Lock()
		clear(failed)
		mu.Unlock()
		var got []*kgo.Record
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			a.delivered(string(r.Value))
			r.Ack(kgo.AckAccept)
			got = append(got, r)
		})
		if len(got) == 0 {
			continue
		}
		if err := cl.FlushAcks(ctx); err != nil {
			continue // not confirmed: the records may come again
		}
		mu.Lock()
		for _, r := range got {
			if !failed[r.Partition] {
				a.confirm(string(r.Value))
			}
		}
		mu.Unlock()
		time.Sleep(200 * time.Millisecond) // slow workers: the kills land mid-run
	}
}

// TestShareProcessKill: three workers of a share group accept the records of an RF 3
// topic of a three-process cluster while the broker leading one of its partitions is
// killed (kill -9), then restarted, then the broker coordinating a share-partition's
// state (the leader of its partition of __share_group_state) is killed and restarted.
// By the workers' accounting every record is accepted (confirmed) once overall, and no
// record is delivered again after its accept was confirmed; the records in flight on a
// killed leader are delivered again by the next.
func TestShareProcessKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three strata processes")
	}
	c := startProcClusterWith(t, "--set", "group.coordinator.rebalance.protocols=classic,consumer,share",
		"--set", "share.coordinator.state.topic.num.partitions=3", "--set", "offsets.topic.num.partitions=3")
	ctx, cancel := context.WithTimeout(t.Context(), 180*time.Second)
	defer cancel()
	const topic, group, n = "work", "workers", 3000
	c.waitMetadata(t, ctx, 0, "three brokers", func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
	createRF3(t, ctx, c, 0, topic, 3)
	m := c.waitInSync(t, ctx, 0, topic, 3)
	var topicID [16]byte
	for _, tp := range m.Topics {
		if *tp.Topic == topic {
			topicID = tp.TopicID
		}
	}

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = 32, group // GROUP
	for k, v := range map[string]string{"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "15000"} {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		res.Configs = append(res.Configs, cfg)
	}
	alter.Resources = append(alter.Resources, res)
	if resp, err := req[*kmsg.IncrementalAlterConfigsResponse](ctx, c.client(t, 0), alter); err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("group configs: %v %+v", err, resp)
	}

	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()

	a := &shareAccount{deliveries: map[string]int{}, confirmed: map[string]bool{}}
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { shareWorker(wctx, t, c.addrs, group, topic, a) })
	}
	defer func() { stopWorkers(); wg.Wait() }()
	waitConfirmed := func(want int, what string) {
		t.Helper()
		for a.count() < want {
			if ctx.Err() != nil {
				t.Fatalf("%s: %d of %d records accepted", what, a.count(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	restart := func(i int) {
		t.Helper()
		c.nodes[i].kill(t)
		waitConfirmed(min(a.count()+n/10, n), "after the kill of node "+strconv.Itoa(i+1))
		c.nodes[i] = c.launch(t, i)
		c.nodes[i].waitReady(t)
	}

	waitConfirmed(n/10, "before the kills")
	leader := c.waitInSync(t, ctx, 0, topic, 3)
	i := int(partitionsOf(leader, topic)[0].Leader - 1)
	t.Logf("killing node %d, leader of %s-0, at %d accepted", i+1, topic, a.count())
	restart(i)

	// The coordinator of the share-partition of work-1 (FindCoordinator key type share).
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType = 6, 2
	fc.CoordinatorKeys = []string{group + ":" + base64.RawURLEncoding.EncodeToString(topicID[:]) + ":1"}
	var coordinator int32 = -1
	for coordinator < 0 {
		resp, err := req[*kmsg.FindCoordinatorResponse](ctx, c.client(t, (i+1)%3), fc)
		switch {
		case err == nil && resp.Coordinators[0].ErrorCode == 0:
			coordinator = resp.Coordinators[0].NodeID
		case ctx.Err() != nil:
			t.Fatalf("FindCoordinator (share): %v %+v", err, resp)
		case err == nil && resp.Coordinators[0].ErrorCode != kerr.CoordinatorNotAvailable.Code:
			t.Fatalf("FindCoordinator (share): %v", kerr.ErrorForCode(resp.Coordinators[0].ErrorCode))
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("killing node %d, share coordinator of %s-1, at %d accepted", coordinator, topic, a.count())
	restart(int(coordinator - 1))

	waitConfirmed(n, "after the restarts")
	stopWorkers()
	wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	again := 0
	for v, d := range a.deliveries {
		if d > 1 {
			again++
		}
		if !a.confirmed[v] {
			t.Errorf("record %s delivered but never accepted", v)
		}
	}
	if len(a.violations) > 0 {
		t.Errorf("%d records delivered again after their accept was confirmed: %v", len(a.violations), a.violations[:min(20, len(a.violations))])
	}
	t.Logf("%d records accepted; %d delivered more than once (in flight at a kill)", len(a.confirmed), again)
}
