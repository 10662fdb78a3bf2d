package share

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/stratalog/strata/coord"
)

// TestShareStoreInitialize: an initialized share-partition (the group coordinator's
// InitializeShareGroupState, start -1) is stored with start Uninitialized and survives a
// replay; the leader's first write must carry its start and is stored whole.
func TestShareStoreInitialize(t *testing.T) {
	s, _ := newTestStore(t, 500)
	initKeys(t, s, testKey)
	want := Stored{Start: Uninitialized}
	wantStored(t, s, testKey, want)
	reload(t, s)
	wantStored(t, s, testKey, want)
	if sum := want.Summary(); sum.Start != Uninitialized {
		t.Fatalf("summary of an initialized state: %+v", sum)
	}
	if err := s.Write([]Update{{Key: testKey, Start: -1, Batches: []StateBatch{{3, 3, Acknowledged, 1}}}}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("first write without a start: %v", err)
	}
	if err := s.Write([]Update{{Key: testKey, Start: 3, Batches: []StateBatch{{4, 4, Acknowledged, 1}}}}); err != nil {
		t.Fatal(err)
	}
	want = Stored{Start: 3, Batches: []StateBatch{{4, 4, Acknowledged, 1}}}
	wantStored(t, s, testKey, want)
	reload(t, s)
	wantStored(t, s, testKey, want)
}

// TestShareStoreInitializedFencesOldLeader: a new leader of the topic partition reads an
// initialized share-partition before anyone wrote it; its epoch is stored, so after the
// share coordinator moves (a replay) the former leader's first write is still fenced.
// (Without an initialized state there was nothing to hold the epoch.)
func TestShareStoreInitializedFencesOldLeader(t *testing.T) {
	s, _ := newTestStore(t, 500)
	initKeys(t, s, testKey)
	if st, ok, err := s.ReadAt(testKey, 2); err != nil || !ok || st.Start != Uninitialized {
		t.Fatalf("the new leader's read: %+v %v %v", st, ok, err)
	}
	reload(t, s)
	err := s.Write([]Update{{Key: testKey, LeaderEpoch: 1, Start: 0, Batches: []StateBatch{{0, 0, Acknowledged, 1}}}})
	if !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("the former leader's write after the coordinator moved: %v", err)
	}
	if err := s.Write([]Update{{Key: testKey, LeaderEpoch: 2, Start: 5}}); err != nil {
		t.Fatal(err)
	}
}

// compactAway empties the logs, as compaction does with a deleted state's records once
// its tombstones are old enough, and reloads the store (its coordinator moved).
func compactAway(t *testing.T, s *Store, logs []*coord.MemLog) {
	t.Helper()
	for i := range logs {
		*logs[i] = *coord.NewMemLog()
	}
	reload(t, s)
}

// TestShareStoreDeletedAfterCompaction: a share-partition's state is deleted, compaction
// removes its records and the coordinator moves: a write of the former state is refused
// as of one never initialized (Kafka's INVALID_REQUEST "Write operation on uninitialized
// share partition not allowed."), not stored back.
func TestShareStoreDeletedAfterCompaction(t *testing.T) {
	s, logs := newTestStore(t, 500)
	initKeys(t, s, testKey)
	if err := s.Write([]Update{{Key: testKey, Start: 2, Batches: []StateBatch{{2, 2, Available, 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete([]Key{testKey}); err != nil {
		t.Fatal(err)
	}
	compactAway(t, s, logs)
	err := s.Write([]Update{{Key: testKey, Start: -1, Batches: []StateBatch{{2, 2, Acknowledged, 1}}}})
	if !errors.Is(err, ErrUninitialized) || !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("write of a deleted state after compaction: %v", err)
	}
	if _, ok, err := s.Read(testKey); ok || err != nil {
		t.Fatalf("the deleted state came back: %v %v", ok, err)
	}
}

// TestShareManagerDeletedAfterCompaction: a leader holds a share-partition whose state is
// deleted, compacted away and its coordinator moved; its next write is refused, it drops
// the share-partition, and the next acquisition starts afresh (share.auto.offset.reset)
// instead of from the former state.
func TestShareManagerDeletedAfterCompaction(t *testing.T) {
	s, logs := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	ctx := context.Background()
	if _, err := m.Acquire(testKey, "a", 0, 10, 2, startAt(0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Acknowledge(ctx, testKey, "a", acks(0, 0, Accept)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete([]Key{testKey}); err != nil {
		t.Fatal(err)
	}
	compactAway(t, s, logs)
	if err := m.Acknowledge(ctx, testKey, "a", acks(1, 1, Accept)); !errors.Is(err, ErrUninitialized) {
		t.Fatalf("acknowledgement after the state was deleted and compacted away: %v", err)
	}
	if _, ok, _ := s.Read(testKey); ok {
		t.Fatal("the deleted state was written back")
	}
	got, err := m.Acquire(testKey, "b", 0, 10, 2, startAt(7))
	if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{7, 8, 1}}) {
		t.Fatalf("acquired %v %v after the delete, want 7-8 (a new share-partition)", got, err)
	}
	if err := m.Acknowledge(ctx, testKey, "b", acks(7, 7, Accept)); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, testKey, Stored{Start: 8})
}

// TestShareManagerInitializedStart: a leader reading an initialized share-partition
// chooses its start then (share.auto.offset.reset, as Kafka's SharePartition at its first
// read) and stores it with its first write; a second leader reads that start.
func TestShareManagerInitializedStart(t *testing.T) {
	s, _ := newTestStore(t, 500)
	initKeys(t, s, testKey)
	m := newTestManager(t, s, DefaultConfig(), nil)
	got, err := m.Acquire(testKey, "a", 0, 10, 2, startAt(4))
	if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{4, 5, 1}}) {
		t.Fatalf("acquired %v %v, want 4-5", got, err)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(4, 4, Accept)); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, testKey, Stored{Start: 5})
	next := NewManager(ManagerOptions{Store: s, LeaderEpoch: func([16]byte, int32) int32 { return 1 }, Logger: slog.New(slog.DiscardHandler)})
	defer next.Close()
	if got, err := next.Acquire(testKey, "b", 0, 10, 2, startAt(0)); err != nil || !reflect.DeepEqual(got, []AcquiredRange{{5, 6, 1}}) {
		t.Fatalf("the next leader acquired %v %v, want 5-6", got, err)
	}
}
