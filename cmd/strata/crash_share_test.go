package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServerCrashShareAcks: a share consumer accepts records and flushes its
// acknowledgements (a flush that returns nil: the broker answered them, so stored) while
// the broker is SIGKILLed; after a restart on the same data directory a new consumer of
// the group gets what remains. No record whose acceptance was answered before the kill is
// delivered again, and no record is lost: each one (from the group's start offset) was
// accepted before the kill or is delivered after it — those in flight at the kill are
// delivered again.
func TestServerCrashShareAcks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	dataDir := t.TempDir()
	settings := []string{"--set", "group.coordinator.rebalance.protocols=classic,consumer,share",
		"--set", "share.coordinator.state.topic.num.partitions=3", "--set", "offsets.topic.num.partitions=3"}
	b := startStrata(t, bin, dataDir, settings...)
	createCrashTopic(t, b.addr, "q", 1)
	const n = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	consumer := func(addr string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("q"), kgo.ShareGroup("crash-share"),
			kgo.ShareMaxRecords(50), kgo.FetchMaxWait(100*time.Millisecond), kgo.RetryTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := consumer(b.addr)
	defer cl.Close()
	// The group starts at the latest offset (share.auto.offset.reset's default) when it
	// first fetches: let it fetch once before the records come.
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	cl.PollFetches(pctx)
	pcancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DefaultProduceTopic("q"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for range n {
		recs = append(recs, &kgo.Record{Value: []byte("x")})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	prod.Close()

	delivered := map[int64]bool{} // before the kill
	confirmed := map[int64]bool{} // accepted, answered before the kill
	first := int64(-1)
	for len(confirmed) < n/3 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var batch []int64
		fs.EachRecord(func(r *kgo.Record) {
			if first < 0 || r.Offset < first {
				first = r.Offset
			}
			delivered[r.Offset] = true
			r.Ack(kgo.AckAccept)
			batch = append(batch, r.Offset)
		})
		if err := cl.FlushAcks(ctx); err != nil {
			t.Fatalf("flush acks before the kill: %v", err)
		}
		for _, o := range batch {
			confirmed[o] = true
		}
	}
	// Take more records: accept half of them and kill the broker while those
	// acceptances fly; the other half stays acquired (in flight, never acknowledged).
	held := map[int64]bool{}
	for len(held) == 0 && ctx.Err() == nil {
		i := 0
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			delivered[r.Offset] = true
			if i++; i%2 == 0 {
				held[r.Offset] = true
				return
			}
			r.Ack(kgo.AckAccept)
		})
	}
	go cl.FlushAcks(ctx) //nolint:errcheck // its outcome is unknown by design: the broker dies under it
	b.kill(t)
	cl.Close()

	b2 := startStrata(t, bin, dataDir, settings...)
	cl2 := consumer(b2.addr)
	defer cl2.Close()
	after := map[int64]int{}
	idle := time.Now()
	for time.Since(idle) < 3*time.Second && ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl2.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			after[r.Offset]++
			r.Ack(kgo.AckAccept)
			idle = time.Now()
		})
	}
	for o := range after {
		if confirmed[o] {
			t.Errorf("offset %d accepted and answered before the kill, delivered again", o)
		}
	}
	for o := range held {
		if after[o] == 0 {
			t.Errorf("offset %d acquired, never acknowledged, at the kill: not delivered again", o)
		}
	}
	for o := first; o < n; o++ {
		if !confirmed[o] && after[o] == 0 && !delivered[o] {
			t.Errorf("offset %d lost: never delivered", o)
		}
	}
	t.Logf("start offset %d; before the kill %d delivered, %d confirmed, %d held; after it %d delivered",
		first, len(delivered), len(confirmed), len(held), len(after))
}
