package raft

import (
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/metadata"
)

// fenced reports whether the controller's image has broker b fenced.
func (c *testCluster) fenced(b int32) bool {
	br, ok := c.leader().Image().Broker(b)
	return ok && br.Fenced
}

// TestRaftFencing: a broker that stops (crash), whose Raft connection fails (cut off),
// or whose heartbeats stop (stalled) is fenced: the partitions it led go offline (leader
// -1, epoch up, the ISR keeps it) and new partitions go to the live brokers only; when it
// registers or heartbeats again it is unfenced and leads them again.
func TestRaftFencing(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	tp := mustCreate(t, c.store(1), "t", 3)
	led := func(b int32) int32 { // the index of t's partition led by b
		return int32(slices.IndexFunc(tp.Partitions, func(p metadata.PartitionState) bool { return p.Leader == b }))
	}
	state := func(i int32) metadata.PartitionState {
		cur, _ := c.leader().Image().Topic("t")
		return cur.Partitions[i]
	}
	checkFenced := func(t *testing.T, b int32, what string, since time.Time, epoch int32) {
		t.Helper()
		waitFor(t, "broker to be fenced: "+what, func() bool { return c.fenced(b) })
		t.Logf("%s: broker %d fenced after %v", what, b, time.Since(since))
		if p := state(led(b)); p.Leader != metadata.NoLeader || p.LeaderEpoch != epoch || !slices.Equal(p.ISR, []int32{b}) {
			t.Fatalf("%s: partition of fenced broker %d: %+v", what, b, p)
		}
		u := mustCreate(t, c.leader(), "u-"+what, 4)
		for _, p := range u.Partitions {
			if p.Leader == b {
				t.Fatalf("%s: a new partition placed on fenced broker %d", what, b)
			}
		}
	}
	checkBack := func(t *testing.T, b int32, what string, epoch int32) {
		t.Helper()
		waitFor(t, "broker to be unfenced: "+what, func() bool { return !c.fenced(b) })
		if p := state(led(b)); p.Leader != b || p.LeaderEpoch != epoch {
			t.Fatalf("%s: partition of unfenced broker %d: %+v", what, b, p)
		}
	}

	t.Run("Crash", func(t *testing.T) {
		now := time.Now()
		c.stop(3)
		checkFenced(t, 3, "crash", now, 1)
		st := c.start(3)
		if err := st.RegisterBroker(t.Context(), metadata.Broker{ID: 3}); err != nil {
			t.Fatal(err)
		}
		checkBack(t, 3, "crash", 2)
	})
	t.Run("CutOff", func(t *testing.T) {
		now := time.Now()
		c.isolate(2, true, false)
		checkFenced(t, 2, "cut-off", now, 1)
		c.isolate(2, true, true)
		checkBack(t, 2, "cut-off", 2)
	})
	t.Run("Stalled", func(t *testing.T) {
		// Raft still reaches it; its heartbeats do not reach the controller.
		now := time.Now()
		c.isolate(3, false, false)
		checkFenced(t, 3, "stalled", now, 3)
		if d := time.Since(now); d < DefaultSessionTimeout-DefaultHeartbeatInterval {
			t.Fatalf("fenced after %v, before the session timeout (from the last heartbeat)", d)
		}
		c.isolate(3, false, true)
		checkBack(t, 3, "stalled", 4)
	})
}
