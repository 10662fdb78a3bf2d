package group

import (
	"sort"
	"sync"
	"time"

	"github.com/stratalog/strata/coord"
)

// shard is the coordinator's state for one partition of __consumer_offsets: its groups.
// It is a coord.Shard: built and replayed when the partition is loaded, dropped when it
// is unloaded. Its timers (sessions, rebalances, pending members, offsets retention) are
// set through part, so they stop with it.
type shard struct {
	c      *Coordinator
	part   *coord.Partition
	shares coord.Shard // the share groups of the partition (Options.Shares), or nil

	mu struct {
		sync.Mutex // the group map; innermost (under group.mu at most)
		groups     map[string]*group
	}
}

func (c *Coordinator) newShard(p *coord.Partition) *shard {
	sh := &shard{c: c, part: p}
	sh.mu.groups = make(map[string]*group)
	if c.opts.Shares != nil {
		sh.shares = c.opts.Shares(p)
	}
	return sh
}

// Replay applies one record of the partition (coord.Shard).
func (sh *shard) Replay(m coord.Meta, r coord.Record) error {
	if m.Control {
		// A transaction marker (control key: version int16, type int16, 0 abort 1 commit).
		if len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] <= 1 {
			sh.completeTxn(m.ProducerID, r.Key[3] == 1)
		}
		return nil
	}
	if isShareRecord(r.Key) {
		if sh.shares == nil {
			return nil
		}
		return sh.shares.Replay(m, r)
	}
	pid := int64(-1)
	if m.Transactional {
		pid = m.ProducerID
	}
	return sh.replayRecord(r.Key, r.Value, pid)
}

// Loaded brings back the groups that had members as Stable, with fresh session timers
// (consumer group members too),
// and starts the offsets-retention checks (coord.Shard).
func (sh *shard) Loaded() {
	for _, g := range sh.groupsSnapshot() {
		g.mu.Lock()
		if len(g.members) > 0 {
			g.state = StateStable
			for _, m := range g.members {
				sh.c.resetSessionLocked(g, m)
			}
		}
		if g.consumer != nil {
			for id, m := range g.consumer.members {
				sh.c.resetConsumerSessionLocked(g, id)
				sh.c.checkRevocationLocked(g, m)
			}
		}
		g.mu.Unlock()
	}
	sh.scheduleExpiry()
	if sh.shares != nil {
		sh.shares.Loaded()
	}
}

// Unloaded forgets the groups (coord.Shard). Their timers are stopped and their blocked
// Join and Sync calls returned already (the handle's Done).
func (sh *shard) Unloaded() {
	sh.mu.Lock()
	n := len(sh.mu.groups)
	sh.mu.groups = make(map[string]*group)
	sh.mu.Unlock()
	if sh.shares != nil {
		sh.shares.Unloaded()
	}
	sh.c.logger.Info("unloaded groups", "partition", sh.part.Index(), "groups", n)
}

// lookup returns the group, or nil.
func (sh *shard) lookup(id string) *group {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.mu.groups[id]
}

// getOrCreate returns the group, creating it Empty if needed.
func (sh *shard) getOrCreate(id string) *group {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	g := sh.mu.groups[id]
	if g == nil {
		g = newGroup(id, sh, sh.c.clock.Now())
		sh.mu.groups[id] = g
	}
	return g
}

// putBack puts g back in the map if it was removed (a durable write raced its deletion).
func (sh *shard) putBack(g *group) {
	sh.mu.Lock()
	if sh.mu.groups[g.id] == nil {
		g.state = StateEmpty
		sh.mu.groups[g.id] = g
	}
	sh.mu.Unlock()
}

// removeGroupLocked marks g Dead and drops it from the map. g.mu must be held.
func (sh *shard) removeGroupLocked(g *group) {
	g.stopTimersLocked()
	g.state = StateDead
	sh.mu.Lock()
	if sh.mu.groups[g.id] == g {
		delete(sh.mu.groups, g.id)
	}
	sh.mu.Unlock()
}

// dropIfUnusedReplay removes a group that replay left with nothing.
func (sh *shard) dropIfUnusedReplay(g *group) {
	if len(g.offsets) == 0 && len(g.pendingTxn) == 0 && len(g.members) == 0 && g.protocolType == "" && g.generation == 0 &&
		g.consumer == nil {
		sh.mu.Lock()
		delete(sh.mu.groups, g.id)
		sh.mu.Unlock()
	}
}

// groupsSnapshot returns the shard's groups, sorted by ID.
func (sh *shard) groupsSnapshot() []*group {
	sh.mu.Lock()
	out := make([]*group, 0, len(sh.mu.groups))
	for _, g := range sh.mu.groups {
		out = append(out, g)
	}
	sh.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// write appends recs to the partition as one batch and waits until it is committed. Its
// error wraps ErrStorage, ErrNotCoordinator or ErrCoordinatorNotAvailable.
func (sh *shard) write(recs []coord.Record) error { return sh.part.Write(recs) }

// afterFunc runs f after d, as a timer of the shard: stopped when it is unloaded.
func (sh *shard) afterFunc(d time.Duration, f func()) coord.Timer { return sh.part.AfterFunc(d, f) }

// persistGroup writes the group's metadata record if it changed since the last write.
// It takes g.wmu, so log order equals snapshot order.
func (sh *shard) persistGroup(g *group) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if !g.dirty || g.state == StateDead || g.consumer != nil {
		g.mu.Unlock()
		return nil
	}
	g.dirty = false
	rec := coord.Record{Key: groupKey(g.id), Value: g.metadataValueLocked()}
	g.mu.Unlock()
	err := sh.write([]coord.Record{rec})
	if err != nil {
		g.mu.Lock()
		g.dirty = true
		g.mu.Unlock()
	}
	return err
}

// scheduleExpiry arms the shard's next offsets-retention check.
func (sh *shard) scheduleExpiry() {
	if sh.c.opts.RetentionCheckInterval <= 0 {
		return
	}
	sh.afterFunc(sh.c.opts.RetentionCheckInterval, func() {
		sh.expireOffsets(sh.c.clock.Now())
		sh.scheduleExpiry()
	})
}
