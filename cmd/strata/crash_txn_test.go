package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServerCrashTxnETL runs an exactly-once consume-transform-produce pipeline (franz-go's
// GroupTransactSession: read "in" read_committed in a group, write each record to "out",
// commit the input offsets in the same transaction) against the binary, SIGKILLs the
// broker in the middle, restarts it on the same address and data directory, and lets the
// pipeline finish: a read_committed reader of "out" finds every input record exactly once.
func TestServerCrashTxnETL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	dataDir := t.TempDir()
	settings := []string{"--set", "group.initial.rebalance.delay.ms=0",
		"--set", "transaction.state.log.num.partitions=3", "--set", "offsets.topic.num.partitions=3"}
	b := startStrata(t, bin, dataDir, settings...)
	addr := b.addr
	createCrashTopic(t, addr, "in", 3)
	createCrashTopic(t, addr, "out", 1)
	const n = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	in, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "%05d", i)})
	}
	if err := in.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	in.Close()

	// The pipeline; a session that fails (fenced, the broker gone too long) is replaced.
	var (
		committed atomic.Int64 // records of committed transactions, as the client saw them
		wg        sync.WaitGroup
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for runCtx.Err() == nil {
			sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(addr), kgo.TransactionalID("crash-etl"),
				kgo.ConsumerGroup("crash-etl"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.DefaultProduceTopic("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxPartitionBytes(2048), kgo.TransactionTimeout(5*time.Second), kgo.RetryTimeout(30*time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			for runCtx.Err() == nil {
				fs := sess.PollRecords(runCtx, 50)
				if fs.NumRecords() == 0 {
					continue
				}
				if err := sess.Begin(); err != nil {
					break
				}
				fs.EachRecord(func(r *kgo.Record) {
					sess.Produce(runCtx, &kgo.Record{Value: append([]byte("out-"), r.Value...)}, nil)
				})
				time.Sleep(10 * time.Millisecond) // "processing": the kill lands mid-run
				ok, err := sess.End(runCtx, kgo.TryCommit)
				if err != nil {
					t.Logf("pipeline: end: %v (new session)", err)
					break
				}
				if ok {
					committed.Add(int64(fs.NumRecords()))
				}
			}
			sess.Close()
		}
	}()

	for committed.Load() < n/3 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	b.kill(t)
	killedAt := committed.Load()
	t.Logf("killed with %d records committed", killedAt)
	if killedAt >= n {
		t.Fatal("the pipeline was done before the kill: the test checks nothing")
	}
	startStrata(t, bin, dataDir, append([]string{"--listen", addr}, settings...)...) // same address: the pipeline reconnects

	// Done once the group's committed offsets reach the end of "in".
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	for {
		if ctx.Err() != nil {
			t.Fatalf("the pipeline did not finish (%d committed)", committed.Load())
		}
		offs, err := kadm.NewClient(adm).FetchOffsets(ctx, "crash-etl")
		var total int64
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		}
		if total == n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()

	out, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	seen := map[string]int{}
	total := 0
	deadline := time.Now().Add(30 * time.Second)
	for total < n && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		out.PollFetches(pctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
		pcancel()
	}
	// Anything past n would be a duplicate: read a little longer.
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	out.PollFetches(pctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
	pcancel()
	for i := range n {
		if k := fmt.Sprintf("out-%05d", i); seen[k] != 1 {
			t.Fatalf("%s is in the output %d times (%d records read_committed)", k, seen[k], total)
		}
	}
	if total != n {
		t.Fatalf("read_committed output has %d records, want %d", total, n)
	}
}
