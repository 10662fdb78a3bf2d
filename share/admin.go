package share

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/stratalog/strata/coord"
)

// What the admin APIs of share groups read and change: DescribeShareGroupOffsets
// (Summary), AlterShareGroupOffsets (Store.Reset after Manager.Forget),
// DeleteShareGroupOffsets (Store.Delete after Manager.Forget), and the empty group an
// alteration creates (Groups.CreateEmpty).

// Summary is a share-partition's state as the admin APIs report it.
type Summary struct {
	Start    int64 // the share-partition start offset (SPSO)
	End      int64 // the first offset never acquired
	InFlight int   // records acquired now, or whose acknowledgement is not stored yet
	// Done counts the Acknowledged and Archived records of the window (above Start):
	// Kafka's delivery complete count, which the lag leaves out.
	Done     int
	Archived int // the Archived records of the window
}

// Summary summarises the state.
func (s *PartitionState) Summary() Summary {
	sum := Summary{Start: s.start, End: s.End(), InFlight: s.InFlight()}
	for i := range s.recs {
		if s.recs[i].pend != settled {
			continue // in flight until stored
		}
		switch s.recs[i].state {
		case Archived:
			sum.Archived++
			sum.Done++
		case Acknowledged:
			sum.Done++
		}
	}
	return sum
}

// Summary summarises k's state: the live one when the manager holds k, the stored one
// otherwise; ok is false when there is neither (the group never read the partition, or
// its offsets were deleted).
func (m *Manager) Summary(k Key) (sum Summary, ok bool, err error) {
	if sum, ok := m.LiveSummary(k); ok {
		return sum, true, nil
	}
	st, ok, err := m.opts.Store.ReadAt(k, -1)
	if err != nil || !ok {
		return Summary{}, false, err
	}
	return st.Summary(), true, nil
}

// LiveSummary summarises k's live state; ok is false when the manager does not hold k.
func (m *Manager) LiveSummary(k Key) (sum Summary, ok bool) {
	m.mu.Lock()
	p := m.mu.parts[k]
	m.mu.Unlock()
	if p == nil {
		return Summary{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Summary(), true
}

// Summary summarises a stored state (nothing in flight: acquisitions are not stored);
// an initialized state no leader has written yet has start and end Uninitialized.
func (st Stored) Summary() Summary {
	if st.Start == Uninitialized {
		return Summary{Start: Uninitialized, End: Uninitialized}
	}
	var ps PartitionState
	ps.ApplySnapshot(st.Start, st.Batches)
	return ps.Summary()
}

// GroupKeys returns the share-partitions of group the manager holds, sorted.
func (m *Manager) GroupKeys(group string) []Key {
	m.mu.Lock()
	var out []Key
	for k := range m.mu.parts {
		if k.Group == group {
			out = append(out, k)
		}
	}
	m.mu.Unlock()
	SortKeys(out)
	return out
}

// SortKeys sorts keys by topic id and partition (the group being the same).
func SortKeys(ks []Key) {
	slices.SortFunc(ks, func(a, b Key) int {
		if c := bytes.Compare(a.TopicID[:], b.TopicID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
}

// Reset replaces the stored states of the share-partitions of starts with fresh ones
// starting at the given offsets, nothing in flight (AlterShareGroupOffsets; Kafka's
// InitializeShareGroupState): each is stored as a ShareSnapshot of the next state epoch
// (at least 1; the writers of the former state are fenced, ErrFencedStateEpoch),
// those of one partition of __share_group_state in one batch. A manager holding one of
// them must forget it (Manager.Forget) so it loads the new state. Errors: a negative
// start is ErrInvalidRequest; otherwise the runtime's.
//
// A start of Uninitialized initializes (Kafka's group coordinator initializing a
// share-partition it assigns for the first time, InitializeShareGroupState with start
// offset -1): a state with that start (the partition leader chooses it from
// share.auto.offset.reset at its first read) is stored unless one is, which is kept.
func (s *Store) Reset(starts map[Key]int64) error {
	byPart := make(map[int32]map[Key]int64)
	for k, o := range starts {
		if o < Uninitialized {
			return fmt.Errorf("%w: start offset %d", ErrInvalidRequest, o)
		}
		p := s.PartitionFor(k)
		if byPart[p] == nil {
			byPart[p] = make(map[Key]int64)
		}
		byPart[p][k] = o
	}
	var first error
	for p, ks := range byPart {
		sh, err := s.rt.Shard(p)
		if err == nil {
			err = sh.reset(ks)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Initialize initializes keys (Reset at Uninitialized): those without a stored state get
// one whose start the partition leader chooses.
func (s *Store) Initialize(keys []Key) error { return s.Reset(UninitializedStarts(keys)) }

// UninitializedStarts maps keys to Uninitialized: their Reset initializes them.
func UninitializedStarts(keys []Key) map[Key]int64 {
	m := make(map[Key]int64, len(keys))
	for _, k := range keys {
		m[k] = Uninitialized
	}
	return m
}

func (sh *storeShard) reset(starts map[Key]int64) error {
	sh.writeMu.Lock()
	defer sh.writeMu.Unlock()
	now := sh.part.Now().UnixMilli()
	next := make(map[Key]*storedState, len(starts))
	recs := make([]coord.Record, 0, len(starts))
	sh.mu.Lock()
	for k, o := range starts {
		old := sh.mu.states[k]
		if o == Uninitialized && old != nil {
			continue
		}
		// A reset's state epoch is at least 1: a writer that read the initialized state (at
		// 0) is fenced.
		e := &storedState{state: &PartitionState{start: max(o, 0)}, stateEpoch: sh.nextStateEpochLocked(k), created: now,
			uninitialized: o == Uninitialized}
		if o != Uninitialized {
			e.stateEpoch = max(1, e.stateEpoch)
		}
		if old != nil {
			e.snapshotEpoch, e.stateEpoch, e.leaderEpoch = old.snapshotEpoch+1, old.stateEpoch+1, old.leaderEpoch
		}
		next[k] = e
		v := snapshotValue{SnapshotEpoch: e.snapshotEpoch, StateEpoch: e.stateEpoch, LeaderEpoch: e.leaderEpoch,
			StartOffset: o, CreateTimestamp: now, WriteTimestamp: now}
		if o == Uninitialized {
			v.DeliveryCompleteCount = -1 // Kafka's UNINITIALIZED_DELIVERY_COMPLETE_COUNT
		}
		recs = append(recs, coord.Record{Key: appendKey(nil, snapshotType, k), Value: v.appendTo(nil)})
	}
	sh.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := sh.part.Write(recs); err != nil {
		return err
	}
	sh.mu.Lock()
	for k, e := range next {
		sh.mu.states[k] = e
		delete(sh.mu.deleted, k)
	}
	sh.mu.Unlock()
	return nil
}

// Groups returns the groups with a stored share-partition state in the partitions this
// broker leads, sorted (the share groups that exist after a restart, before their
// members join again). Errors: the runtime's.
func (s *Store) Groups() ([]string, error) {
	shards, err := s.rt.Shards()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, sh := range shards {
		sh.mu.Lock()
		for k := range sh.mu.states {
			seen[k.Group] = true
		}
		sh.mu.Unlock()
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// CreateEmpty makes group an empty share group unless it exists (AlterShareGroupOffsets
// creates the group it alters, as Kafka's; a single node recreates the groups with stored
// states at start, Store.Groups), stored when membership is: ErrNonEmptyGroup when it has
// members; with stored membership also coord's errors.
func (g *Groups) CreateEmpty(group string) error {
	g.mu.Lock()
	if sg := g.mu.groups[group]; sg != nil {
		n := len(sg.members)
		g.mu.Unlock()
		if n > 0 {
			return ErrNonEmptyGroup
		}
		return g.persist(sg) // written unless done
	}
	part, err := g.partLocked(group)
	if err != nil {
		g.mu.Unlock()
		return err
	}
	sg := g.newGroupLocked(group, part)
	g.mu.Unlock()
	return g.persist(sg)
}
