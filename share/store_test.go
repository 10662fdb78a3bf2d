package share

import (
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/stratalog/strata/coord"
)

// newTestStore returns a Store over in-memory logs (kept across unloads) with every
// partition loaded.
func newTestStore(t *testing.T, snapshotEvery int) (*Store, []*coord.MemLog) {
	t.Helper()
	logs := []*coord.MemLog{coord.NewMemLog(), coord.NewMemLog(), coord.NewMemLog()}
	s, err := NewStore(&StoreOptions{NumPartitions: 3, SnapshotEvery: snapshotEvery, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(p int32) (coord.Log, error) { return logs[p], nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for p := range int32(3) {
		if err := s.Load(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	return s, logs
}

func reload(t *testing.T, s *Store) {
	t.Helper()
	for p := range int32(3) {
		s.Unload(p, 1)
		if err := s.Load(p, 2); err != nil {
			t.Fatal(err)
		}
	}
}

func wantStored(t *testing.T, s *Store, k Key, want Stored) {
	t.Helper()
	got, ok, err := s.Read(k)
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("%v: read %+v %v %v, want %+v", k, got, ok, err, want)
	}
}

// initKeys initializes keys in s, as the group coordinator does before it assigns them.
func initKeys(t testing.TB, s *Store, keys ...Key) {
	t.Helper()
	if err := s.Initialize(keys); err != nil {
		t.Fatal(err)
	}
}

func keysOf(us []Update) []Key {
	out := make([]Key, 0, len(us))
	for _, u := range us {
		out = append(out, u.Key)
	}
	return out
}

func TestShareStoreWriteReadReplay(t *testing.T) {
	for _, every := range []int{1, 2, 500} {
		s, _ := newTestStore(t, every)
		ka := Key{Group: "g", TopicID: [16]byte{1}, Partition: 0}
		kb := Key{Group: "h", TopicID: [16]byte{1}, Partition: 0}
		if err := s.Write([]Update{{Key: ka, Start: 0}}); !errors.Is(err, ErrUninitialized) || !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("write of a state never initialized: %v", err)
		}
		initKeys(t, s, ka, kb)
		if err := s.Write([]Update{{Key: ka, Start: -1, Batches: []StateBatch{{5, 5, Acknowledged, 1}}}}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("first update without a start: %v", err)
		}
		steps := [][]Update{
			{{Key: ka, Start: 10}, {Key: kb, Start: 0, Batches: []StateBatch{{0, 3, Archived, 5}, {4, 4, Available, 1}}}},
			{{Key: ka, Start: -1, Batches: []StateBatch{{11, 12, Acknowledged, 1}, {13, 13, Available, 2}}}},
			{{Key: ka, Start: -1, Batches: []StateBatch{{10, 10, Acknowledged, 1}}}, {Key: ka, Start: 13, Batches: []StateBatch{{14, 14, Archived, 3}}}},
		}
		for _, us := range steps {
			if err := s.Write(us); err != nil {
				t.Fatal(err)
			}
		}
		wantA := Stored{Start: 13, Batches: []StateBatch{{13, 13, Available, 2}, {14, 14, Archived, 3}}}
		wantB := Stored{Start: 4, Batches: []StateBatch{{4, 4, Available, 1}}}
		wantStored(t, s, ka, wantA)
		wantStored(t, s, kb, wantB)
		reload(t, s)
		wantStored(t, s, ka, wantA)
		wantStored(t, s, kb, wantB)

		if err := s.Delete([]Key{ka}); err != nil {
			t.Fatal(err)
		}
		reload(t, s)
		if _, ok, err := s.Read(ka); ok || err != nil {
			t.Fatalf("deleted state read back: %v %v", ok, err)
		}
		wantStored(t, s, kb, wantB)
	}
}

// TestShareStoreStaleUpdate replays what compaction leaves of a share-partition: its
// last snapshot and its last update, which may predate the snapshot (and must then be
// ignored: the snapshot holds it already).
func TestShareStoreStaleUpdate(t *testing.T) {
	s, _ := newTestStore(t, 2)
	k := Key{Group: "g", Partition: 1}
	sh := s.newShard(nil)
	snap := snapshotValue{SnapshotEpoch: 1, StartOffset: 20, DeliveryCompleteCount: -1, Batches: []StateBatch{{21, 21, Acknowledged, 1}}}
	stale := updateValue{SnapshotEpoch: 0, StartOffset: 5, DeliveryCompleteCount: -1, Batches: []StateBatch{{30, 30, Archived, 1}}}
	fresh := updateValue{SnapshotEpoch: 1, StartOffset: -1, DeliveryCompleteCount: -1, Batches: []StateBatch{{22, 22, Archived, 2}}}
	for _, r := range []coord.Record{
		{Key: appendKey(nil, updateType, k), Value: stale.appendTo(nil)}, // before any snapshot
		{Key: appendKey(nil, snapshotType, k), Value: snap.appendTo(nil)},
		{Key: appendKey(nil, updateType, k), Value: stale.appendTo(nil)},
		{Key: appendKey(nil, updateType, k), Value: fresh.appendTo(nil)},
	} {
		if err := sh.Replay(coord.Meta{}, r); err != nil {
			t.Fatal(err)
		}
	}
	e := sh.mu.states[k]
	start, batches := e.state.Snapshot()
	if want := []StateBatch{{21, 21, Acknowledged, 1}, {22, 22, Archived, 2}}; start != 20 || !reflect.DeepEqual(batches, want) {
		t.Fatalf("replayed start %d %v, want 20 %v", start, batches, want)
	}
	// A tombstone of the update key alone deletes nothing; the snapshot's does.
	sh.Replay(coord.Meta{}, coord.Record{Key: appendKey(nil, updateType, k)})
	if sh.mu.states[k] == nil {
		t.Fatal("the update key's tombstone deleted the state")
	}
	sh.Replay(coord.Meta{}, coord.Record{Key: appendKey(nil, snapshotType, k)})
	if sh.mu.states[k] != nil {
		t.Fatal("the snapshot key's tombstone left the state")
	}
	// Undecodable records are reported, not applied.
	if err := sh.Replay(coord.Meta{}, coord.Record{Key: []byte{0, 9}, Value: []byte{}}); !errors.Is(err, errBadRecord) {
		t.Fatalf("bad key: %v", err)
	}
	if err := sh.Replay(coord.Meta{}, coord.Record{Key: appendKey(nil, snapshotType, k), Value: []byte{0, 0, 1}}); !errors.Is(err, errBadRecord) {
		t.Fatalf("bad value: %v", err)
	}
}

// TestShareStoreSnapshots: with a snapshot every 2 updates, the log alternates
// ShareSnapshot and ShareUpdate records of the share-partition, and the state survives.
func TestShareStoreSnapshots(t *testing.T) {
	s, _ := newTestStore(t, 2)
	k := Key{Group: "g", Partition: 2}
	initKeys(t, s, k)
	for i := range int64(7) {
		start := int64(-1)
		if i == 0 {
			start = 0
		}
		if err := s.Write([]Update{{Key: k, Start: start, Batches: []StateBatch{{2 * i, 2 * i, Acknowledged, 1}, {2*i + 1, 2*i + 1, Available, 1}}}}); err != nil {
			t.Fatal(err)
		}
	}
	sh, err := s.rt.Shard(s.PartitionFor(k))
	if err != nil {
		t.Fatal(err)
	}
	e := sh.mu.states[k]
	// The initialization and writes 1 (the first state), 3, 5, 7 were snapshots: epochs
	// 0..4, no update since.
	if e.snapshotEpoch != 4 || e.updates != 0 {
		t.Fatalf("snapshot epoch %d, %d updates since", e.snapshotEpoch, e.updates)
	}
	want := Stored{Start: 1}
	for o := int64(1); o < 14; o++ {
		st := Available
		if o%2 == 0 {
			st = Acknowledged
		}
		want.Batches = append(want.Batches, StateBatch{o, o, st, 1})
	}
	wantStored(t, s, k, want)
	reload(t, s)
	wantStored(t, s, k, want)
}

func TestShareStoreNotCoordinator(t *testing.T) {
	s, _ := newTestStore(t, 5)
	k := Key{Group: "g"}
	s.Unload(s.PartitionFor(k), 1)
	if _, _, err := s.Read(k); !errors.Is(err, coord.ErrNotCoordinator) {
		t.Fatalf("read: %v", err)
	}
	if err := s.Write([]Update{{Key: k, Start: 0}}); !errors.Is(err, coord.ErrNotCoordinator) {
		t.Fatalf("write: %v", err)
	}
}

func TestShareCoordinatorKey(t *testing.T) {
	// Kafka's Uuid.toString: URL-safe base64 without padding.
	k := Key{Group: "g", TopicID: [16]byte{0xfb, 0xff, 15: 1}, Partition: 12}
	if got, want := k.CoordinatorKey(), "g:-_8AAAAAAAAAAAAAAAAAAQ:12"; got != want {
		t.Fatalf("coordinator key %q, want %q", got, want)
	}
}

// TestShareStoreOneBatchPerWrite: a Write of many share-partitions' updates costs one
// batch (one append, one fsync at most) per partition of the topic it touches.
func TestShareStoreOneBatchPerWrite(t *testing.T) {
	s, logs := newTestStore(t, 500)
	var us []Update
	for p := range int32(100) {
		us = append(us, Update{Key: Key{Group: "g", Partition: p}, Start: 0, Batches: []StateBatch{{0, 0, Acknowledged, 1}}})
	}
	touched := make(map[int32]bool)
	for _, u := range us {
		touched[s.PartitionFor(u.Key)] = true
	}
	initKeys(t, s, keysOf(us)...)
	n := 0
	for _, l := range logs {
		n -= l.Len()
	}
	if err := s.Write(us); err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		n += l.Len()
	}
	if n != len(touched) {
		t.Fatalf("%d batches for a write touching %d partitions", n, len(touched))
	}
	for _, u := range us {
		wantStored(t, s, u.Key, Stored{Start: 1})
	}
}

// TestShareStoreFencesOldLeader: once a share-partition is written at a leader epoch, a
// write at an older one (a former leader of the topic partition) fails with
// ErrFencedLeaderEpoch and changes nothing, also after a replay.
func TestShareStoreFencesOldLeader(t *testing.T) {
	s, _ := newTestStore(t, 500)
	k := Key{Group: "g", Partition: 1}
	initKeys(t, s, k)
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 3, Start: 0, Batches: []StateBatch{{0, 0, Acknowledged, 1}}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := s.Write([]Update{{Key: k, LeaderEpoch: 2, Start: -1, Batches: []StateBatch{{0, 0, Available, 1}}}})
		if !errors.Is(err, ErrFencedLeaderEpoch) {
			t.Fatalf("write at an older leader epoch: %v", err)
		}
		wantStored(t, s, k, Stored{Start: 1})
		reload(t, s)
	}
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 4, Start: -1, Batches: []StateBatch{{1, 1, Archived, 1}}}}); err != nil {
		t.Fatalf("write at a newer leader epoch: %v", err)
	}
	wantStored(t, s, k, Stored{Start: 2})
}

// TestShareStoreDeleteUnknown: deleting keys without a stored state writes nothing (a
// deleted group's keys on a cluster are every partition of every topic).
func TestShareStoreDeleteUnknown(t *testing.T) {
	s, logs := newTestStore(t, 500)
	var keys []Key
	for p := range int32(20) {
		keys = append(keys, Key{Group: "gone", Partition: p})
	}
	if err := s.Delete(keys); err != nil {
		t.Fatal(err)
	}
	for i, l := range logs {
		if n := l.Len(); n != 0 {
			t.Fatalf("partition %d: %d batches written for keys without a state", i, n)
		}
	}
}

// TestShareStoreReadAtFences: a read by a new leader fences the writes of older ones
// before its own first write (as Kafka's ReadShareGroupState), also after a replay (the
// new epoch is stored: a coordinator that moved fences them too), and a read by an older
// leader is refused.
func TestShareStoreReadAtFences(t *testing.T) {
	s, _ := newTestStore(t, 500)
	k := Key{Group: "g", Partition: 2}
	initKeys(t, s, k)
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 1, Start: 0}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ReadAt(k, 2); !ok || err != nil {
		t.Fatalf("read by the new leader: %v %v", ok, err)
	}
	reload(t, s)
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 1, Start: 5}}); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("the old leader's write after the new one's read and a replay: %v", err)
	}
	if _, _, err := s.ReadAt(k, 1); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("read by the old leader: %v", err)
	}
	wantStored(t, s, k, Stored{Start: 0})
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 2, Start: 3}}); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, k, Stored{Start: 3})
}

// holdLog is a coord.Log whose appends wait while held.
type holdLog struct {
	*coord.MemLog
	held    chan struct{} // closed when an append waits
	release chan struct{}
}

func (l *holdLog) Append(b []byte) (int64, error) {
	if l.release != nil {
		close(l.held)
		<-l.release
		l.release = nil
	}
	return l.MemLog.Append(b)
}

// TestShareStoreReadAtAfterWrites: a leader's read waits for a write in progress (a
// former leader's accept committed after the read began is in what it reads).
func TestShareStoreReadAtAfterWrites(t *testing.T) {
	l := &holdLog{MemLog: coord.NewMemLog()}
	s, err := NewStore(&StoreOptions{NumPartitions: 1, SnapshotEvery: 500, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(int32) (coord.Log, error) { return l, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	k := Key{Group: "g"}
	initKeys(t, s, k)
	if err := s.Write([]Update{{Key: k, LeaderEpoch: 1, Start: 0}}); err != nil {
		t.Fatal(err)
	}
	l.held, l.release = make(chan struct{}), make(chan struct{})
	release := l.release
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write([]Update{{Key: k, LeaderEpoch: 1, Start: 10}}) }()
	<-l.held
	read := make(chan Stored, 1)
	go func() {
		st, _, _ := s.ReadAt(k, 2)
		read <- st
	}()
	// A read that did not wait returns the state without the write (start 0) meanwhile.
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if st := <-read; st.Start != 10 {
		t.Fatalf("the new leader read start %d, want 10 (the write in progress)", st.Start)
	}
}
