package server

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// TestShareAckRollbackKgo: a franz-go share consumer whose acknowledgements' state writes
// fail. A write failing with the coordinator unavailable (COORDINATOR_NOT_AVAILABLE,
// which the client retries) is rolled back, so the client's retry succeeds and every
// record is accepted once and stored; a write failing otherwise is UNKNOWN_SERVER_ERROR
// for the partition (Kafka's fetchPersisterError), and its records stay acquired by the
// member, neither acknowledged nor lost: a restarted broker reads exactly what was stored.
func TestShareAckRollbackKgo(t *testing.T) {
	dir := t.TempDir()
	cfg := share.DefaultConfig()
	cfg.AutoOffsetReset, cfg.RecordLockDuration, cfg.HeartbeatInterval = "earliest", 30*time.Second, 200*time.Millisecond
	opts := func() *Options {
		return &Options{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler), ShareConfigs: share.StaticConfigs(cfg),
			Settings: map[string]string{"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3",
				"share.coordinator.state.topic.num.partitions": "3"}}
	}
	s, err := Start(opts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	topic, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "rb", Partitions: 1, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	key := share.Key{Group: "sg", TopicID: topic.ID, Partition: 0}
	prod, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(from int) {
		t.Helper()
		for i := from; i < from+10; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "rb", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0)

	// The next toFail writes carrying an acknowledgement fail with failErr.
	var toFail, failed atomic.Int32
	var failErr error
	hook := func(us []share.Update) error {
		for _, u := range us {
			acked := u.Key == key && u.Start > 0
			for _, b := range u.Batches {
				acked = acked || u.Key == key && b.State == share.Acknowledged
			}
			if acked && toFail.Add(-1) >= 0 {
				failed.Add(1)
				return failErr
			}
		}
		return nil
	}
	s.data.shares.states.failWrite.Store(&hook)

	var mu sync.Mutex
	var results []kgo.ShareAckResult
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ConsumeTopics("rb"), kgo.ShareGroup("sg"),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.ShareAckCallback(func(_ *kgo.Client, rs kgo.ShareAckResults) {
			mu.Lock()
			results = append(results, rs...)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	consume := func(n int) {
		t.Helper()
		for len(seen) < n && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				seen[string(r.Value)]++
				r.Ack(kgo.AckAccept)
			})
		}
		if err := cl.FlushAcks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(s *Server) share.Stored {
		t.Helper()
		st, ok, err := s.data.shares.states.ReadAt(key, -1)
		if err != nil || !ok {
			t.Fatalf("stored state: %v %v", ok, err)
		}
		return st
	}

	// Retried by the client: rolled back, then accepted and stored.
	failErr = coord.ErrNotAvailable
	toFail.Store(1)
	consume(10)
	mu.Lock()
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("acknowledgement of %s-%d: %v", r.Topic, r.Partition, r.Err)
		}
	}
	results = nil
	mu.Unlock()
	if failed.Load() != 1 {
		t.Fatalf("%d acknowledgements' writes failed, want 1", failed.Load())
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", v, n)
		}
	}
	if st := stored(s); st.Start != 10 || len(st.Batches) != 0 {
		t.Fatalf("stored %+v, want start 10", st)
	}

	// Not retried: the partition's error, its records still the member's.
	produce(10)
	failErr = errors.New("injected failure")
	toFail.Store(1)
	consume(20)
	mu.Lock()
	var refused int
	for _, r := range results {
		switch {
		case errors.Is(r.Err, kerr.UnknownServerError):
			refused++
		case r.Err != nil:
			t.Errorf("acknowledgement of %s-%d: %v", r.Topic, r.Partition, r.Err)
		}
	}
	mu.Unlock()
	if refused != 1 {
		t.Fatalf("%d acknowledgements failed with UNKNOWN_SERVER_ERROR, want 1", refused)
	}
	// What is stored acknowledged is done on the leader, the rest still acquired.
	st := stored(s)
	ackedOf := func(st share.Stored) (n int, batches []share.StateBatch) {
		for _, b := range st.Batches {
			if b.State == share.Acknowledged {
				n += int(b.Last - b.First + 1)
				batches = append(batches, b)
			}
		}
		return n, batches
	}
	acked, ackedBatches := ackedOf(st)
	live, ok := s.data.shares.mgr.LiveSummary(key)
	if !ok || live.Start != st.Start || live.Done != acked || live.InFlight == 0 || live.InFlight != int(20-st.Start)-acked {
		t.Fatalf("stored %+v, live %+v: want the records not stored acknowledged in flight, acquired by the member", st, live)
	}
	s.data.shares.states.failWrite.Store(nil)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2, err := Start(opts())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// The records in flight were released when the consumer's session closed with the
	// broker: stored Available.
	got := stored(s2)
	if _, b := ackedOf(got); got.Start != st.Start || !reflect.DeepEqual(b, ackedBatches) {
		t.Fatalf("after a restart stored %+v, want start %d and acknowledged %+v", got, st.Start, ackedBatches)
	}
	for _, b := range got.Batches {
		if b.State != share.Acknowledged && b.State != share.Available {
			t.Fatalf("after a restart stored %+v", got)
		}
	}
}
