package replica

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// t0 and lag are the leader-state tests' start time and replica.lag.time.max.ms.
var t0 = time.Unix(1000, 0)

const lag = 10 * time.Second

// openLeaderState opens a partition led by broker 1 (HW from its followers) and its
// leader state for st, as of t0.
func openLeaderState(t *testing.T, st metadata.PartitionState) (*partition.Partition, *leaderState) {
	t.Helper()
	l := openTestPartition(t, "a", 0)
	if err := l.MakeLeader(1); err != nil {
		t.Fatal(err)
	}
	l.SetHWPolicy(partition.HWExternal)
	return l, newLeaderState(l, idA, 0, st, t0)
}

// appendFlushed appends n one-record batches to p and waits until they are on disk (not
// for the high watermark).
func appendFlushed(t *testing.T, p *partition.Partition, n int) {
	t.Helper()
	for i := range n {
		res, err := p.Append(testutil.Batch(testutil.BatchOptions{Seed: byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		p.WhenFlushed(res.LastOffset+1, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestISRLeaderState: the leader's view of its followers: the high watermark is the
// smallest durable offset (DurableOffset, not the fetch offset) over the ISR (none before
// every member fetched in this epoch); a follower out of the ISR joins once its durable
// offset reaches the HW; a member leaves
// after LagTimeMax without being caught up with the leader's log end, not before, and a
// member at the log end never leaves; one command at a time.
func TestISRLeaderState(t *testing.T) {
	st := metadata.PartitionState{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 1, PartitionEpoch: 3}
	l, ls := openLeaderState(t, st)
	appendFlushed(t, l, 10)
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("member 2 has not fetched: HW %d, want 0", hw)
	}
	propose := func(now time.Time) []int32 {
		t.Helper()
		cmd, ok := ls.proposal(1, lag, now)
		if !ok {
			return nil
		}
		if cmd.LeaderEpoch != 1 || cmd.PartitionEpoch != ls.mu.st.PartitionEpoch || cmd.Broker != 1 || cmd.Topic != idA {
			t.Fatalf("command %+v", cmd)
		}
		ls.done()
		return cmd.ISR
	}

	if join := ls.fetched(2, 11, 11, t0); join || l.HighWatermark() != 0 {
		t.Fatalf("member 2 past the log end: join %v, HW %d; want it ignored", join, l.HighWatermark())
	}
	if join := ls.fetched(2, 9, 4, t0); join || l.HighWatermark() != 4 {
		t.Fatalf("member 2 at 9, durable to 4: join %v, HW %d, want 4", join, l.HighWatermark())
	}
	if join := ls.fetched(3, 2, 2, t0); join || propose(t0) != nil {
		t.Fatal("3 below the HW: no change wanted")
	}
	if join := ls.fetched(3, 10, 3, t0); join || propose(t0) != nil {
		t.Fatal("3 at 10 but durable to 3, below the HW 4: no change wanted")
	}
	if join := ls.fetched(3, 6, 6, t0); !join {
		t.Fatal("3 at 6, above the HW 4: join wanted")
	}
	cmd, ok := ls.proposal(1, lag, t0)
	if !ok || !slices.Equal(cmd.ISR, []int32{1, 2, 3}) {
		t.Fatalf("proposal %+v, %v; want ISR [1 2 3]", cmd, ok)
	}
	if _, ok := ls.proposal(1, lag, t0); ok {
		t.Fatal("a second command while one is pending")
	}
	ls.done()
	st.ISR, st.PartitionEpoch = []int32{1, 2, 3}, 4
	ls.update(st, t0)
	if join := ls.fetched(2, 10, 10, t0.Add(time.Second)); join || l.HighWatermark() != 6 {
		t.Fatalf("2 at the log end, 3 at 6: HW %d, want 6", l.HighWatermark())
	}
	if got := propose(t0.Add(lag - time.Second)); got != nil {
		t.Fatalf("3 behind for less than the lag: proposal %v", got)
	}
	if got := propose(t0.Add(lag + time.Second)); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("3 behind for more than the lag: proposal %v, want [1 2]", got)
	}
	st.ISR, st.PartitionEpoch = []int32{1, 2}, 5
	ls.update(st, t0)
	if got := propose(t0.Add(time.Hour)); got != nil {
		t.Fatalf("2 at the log end: proposal %v, want none", got)
	}
	if l.HighWatermark() != 10 {
		t.Fatalf("ISR [1 2] with 2 at 10: HW %d, want 10", l.HighWatermark())
	}
}

// TestISRCheckInSync: CheckInSync compares a partition's ISR with its topic's
// min.insync.replicas (an override, else the broker's setting), before and after the
// append.
func TestISRCheckInSync(t *testing.T) {
	n := openTestManager(t, vfs.NewMem(), map[string]string{"min.insync.replicas": "2"})
	defer closeManager(t, n)
	one := "1"
	if _, err := n.CreateTopic("strict", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateTopic("loose", 1, map[string]*string{"min.insync.replicas": &one}, false); err != nil {
		t.Fatal(err)
	}
	if err := n.CheckInSync("strict", 0, false); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("before the append: %v, want ErrNotEnoughReplicas", err)
	}
	if err := n.CheckInSync("strict", 0, true); !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("after the append: %v, want ErrNotEnoughReplicasAfterAppend", err)
	}
	if err := n.CheckInSync("loose", 0, false); err != nil {
		t.Fatalf("min.insync.replicas=1: %v", err)
	}
	if err := n.AlterTopicConfig("loose", []config.Alter{{Name: "min.insync.replicas", Op: config.OpSet, Value: "3"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := n.CheckInSync("loose", 0, false); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("after raising min.insync.replicas: %v", err)
	}
}

// TestISRPipelinedFollowerCaughtUp: under steady appends a follower that fetches while it
// fsyncs reports durable what the leader had two fetches before; it is caught up and
// stays in the ISR past the lag time. A follower whose durable offset stops (its disk
// stalls) while it goes on fetching leaves after the lag time.
func TestISRPipelinedFollowerCaughtUp(t *testing.T) {
	st := metadata.PartitionState{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 1, PartitionEpoch: 3}
	l, ls := openLeaderState(t, st)
	var ends []int64 // the leader's end at each fetch
	now := t0
	for range 30 { // a fetch per second, a new record between fetches
		appendFlushed(t, l, 1)
		end := l.EndOffset()
		durable2 := int64(0) // follower 2: durable what the leader had two fetches before
		if len(ends) >= 2 {
			durable2 = ends[len(ends)-2]
		}
		ls.fetched(2, end, durable2, now)
		ls.fetched(3, end, 0, now) // follower 3: fetches on, nothing durable
		ends = append(ends, end)
		now = now.Add(time.Second)
	}
	cmd, ok := ls.proposal(1, lag, now)
	if !ok || !slices.Equal(cmd.ISR, []int32{1, 2}) {
		t.Fatalf("proposal %+v, %v; want ISR [1 2]: 2 keeps up durably, 3 does not", cmd, ok)
	}
}
