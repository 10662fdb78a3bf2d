package server

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// TestClusterTxnPrepareAcrossFailover: a committed transaction whose marker cannot be
// written (the leader of its partition is down) stays in PrepareCommit; meanwhile its
// transactional id's InitProducerId answers CONCURRENT_TRANSACTIONS (once the wait for
// the markers, at most 1 s, has passed). Its coordinator then stops: the broker that
// takes over __transaction_state loads the transaction in PrepareCommit and completes
// it once the partition's leader is back: CompleteCommit, and a read_committed reader
// gets the record.
func TestClusterTxnPrepareAcrossFailover(t *testing.T) {
	c := startClusterWith(t, map[string]string{"transaction.state.log.num.partitions": "1"})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	p, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.TransactionalID("tid"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "warm", Partitions: 1, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	// A first transaction creates __transaction_state (3 replicas) and loads the id.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "warm", Value: []byte("w")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	var coordinator int32
	waitFor(t, func() bool {
		ts, ok := c.nodes[0].image().Topic(metadata.TransactionStateTopic)
		if !ok || len(ts.Partitions[0].ISR) != 3 {
			return false
		}
		coordinator = ts.Partitions[0].Leader
		return true
	})
	data, other := coordinator%3+1, (coordinator+1)%3+1
	if _, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "tx", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{data}}}); err != nil {
		t.Fatal(err)
	}
	c.waitForLeaders(t, "tx")
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "tx", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := c.node(data).Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil { // answered once PrepareCommit is written
		t.Fatal(err)
	}
	state := func(seed int32) string {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.node(seed).Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		d, err := kadm.NewClient(cl).DescribeTransactions(ctx, "tid")
		if err != nil {
			return err.Error()
		}
		return d["tid"].State
	}
	if st := state(other); st != "PrepareCommit" {
		t.Fatalf("with the partition's leader down: %s, want PrepareCommit", st)
	}
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.node(other).Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	id := "tid"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 60000
	if r, err := ip.RequestWith(ctx, raw); err != nil || r.ErrorCode != kerr.ConcurrentTransactions.Code {
		t.Fatalf("InitProducerId while the markers are pending: %v %v", err, r)
	}

	if err := c.node(coordinator).Shutdown(ctx); err != nil { // controlled: other leads __transaction_state
		t.Fatal(err)
	}
	waitFor(t, func() bool { return state(other) == "PrepareCommit" })
	back, err := Start(clusterOptions(c.voters, nil, data, c.dirs[data-1]))
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[data-1] = back
	waitFor(t, func() bool { return state(other) == "CompleteCommit" })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.node(other).Addr().String(), back.Addr().String()), kgo.ConsumeTopics("tx"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	consumeEach(ctx, t, cl, 1)
}
