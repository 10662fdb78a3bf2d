package share

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/stratalog/strata/coord"
)

// StateTopic is the internal topic of the share-partition states (Kafka's name).
const StateTopic = "__share_group_state"

// StoreOptions configures a Store.
type StoreOptions struct {
	// NumPartitions is __share_group_state's partition count
	// (share.coordinator.state.topic.num.partitions, Kafka's default 50).
	NumPartitions int32
	// SnapshotEvery: a share-partition's state is stored whole (a ShareSnapshot) after
	// this many updates (share.coordinator.snapshot.update.records.per.snapshot, Kafka's
	// default 500), so a replay reads at most that many updates after the snapshot.
	SnapshotEvery int
	// OpenLog, Compression, Logger and Clock are the coordinator runtime's (coord.Options).
	OpenLog     func(p int32) (coord.Log, error)
	Compression int
	Logger      *slog.Logger
	Clock       coord.Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (o *StoreOptions) EnsureDefaults() {
	if o.NumPartitions == 0 {
		o.NumPartitions = 50
	}
	if o.SnapshotEvery == 0 {
		o.SnapshotEvery = 500
	}
}

// Stored is the stored state of a share-partition: its start offset and the state batches
// of its window (acquisitions are never stored), and its state epoch, which a reset
// (Store.Reset) raises. Start is Uninitialized for a state the group coordinator
// initialized (Store.Initialize) that no partition leader has written yet. When none is
// stored, StateEpoch is the one a state initialized now would get.
type Stored struct {
	StateEpoch int32
	Start      int64
	Batches    []StateBatch
}

// Update is a change of one share-partition's state to store: the start offset (-1 when
// it did not move) and the changed state batches (PartitionState.TakeUpdate), by a
// writer that read the state at StateEpoch (Stored.StateEpoch): a write at an older state
// epoch than the stored state's fails with ErrFencedStateEpoch, one of a share-partition
// without a state (never initialized, or deleted) with ErrUninitialized, and the first
// write of an initialized state (its start Uninitialized) must carry the whole state.
type Update struct {
	Key         Key
	StateEpoch  int32
	LeaderEpoch int32
	Start       int64
	Batches     []StateBatch
}

// Store is the share coordinator of Kafka's split (its state half): it keeps the stored
// state of every share-partition whose key hashes to a partition of __share_group_state
// this broker leads, writes changes to that partition (ShareUpdate records, a
// ShareSnapshot every SnapshotEvery updates) and rebuilds the states by replay when it
// loads a partition.
//
// Concurrency: every method is safe for concurrent use. Writes to one partition of the
// topic are serialised: the records of a Write land in the order of the calls, each call
// one batch of the log.
type Store struct {
	rt   *coord.Runtime[*storeShard]
	opts StoreOptions
}

// NewStore returns a Store hosting no partition: the server loads and unloads them as
// this broker gains and loses their leadership (Load, Unload).
func NewStore(opts *StoreOptions) (*Store, error) {
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if o.SnapshotEvery < 1 {
		return nil, fmt.Errorf("share: %d updates per snapshot", o.SnapshotEvery)
	}
	s := &Store{opts: o}
	rt, err := coord.New(&coord.Options{
		Topic:         StateTopic,
		NumPartitions: o.NumPartitions,
		OpenLog:       o.OpenLog,
		Compression:   o.Compression,
		Logger:        o.Logger,
		Clock:         o.Clock,
	}, s.newShard)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	return s, nil
}

// NumPartitions is __share_group_state's partition count.
func (s *Store) NumPartitions() int32 { return s.rt.NumPartitions() }

// Load makes this broker the share coordinator of partition p of __share_group_state, at
// leader epoch epoch, replaying it (coord.Runtime.Load).
func (s *Store) Load(p, epoch int32) error { return s.rt.Load(p, epoch) }

// Unload stops coordinating partition p (coord.Runtime.Unload).
func (s *Store) Unload(p, epoch int32) { s.rt.Unload(p, epoch) }

// Close unloads every partition; it is idempotent.
func (s *Store) Close() error { return s.rt.Close() }

// CoordinatorKey is the key Kafka hashes to find a share-partition's coordinator (and
// FindCoordinator's key for key type share): "group:topicId:partition", the topic id in
// Kafka's text form (URL-safe base64, no padding).
func (k Key) CoordinatorKey() string {
	return k.Group + ":" + base64.RawURLEncoding.EncodeToString(k.TopicID[:]) + ":" + strconv.Itoa(int(k.Partition))
}

// PartitionFor is the partition of __share_group_state holding k's state.
func (s *Store) PartitionFor(k Key) int32 { return s.rt.PartitionFor(k.CoordinatorKey()) }

// Read returns the stored state of k; ok is false when none is stored. Errors: the
// runtime's (coord.ErrNotCoordinator, ErrLoadInProgress, ErrNotAvailable).
func (s *Store) Read(k Key) (st Stored, ok bool, err error) { return s.ReadAt(k, -1) }

// ReadAt is Read by the leader of k's topic partition at leaderEpoch, as Kafka's
// ReadShareGroupState: it waits for the writes to k's partition of the topic in progress,
// then fails with ErrFencedLeaderEpoch when k was last written or read at a newer epoch,
// or else records the epoch (a newer one is stored first, in a ShareUpdate, as Kafka's
// share coordinator does: a replay keeps it), so that from now on the writes of older
// leaders are fenced, even before this one's first write. A negative leaderEpoch reads
// without any of these. Errors: the runtime's, and the write's.
func (s *Store) ReadAt(k Key, leaderEpoch int32) (st Stored, ok bool, err error) {
	sh, err := s.rt.Shard(s.PartitionFor(k))
	if err != nil {
		return Stored{}, false, err
	}
	if leaderEpoch >= 0 {
		// After the writes in progress: one of the former leader's, committed later,
		// would be missing from what this leader reads (an accepted record delivered
		// again); the ones that start later are fenced.
		sh.writeMu.Lock()
		defer sh.writeMu.Unlock()
	}
	sh.mu.Lock()
	e := sh.mu.states[k]
	if e == nil {
		defer sh.mu.Unlock()
		return Stored{StateEpoch: sh.nextStateEpochLocked(k)}, false, nil
	}
	if leaderEpoch >= 0 && leaderEpoch < e.leaderEpoch {
		sh.mu.Unlock()
		return Stored{}, false, fmt.Errorf("%w: %v read at leader epoch %d, stored at %d", ErrFencedLeaderEpoch, k, leaderEpoch, e.leaderEpoch)
	}
	st = e.stored()
	if leaderEpoch <= e.leaderEpoch {
		sh.mu.Unlock()
		return st, true, nil
	}
	// A new leader: its epoch is stored (a ShareUpdate changing nothing else, as Kafka's
	// share coordinator writes), so a coordinator that replays the partition fences the
	// former leader too. The write lock, held, keeps other writes out meanwhile.
	v := updateValue{SnapshotEpoch: e.snapshotEpoch, LeaderEpoch: leaderEpoch, StartOffset: -1, DeliveryCompleteCount: -1}
	sh.mu.Unlock()
	if err := sh.part.Write([]coord.Record{{Key: appendKey(nil, updateType, k), Value: v.appendTo(nil)}}); err != nil {
		return Stored{}, false, err
	}
	sh.mu.Lock()
	e.leaderEpoch = max(e.leaderEpoch, leaderEpoch)
	e.updates++
	sh.mu.Unlock()
	return st, true, nil
}

// Write stores updates, those of one partition of __share_group_state as one batch (the
// partitions written concurrently), and returns once they are committed (an error
// otherwise; updates of other partitions may have been stored). The first update of a
// share-partition must carry its start. An update at a leader epoch below the one its
// share-partition was last written at fails its whole batch with ErrFencedLeaderEpoch
// (as Kafka's share coordinator fences a former leader of the topic partition).
func (s *Store) Write(updates []Update) error {
	byPart := make(map[int32][]Update)
	for _, u := range updates {
		p := s.PartitionFor(u.Key)
		byPart[p] = append(byPart[p], u)
	}
	write := func(p int32, us []Update) error {
		sh, err := s.rt.Shard(p)
		if err != nil {
			return err
		}
		return sh.write(us)
	}
	if len(byPart) == 1 {
		for p, us := range byPart {
			return write(p, us)
		}
	}
	errs := make(chan error, len(byPart))
	for p, us := range byPart {
		go func() { errs <- write(p, us) }()
	}
	var first error
	for range byPart {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Delete removes the stored states of keys (the group was deleted, or its offsets): they
// are tombstoned in the topic. Keys without a stored state are skipped (nothing written).
func (s *Store) Delete(keys []Key) error {
	byPart := make(map[int32][]Key)
	for _, k := range keys {
		p := s.PartitionFor(k)
		byPart[p] = append(byPart[p], k)
	}
	var first error
	for p, ks := range byPart {
		sh, err := s.rt.Shard(p)
		if err == nil {
			err = sh.delete(ks)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// GroupKeys returns the share-partitions of group that have a stored state in the
// partitions this broker leads, sorted. Errors: the runtime's.
func (s *Store) GroupKeys(group string) ([]Key, error) {
	shards, err := s.rt.Shards()
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, sh := range shards {
		sh.mu.Lock()
		for k := range sh.mu.states {
			if k.Group == group {
				out = append(out, k)
			}
		}
		sh.mu.Unlock()
	}
	SortKeys(out)
	return out, nil
}

// storeShard is the Store's state of one partition of __share_group_state (coord.Shard).
type storeShard struct {
	s    *Store
	part *coord.Partition

	writeMu sync.Mutex // serialises writes: held across the Write and the apply
	mu      struct {
		sync.Mutex // the states; never held across a Write
		states     map[Key]*storedState
		deleted    map[Key]int32 // the state epochs of deleted states (their initialization takes the next)
	}
}

// storedState is what the records of one share-partition amount to.
type storedState struct {
	state         *PartitionState // never Acquired, never dirty
	snapshotEpoch int32
	stateEpoch    int32
	leaderEpoch   int32
	updates       int // since the snapshot
	created       int64
	uninitialized bool // initialized by the group coordinator, its start not chosen yet
}

func (s *Store) newShard(p *coord.Partition) *storeShard {
	sh := &storeShard{s: s, part: p}
	sh.mu.states = make(map[Key]*storedState)
	sh.mu.deleted = make(map[Key]int32)
	return sh
}

// Replay applies one stored record (coord.Shard).
func (sh *storeShard) Replay(_ coord.Meta, r coord.Record) error {
	typ, k, err := decodeKey(r.Key)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r.Value == nil {
		if e := sh.mu.states[k]; typ == snapshotType && e != nil {
			sh.mu.deleted[k] = e.stateEpoch
			delete(sh.mu.states, k)
		}
		return nil
	}
	switch typ {
	case snapshotType:
		v, err := decodeSnapshotValue(r.Value)
		if err == nil && v.StartOffset < Uninitialized {
			err = fmt.Errorf("%w: start offset %d", errBadRecord, v.StartOffset)
		}
		if err != nil {
			return fmt.Errorf("%v: %w", k, err)
		}
		e := &storedState{state: &PartitionState{}, snapshotEpoch: v.SnapshotEpoch, stateEpoch: v.StateEpoch,
			leaderEpoch: v.LeaderEpoch, created: v.CreateTimestamp, uninitialized: v.StartOffset == Uninitialized}
		e.state.ApplySnapshot(v.StartOffset, v.Batches)
		sh.mu.states[k] = e
		delete(sh.mu.deleted, k)
	default:
		v, err := decodeUpdateValue(r.Value)
		if err != nil {
			return fmt.Errorf("%v: %w", k, err)
		}
		e := sh.mu.states[k]
		if e == nil || v.SnapshotEpoch != e.snapshotEpoch {
			return nil // stale: of a snapshot compacted away or replaced
		}
		e.state.ApplyUpdate(v.StartOffset, v.Batches)
		e.leaderEpoch, e.updates = v.LeaderEpoch, e.updates+1
	}
	return nil
}

// Loaded is called once the replay is over (coord.Shard).
func (sh *storeShard) Loaded() {}

// Unloaded is called once the partition is unloaded (coord.Shard).
func (sh *storeShard) Unloaded() {}

// write stores us as one batch: an update per share-partition, or a snapshot for a new
// one or one due for a snapshot; the states change once the batch is committed.
func (sh *storeShard) write(us []Update) error {
	sh.writeMu.Lock()
	defer sh.writeMu.Unlock()
	now := sh.part.Now().UnixMilli()
	next := make(map[Key]*storedState, len(us))
	recs := make([]coord.Record, 0, len(us))
	sh.mu.Lock()
	for _, u := range us {
		e := next[u.Key]
		if e == nil {
			e = sh.mu.states[u.Key]
			switch {
			case e == nil: // never initialized, or deleted (as Kafka's, whether or not the tombstone is still known)
				sh.mu.Unlock()
				return fmt.Errorf("%w: %v", ErrUninitialized, u.Key)
			case u.StateEpoch < e.stateEpoch:
				sh.mu.Unlock()
				return fmt.Errorf("%w: %v written at state epoch %d, stored at %d", ErrFencedStateEpoch, u.Key, u.StateEpoch, e.stateEpoch)
			case u.LeaderEpoch < e.leaderEpoch:
				sh.mu.Unlock()
				return fmt.Errorf("%w: %v written at leader epoch %d, stored at %d", ErrFencedLeaderEpoch, u.Key, u.LeaderEpoch, e.leaderEpoch)
			}
			e = e.clone()
			next[u.Key] = e
		}
		if e.uninitialized { // the leader's first write: its whole state
			if u.Start < 0 {
				sh.mu.Unlock()
				return fmt.Errorf("%w: first state of %v has no start offset", ErrInvalidRequest, u.Key)
			}
			e.state.ApplySnapshot(u.Start, u.Batches)
			e.uninitialized, e.updates = false, sh.s.opts.SnapshotEvery
		} else {
			e.state.ApplyUpdate(u.Start, u.Batches)
		}
		e.leaderEpoch = u.LeaderEpoch
		if e.updates+1 >= sh.s.opts.SnapshotEvery {
			e.snapshotEpoch++
			e.updates = 0
			start, batches := e.state.Snapshot()
			v := snapshotValue{SnapshotEpoch: e.snapshotEpoch, StateEpoch: e.stateEpoch, LeaderEpoch: e.leaderEpoch,
				StartOffset: start, CreateTimestamp: e.created, WriteTimestamp: now, DeliveryCompleteCount: -1, Batches: batches}
			recs = append(recs, coord.Record{Key: appendKey(nil, snapshotType, u.Key), Value: v.appendTo(nil)})
			continue
		}
		e.updates++
		v := updateValue{SnapshotEpoch: e.snapshotEpoch, LeaderEpoch: e.leaderEpoch, StartOffset: u.Start,
			DeliveryCompleteCount: -1, Batches: u.Batches}
		recs = append(recs, coord.Record{Key: appendKey(nil, updateType, u.Key), Value: v.appendTo(nil)})
	}
	sh.mu.Unlock()
	if err := sh.part.Write(recs); err != nil {
		return err
	}
	sh.mu.Lock()
	for k, e := range next {
		if cur := sh.mu.states[k]; cur != nil { // a ReadAt during the write may have raised it
			e.leaderEpoch = max(e.leaderEpoch, cur.leaderEpoch)
		}
		sh.mu.states[k] = e
		delete(sh.mu.deleted, k)
	}
	sh.mu.Unlock()
	return nil
}

// nextStateEpochLocked is the state epoch of a first state of k, none being stored:
// above that of k's deleted state, if any. sh.mu is held.
func (sh *storeShard) nextStateEpochLocked(k Key) int32 {
	if d, ok := sh.mu.deleted[k]; ok {
		return d + 1
	}
	return 0
}

func (sh *storeShard) delete(ks []Key) error {
	sh.writeMu.Lock()
	defer sh.writeMu.Unlock()
	recs := make([]coord.Record, 0, 2*len(ks))
	sh.mu.Lock()
	for _, k := range ks {
		if sh.mu.states[k] != nil {
			recs = append(recs, coord.Record{Key: appendKey(nil, updateType, k)}, coord.Record{Key: appendKey(nil, snapshotType, k)})
		}
	}
	sh.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := sh.part.Write(recs); err != nil {
		return err
	}
	sh.mu.Lock()
	for _, k := range ks {
		if e := sh.mu.states[k]; e != nil {
			sh.mu.deleted[k] = e.stateEpoch
			delete(sh.mu.states, k)
		}
	}
	sh.mu.Unlock()
	return nil
}

// clone copies e so a write can prepare the next state without changing e.
func (e *storedState) clone() *storedState {
	c := *e
	start, batches := e.state.Snapshot()
	c.state = &PartitionState{}
	c.state.ApplySnapshot(start, batches)
	return &c
}

// stored is e as Stored.
func (e *storedState) stored() Stored {
	start, batches := e.state.Snapshot()
	if e.uninitialized {
		start = Uninitialized
	}
	return Stored{StateEpoch: e.stateEpoch, Start: start, Batches: batches}
}
