package raft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/metadata"
)

// TestRaftFollowerRestarts: a follower stopped and started again on its files (and
// port), over and over while the leader commits without pause, catches up every time:
// a command through it returns with its result in its image. This is the path on which
// hashicorp/raft's AppendEntries pipelining can deadlock (see Network.Transport): the
// leader stops replicating to the follower, and cannot shut down, while its heartbeats
// go on. That deadlock is a rare race this test does not reliably hit (it passed 105
// runs with pipelining on); TestRaftNetworkNoPipeline pins the setting that avoids it.
func TestRaftFollowerRestarts(t *testing.T) {
	c := newTCPCluster(t, 3, metadata.Rules{})
	c.startAll()
	registerAll(t, c)
	l := c.leader()
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { // keeps the leader appending: a new entry for every follower, always
		for ctx.Err() == nil {
			_, err := l.AllocateProducerIDs(ctx, metadata.AllocateProducerIDs{Broker: l.node})
			if err != nil && ctx.Err() == nil && !errors.Is(err, metadata.ErrNotController) {
				t.Errorf("allocate producer ids on the leader: %v", err)
				return
			}
		}
	})
	defer wg.Wait()
	defer stop()
	for i := range 10 {
		f := l.node%3 + 1
		c.stop(f)
		mustCreate(t, l, fmt.Sprintf("while-down-%d", i), 1)
		st := c.start(f)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := st.CreateTopic(ctx, metadata.CreateTopic{Name: fmt.Sprintf("after-restart-%d", i), Partitions: 1, ReplicationFactor: -1})
		cancel()
		if err != nil {
			t.Fatalf("restart %d: a command through the restarted node %d: %v", i, f, err)
		}
	}
	stop()
	wg.Wait()
	if im := c.converged(); len(im.Topics()) != 20 {
		t.Fatalf("%d topics, want 20", len(im.Topics()))
	}
}
