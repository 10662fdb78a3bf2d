package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// BenchmarkTxnProduce measures transactional produce with franz-go against the in-process
// broker (durable default: every ack and every transaction state change fsynced): per
// operation, one transaction of n records (begin, produce, commit, the commit returning
// once PrepareCommit is written; the markers follow), against the same n records produced
// idempotently and acknowledged. transactional is transactions v2 (the broker advertises
// transaction.version 2: Produce v12 adds the partition, EndTxn v5 bumps the epoch),
// transactional-v1 the same client kept on v1 (EndTxn capped at v4: AddPartitionsToTxn
// before the first produce). ns/op is the latency of one transaction (or batch), and
// records/s the throughput of one producer waiting for each.
func BenchmarkTxnProduce(b *testing.B) {
	s, _ := startTxnBroker(b, "")
	addr := s.Addr().String()
	txnTopic(b, addr, "t", 1)
	val := make([]byte, 100)
	for _, n := range []int{1, 10, 100} {
		for _, mode := range []string{"idempotent", "transactional", "transactional-v1"} {
			b.Run(fmt.Sprintf("%s/records=%d", mode, n), func(b *testing.B) {
				opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"), kgo.ProducerLinger(0)}
				txn := mode != "idempotent"
				if txn {
					opts = append(opts, kgo.TransactionalID(fmt.Sprintf("bench-%s-%d-%d", mode, n, b.N)), kgo.TransactionTimeout(time.Minute))
				}
				if mode == "transactional-v1" {
					v1 := kversion.Stable()
					v1.SetMaxKeyVersion(26, 4) // EndTxn v4: kgo stays on transactions v1
					opts = append(opts, kgo.MaxVersions(v1))
				}
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				ctx := context.Background()
				recs := make([]*kgo.Record, n)
				b.SetBytes(int64(n * len(val)))
				b.ResetTimer()
				for range b.N {
					for i := range recs {
						recs[i] = &kgo.Record{Value: val}
					}
					if txn {
						if err := cl.BeginTransaction(); err != nil {
							b.Fatal(err)
						}
					}
					if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
						b.Fatal(err)
					}
					if txn {
						if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
