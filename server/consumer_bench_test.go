package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

// BenchmarkGroupSettle: how long a 50-member group takes to settle after one more member
// joins, classic protocol (franz-go's cooperative-sticky, client-side: every member
// rejoins, twice) against the consumer protocol (KIP-848, kgo.ServerSideBalancer: the
// broker assigns, only the members that give up a partition take part). Settled: every
// member owns a partition of the topic's 100, each exactly once, and the group is
// Stable. Both heartbeat every 500 ms; the state is polled every 5 ms. Each iteration
// adds one member (the group grows from 51).
//
//	go test -run '^$' -bench BenchmarkGroupSettle -benchtime 5x ./server/
func BenchmarkGroupSettle(b *testing.B) {
	for _, proto := range []string{"classic", "consumer"} {
		b.Run(proto, func(b *testing.B) {
			s := servertest.StartBroker(b, "", consumerSettings(map[string]string{
				"group.initial.rebalance.delay.ms":     "0",
				"group.consumer.heartbeat.interval.ms": "500",
			}))
			addr := s.Addr().String()
			groupTopic(b, addr, "settle", 100, 0)
			opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("settle"),
				kgo.HeartbeatInterval(500 * time.Millisecond), kgo.SessionTimeout(30 * time.Second)}
			if proto == "consumer" {
				opts = append(opts, kgo.ServerSideBalancer())
			}
			settled := func(members int) bool {
				var st string
				var a map[string][]int32
				if proto == "consumer" {
					st, a = describeConsumer(b, addr, "g")
				} else {
					st, a = describe(b, addr, "g")
				}
				seen := map[int32]bool{}
				for _, ps := range a {
					if len(ps) == 0 {
						return false
					}
					for _, p := range ps {
						if seen[p] {
							return false
						}
						seen[p] = true
					}
				}
				return st == "Stable" && len(a) == members && len(seen) == 100
			}
			start := func() {
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(cl.Close)
				go func() { // polling makes the classic member join
					for !cl.PollFetches(context.Background()).IsClientClosed() {
					}
				}()
			}
			wait := func(members int) time.Duration {
				begin := time.Now()
				for !settled(members) {
					if time.Since(begin) > 2*time.Minute {
						b.Fatalf("%d members did not settle", members)
					}
					time.Sleep(5 * time.Millisecond)
				}
				return time.Since(begin)
			}
			join := func(members int) time.Duration {
				begin := time.Now()
				start()
				wait(members)
				return time.Since(begin)
			}
			for range 50 {
				start()
			}
			wait(50)
			b.ResetTimer()
			var total time.Duration
			for i := range b.N {
				total += join(51 + i)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/settle")
		})
	}
}
