package raft

import (
	"fmt"
	"testing"
	"time"

	"github.com/stratalog/strata/metadata"
)

// benchCluster is a 3-node cluster on TCP on loopback, broker 1..3 registered, node 1
// the controller.
func benchCluster(b *testing.B) *testCluster {
	c := newTCPCluster(b, 3, metadata.Rules{})
	c.startAll()
	c.lead(1)
	registerAll(b, c)
	return c
}

// BenchmarkRaftCreateTopic measures topic creations (1 partition) one after another,
// through the controller and through a follower (forwarded over TCP; the follower
// answers once it applied the record itself), on 3 nodes on loopback; every creation is
// fsync'd by a quorum's bolt log before it is acknowledged.
func BenchmarkRaftCreateTopic(b *testing.B) {
	for _, via := range []struct {
		name string
		node int32
	}{{"Controller", 1}, {"Follower", 2}} {
		b.Run(via.name, func(b *testing.B) {
			c := benchCluster(b)
			st := c.store(via.node)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := st.CreateTopic(b.Context(), metadata.CreateTopic{Name: fmt.Sprint("t", i), Partitions: 1, ReplicationFactor: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// BenchmarkRaftElection measures the time from the controller's crash (its store closed
// without a hand-over, its port closed: peers' connections are refused, as after a
// kill -9) until another node is the ready controller, at the default timeouts; and
// from the controlled shutdown of the controller (ControlledShutdown) until the next
// is ready.
func BenchmarkRaftElection(b *testing.B) {
	for _, controlled := range []bool{false, true} {
		name := "Crash"
		if controlled {
			name = "ControlledShutdown"
		}
		b.Run(name, func(b *testing.B) {
			c := benchCluster(b)
			var total time.Duration
			for range b.N {
				old := c.leader()
				start := time.Now()
				if controlled {
					if err := old.ControlledShutdown(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
				c.stop(old.node)
				c.leader()
				total += time.Since(start)
				c.start(old.node)
				if err := c.store(old.node).RegisterBroker(b.Context(), metadata.Broker{ID: old.node}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/election")
		})
	}
}
