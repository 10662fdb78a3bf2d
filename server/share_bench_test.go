package server_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// BenchmarkShareVsConsumerGroup drains b.N records with 8 franz-go consumers, each
// record processed once: a share group (every record accepted one by one, Record.Ack)
// and a consumer group (classic, cooperative-sticky, autocommit), on a topic of 1 and of
// 8 partitions. An op is one record; records/s includes the members joining (with one
// partition, a consumer group has one busy member, a share group eight). Run with a
// fixed count, as in docs/benchmarks.md:
//
//	go test -run '^$' -bench BenchmarkShareVsConsumerGroup -benchtime 20000x ./server/
func BenchmarkShareVsConsumerGroup(b *testing.B) {
	const members = 8
	for _, kind := range []string{"share", "consumer"} {
		for _, partitions := range []int32{1, 8} {
			b.Run(kind+"/partitions="+strconv.Itoa(int(partitions)), func(b *testing.B) {
				settings := shareSettings()
				settings["group.initial.rebalance.delay.ms"] = "0"
				s := servertest.Start(b, &server.Options{Listen: "127.0.0.1:0", DataDir: b.TempDir(), Settings: settings, ShareConfigs: shareConfig(30 * time.Second)})
				addr := s.Addr().String()
				groupTopic(b, addr, "q", partitions, b.N)
				var got atomic.Int64
				done := make(chan struct{})
				var once sync.Once
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics("q"), kgo.FetchMaxWait(100 * time.Millisecond)}
				if kind == "share" {
					opts = append(opts, kgo.ShareGroup("g"))
				} else {
					opts = append(opts, kgo.ConsumerGroup("g"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				}
				b.ResetTimer()
				var wg sync.WaitGroup
				for range members {
					cl, err := kgo.NewClient(opts...)
					if err != nil {
						b.Fatal(err)
					}
					wg.Go(func() {
						defer cl.Close()
						for ctx.Err() == nil {
							fs := cl.PollFetches(ctx)
							n := 0
							fs.EachRecord(func(r *kgo.Record) {
								if kind == "share" {
									r.Ack(kgo.AckAccept)
								}
								n++
							})
							if n > 0 && got.Add(int64(n)) >= int64(b.N) {
								once.Do(func() { close(done) })
							}
						}
					})
				}
				select {
				case <-done:
				case <-time.After(5 * time.Minute):
					b.Fatalf("%d of %d records consumed", got.Load(), b.N)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				cancel()
				wg.Wait()
			})
		}
	}
}
