package replica

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// leaderState is what the leader of a partition on a cluster node (Options.Transport
// set) knows of its followers, as Kafka's Partition keeps its remote replicas: each one's
// durable offset (what it has on disk, as its last fetch reported: DurableOffset) and
// when it was last caught up. From it the leader sets the high watermark — the smallest
// durable offset over the ISR, its own durable end included (the partition caps the HW
// there, policy HWExternal) — and decides the ISR changes it asks the controller for
// (AlterPartition): a follower joins when its durable offset reaches the HW, and leaves
// when it has not been caught up with the leader's log end (durably) for LagTimeMax.
//
// Concurrency: mu guards the state; the partition's high watermark target is set under
// it (so that targets arrive in order), nothing else of the partition.
type leaderState struct {
	p          *partition.Partition
	id         metadata.TopicID
	index      int32
	epochStart int64 // the log end offset when the leadership began

	mu struct {
		sync.Mutex
		st        metadata.PartitionState // as of the image
		followers map[int32]*followerState
		pending   bool // an AlterPartition is in flight
	}
}

// followerState is one follower replica as its leader sees it.
type followerState struct {
	offset       int64     // its durable offset at its last fetch; -1: none since this leader's epoch began
	lastCaughtUp time.Time // the latest time as of which it has (durably) every record the leader then had
	// recent: the leader's log end offset at its last fetches (at most recentFetches,
	// oldest first).
	recent []fetchMark
}

// fetchMark is the leader's log end offset at a follower's fetch.
type fetchMark struct {
	at  time.Time
	end int64
}

// recentFetches is how many of a follower's fetches the leader remembers to decide when it
// was last caught up. Kafka looks one fetch back (the follower's fetch offset reaches the
// leader's end at its previous fetch); a follower that fetches while it fsyncs reports
// as durable what it fetched one or two fetches before, so one fetch back would not see
// a follower keeping up under steady load as caught up, and it would leave the ISR.
const recentFetches = 4

func newLeaderState(p *partition.Partition, id metadata.TopicID, index int32, st metadata.PartitionState, now time.Time) *leaderState {
	ls := &leaderState{p: p, id: id, index: index, epochStart: p.EndOffset()}
	ls.mu.followers = map[int32]*followerState{}
	ls.update(st, now)
	return ls
}

// update takes the partition's state from a new image (same leader epoch): new
// replicas get a follower state with a full lag window, as every follower has when the
// leadership begins (Kafka resets lastCaughtUpTime on makeLeader).
func (ls *leaderState) update(st metadata.PartitionState, now time.Time) {
	ls.mu.Lock()
	ls.mu.st = st
	for _, b := range st.Replicas {
		if _, ok := ls.mu.followers[b]; !ok && b != st.Leader {
			ls.mu.followers[b] = &followerState{offset: -1, lastCaughtUp: now}
		}
	}
	for b := range ls.mu.followers {
		if !slices.Contains(st.Replicas, b) {
			delete(ls.mu.followers, b)
		}
	}
	ls.p.SetHighWatermark(ls.targetLocked()) // under mu: targets are set in order
	ls.mu.Unlock()
}

// fetched records a fetch of follower at fetchOffset reporting offset durable (at most
// fetchOffset) and moves the high watermark; it reports whether the follower should join
// the ISR (it is out of it and has reached the HW durably).
func (ls *leaderState) fetched(follower int32, fetchOffset, offset int64, now time.Time) (join bool) {
	end := ls.p.EndOffset()
	ls.mu.Lock()
	f, ok := ls.mu.followers[follower]
	if !ok || fetchOffset > end { // past the log end: the fetch is OFFSET_OUT_OF_RANGE, not a position
		ls.mu.Unlock()
		return false
	}
	// Kafka's Replica.updateFetchState, over the last recentFetches fetches: caught up at
	// this fetch, or at the latest earlier one whose leader's end this one reaches.
	if offset >= end {
		f.lastCaughtUp = now
	} else {
		for i := len(f.recent) - 1; i >= 0; i-- {
			if m := f.recent[i]; offset >= m.end {
				if m.at.After(f.lastCaughtUp) {
					f.lastCaughtUp = m.at
				}
				break
			}
		}
	}
	if len(f.recent) == recentFetches {
		f.recent = append(f.recent[:0], f.recent[1:]...)
	}
	f.recent = append(f.recent, fetchMark{at: now, end: end})
	f.offset = offset
	ls.p.SetHighWatermark(ls.targetLocked())
	join = !slices.Contains(ls.mu.st.ISR, follower) && !ls.mu.pending
	ls.mu.Unlock()
	return join && offset >= max(ls.p.HighWatermark(), ls.epochStart)
}

// targetLocked is the high watermark the ISR allows: the smallest durable offset of its
// followers (none while one has not fetched in this epoch), no bound for the leader
// alone. ls.mu is held.
func (ls *leaderState) targetLocked() int64 {
	target := int64(math.MaxInt64)
	for _, b := range ls.mu.st.ISR {
		if f, ok := ls.mu.followers[b]; ok {
			target = min(target, f.offset)
		}
	}
	return target
}

// proposal returns the AlterPartition the leader should send now, if any: followers out
// of the ISR that have reached the high watermark join; members that have not been
// caught up for lagMax leave. It marks the command pending (done clears it).
func (ls *leaderState) proposal(node int32, lagMax time.Duration, now time.Time) (metadata.AlterPartition, bool) {
	hw, end := ls.p.HighWatermark(), ls.p.EndOffset()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	st := ls.mu.st
	if ls.mu.pending || st.Leader != node {
		return metadata.AlterPartition{}, false
	}
	isr := []int32{node}
	for _, b := range st.Replicas {
		f, ok := ls.mu.followers[b]
		if !ok {
			continue
		}
		in := slices.Contains(st.ISR, b)
		switch {
		case in && (f.offset >= end || now.Sub(f.lastCaughtUp) <= lagMax):
			isr = append(isr, b)
		case !in && f.offset >= max(hw, ls.epochStart, 0): // Kafka's isFollowerInSync
			isr = append(isr, b)
		}
	}
	if len(isr) == len(st.ISR) && !slices.ContainsFunc(isr, func(b int32) bool { return !slices.Contains(st.ISR, b) }) {
		return metadata.AlterPartition{}, false
	}
	ls.mu.pending = true
	return metadata.AlterPartition{Topic: ls.id, Partition: ls.index, Broker: node,
		LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch, ISR: isr}, true
}

func (ls *leaderState) done() {
	ls.mu.Lock()
	ls.mu.pending = false
	ls.mu.Unlock()
}

// isrLoop asks the controller for the ISR changes of the partitions this broker leads:
// every LagTimeMax/2 (Kafka's isr-expiration task) and when a follower fetch finds one
// that should join. It runs on a cluster node only, until stop is closed.
func (m *Manager) isrLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	lagMax := m.opts.Fetch.LagTimeMax
	ticker := time.NewTicker(lagMax / 2)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		case <-m.isrWake:
		}
		for _, ls := range m.hosted.Load().leaderStates() {
			cmd, ok := ls.proposal(m.node, lagMax, time.Now())
			if !ok {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			go func() { // Close cancels a command that waits for a lost controller
				select {
				case <-stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			_, err := m.store.AlterPartition(ctx, cmd)
			cancel()
			ls.done()
			if err != nil {
				m.log.Warn("changing the ISR failed", "topic.id", cmd.Topic, "partition", cmd.Partition, "isr", cmd.ISR, "err", err)
			} else {
				m.log.Info("changed the ISR", "topic.id", cmd.Topic, "partition", cmd.Partition, "isr", cmd.ISR)
			}
		}
	}
}

// FollowerFetch records a follower's fetch of partition index of the topic with id at
// fetchOffset, reporting durable (what the follower has on disk: DurableOffset), which
// moves the high watermark and may let the follower join the ISR. It reports false when
// follower holds no replica of the partition (the leader refuses its fetch).
func (m *Manager) FollowerFetch(id metadata.TopicID, index, follower int32, fetchOffset, durable int64) bool {
	ht, ok := m.hosted.Load().byID[id]
	if !ok {
		return false
	}
	st, ok := ht.topic.Partition(index)
	if !ok || !st.HasReplica(follower) || follower == m.node {
		return false
	}
	if r := ht.parts[index]; r != nil && r.lead != nil && r.lead.fetched(follower, fetchOffset, durable, time.Now()) {
		select {
		case m.isrWake <- struct{}{}:
		default:
		}
	}
	return true
}

// leaderStates lists the leader states of the partitions this broker leads.
func (hs *hostedSet) leaderStates() []*leaderState {
	var out []*leaderState
	for _, ht := range hs.byName {
		for _, r := range ht.parts {
			if r != nil && r.lead != nil {
				out = append(out, r.lead)
			}
		}
	}
	return out
}
