package raft

import (
	"testing"
	"time"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/storetest"
)

// TestRaftStoreConformance runs the metadata.Store conformance suite over the Raft store
// of an in-process 3-node cluster: on the controller itself, and on a follower that
// forwards every command (and must see its result in its own image when it returns),
// with the nodes in memory and on TCP listeners on loopback (Network).
// A restart in the suite stops and starts the node under test; the others keep running.
func TestRaftStoreConformance(t *testing.T) {
	for _, tc := range []struct {
		name       string
		controller int32
		newCluster func(testing.TB, int, metadata.Rules) *testCluster
	}{{"Controller", 1, newTestCluster}, {"Follower", 2, newTestCluster}, {"FollowerTCP", 2, newTCPCluster}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // three clusters of their own; most of their time is Raft's timers
			storetest.RunController(t, 1, tc.controller, func(t *testing.T) storetest.Opener {
				var c *testCluster
				return func(t *testing.T, rules metadata.Rules) metadata.Store {
					if c == nil {
						c = tc.newCluster(t, 3, rules)
						// The suite counts deltas: no fencing of a broker whose heartbeats a
						// loaded machine delays (TestRaftFencing tests fencing).
						c.opts = func(o *Options) { o.HeartbeatInterval, o.SessionTimeout = time.Second, time.Minute }
						c.startAll()
						c.lead(tc.controller)
						return c.store(1)
					}
					c.stop(1) // the suite closed it: forget it
					st := c.start(1)
					c.leader()
					return st
				}
			})
		})
	}
}
