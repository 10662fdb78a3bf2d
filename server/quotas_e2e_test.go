//go:build !race

package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

// TestQuotaConvergesKgo: a kgo producer held to 1 MiB/s by a client-id quota, producing
// uncompressed records as fast as it can, averages at most 30% above it over 8 s, while a producer with
// another client id (no quota) is not held to it. Timing-dependent: not run under -race.
func TestQuotaConvergesKgo(t *testing.T) {
	const bound = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := servertest.StartBroker(t, "", map[string]string{"quota.window.num": "3", "quota.window.size.seconds": "1"})
	admCl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if res, err := adm.CreateTopic(ctx, 1, 1, nil, "quota"); err != nil || res.Err != nil {
		t.Fatalf("create: %v %v", err, res.Err)
	}
	if res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("held")}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: bound}}}}); err != nil || res[0].Err != nil {
		t.Fatalf("quota: %v %+v", err, res)
	}
	run := func(clientID string, d time.Duration) float64 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ClientID(clientID), kgo.DefaultProduceTopic("quota"),
			kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(64<<10), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(64))
		if err != nil {
			t.Error(err)
			return 0
		}
		defer cl.Close()
		var sent atomic.Int64
		value := make([]byte, 16<<10)
		start := time.Now()
		for time.Since(start) < d {
			cl.Produce(ctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
				if err == nil {
					sent.Add(int64(len(r.Value)))
				}
			})
		}
		return float64(sent.Load()) / time.Since(start).Seconds() // acknowledged by then
	}
	var held, free float64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); held = run("held", 8*time.Second) }()
	go func() { defer wg.Done(); free = run("free", 4*time.Second) }()
	wg.Wait()
	t.Logf("held: %.0f B/s (%.2f × the quota); free: %.0f B/s", held, held/bound, free)
	if held > 1.3*bound || held < 0.5*bound {
		t.Fatalf("held producer averaged %.0f B/s, want at most 30%% above %d", held, bound)
	}
	if free < 2*bound {
		t.Fatalf("the producer without a quota averaged %.0f B/s: slowed by the other's quota", free)
	}
}
