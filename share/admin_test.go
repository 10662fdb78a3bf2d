package share

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

// TestShareSummary: the admin summary counts the window's acquired, acknowledged and
// archived records, live from the manager and, once it forgot the partition, as stored
// (acquisitions are not stored).
func TestShareSummary(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	if _, ok, err := m.Summary(testKey); ok || err != nil {
		t.Fatalf("summary of a partition never read: %v %v", ok, err)
	}
	m.Acquire(testKey, "a", 0, 10, 10, startAt(0))
	if err := m.Acknowledge(context.Background(), testKey, "a", []AckBatch{{0, 0, []AckType{Accept}}, {2, 2, []AckType{Accept}}, {3, 4, []AckType{Reject}}}); err != nil {
		t.Fatal(err)
	}
	sum, ok, err := m.Summary(testKey)
	if want := (Summary{Start: 1, End: 10, InFlight: 6, Done: 3, Archived: 2}); !ok || err != nil || sum != want {
		t.Fatalf("live summary %+v %v %v, want %+v", sum, ok, err, want)
	}
	if err := m.Forget(context.Background(), func(Key) bool { return true }); err != nil {
		t.Fatal(err)
	}
	sum, ok, err = m.Summary(testKey)
	if want := (Summary{Start: 1, End: 5, Done: 3, Archived: 2}); !ok || err != nil || sum != want {
		t.Fatalf("stored summary %+v %v %v, want %+v", sum, ok, err, want)
	}
	if got := m.GroupKeys("g"); len(got) != 0 {
		t.Fatalf("forgotten keys still held: %v", got)
	}
}

// TestShareStoreReset: a reset replaces a share-partition's state with a fresh one at the
// new start (any offset, below the old start too), nothing in flight, at the next state
// epoch; it survives a replay, and a manager that forgot the partition delivers from
// there with fresh delivery counts. Store.Groups lists the groups with stored states.
func TestShareStoreReset(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	other := Key{Group: "g", TopicID: [16]byte{8}, Partition: 1}
	m.Acquire(testKey, "a", 0, 10, 10, startAt(5))
	m.Acquire(other, "a", 0, 10, 10, startAt(0))
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(5, 6, Accept)); err != nil {
		t.Fatal(err)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(7, 7, Release)); err != nil {
		t.Fatal(err)
	}
	if got := m.GroupKeys("g"); !reflect.DeepEqual(got, []Key{testKey, other}) {
		t.Fatalf("held keys %v", got)
	}
	if err := m.Forget(context.Background(), func(k Key) bool { return k == testKey }); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(map[Key]int64{testKey: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(map[Key]int64{testKey: -2}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("negative start: %v", err)
	}
	want := Stored{StateEpoch: 1, Start: 2}
	wantStored(t, s, testKey, want)
	// An initialization (start -1, the group coordinator's) keeps a stored state.
	if err := s.Initialize([]Key{testKey}); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, testKey, want)
	reload(t, s)
	wantStored(t, s, testKey, want)
	got, err := m.Acquire(testKey, "b", 0, 10, 3, startAt(99))
	if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{2, 4, 1}}) {
		t.Fatalf("acquired %v %v after the reset", got, err)
	}
	if _, _, n, ok := m.Stats(other); !ok || n != 10 {
		t.Fatalf("another partition of the group changed: %v %d", ok, n)
	}
	// A reset of a partition never stored starts it at state epoch 1 (a writer that read
	// no state, at 0, is fenced).
	fresh := Key{Group: "h", Partition: 3}
	if err := s.Reset(map[Key]int64{fresh: 4}); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, fresh, Stored{StateEpoch: 1, Start: 4})
	if gs, err := s.Groups(); err != nil || !reflect.DeepEqual(gs, []string{"g", "h"}) {
		t.Fatalf("groups with stored states: %v %v", gs, err)
	}
}

// TestShareGroupsCreateEmpty: an alteration creates an empty share group, listed and
// described Empty; one with members is refused; a member may join it afterwards.
func TestShareGroupsCreateEmpty(t *testing.T) {
	g, _ := newTestGroups(t, map[string]int32{"t": 1}, nil)
	if err := g.CreateEmpty("g"); err != nil {
		t.Fatal(err)
	}
	if d, ok := g.Describe("g"); !ok || d.State != GroupEmpty || len(d.Members) != 0 {
		t.Fatalf("created group: %+v %v", d, ok)
	}
	join(t, g, "g", "m1", "t")
	if err := g.CreateEmpty("g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("create over a group with members: %v", err)
	}
	if err := g.CreateEmpty("g2"); err != nil {
		t.Fatal(err)
	}
	if got := g.List(); len(got) != 2 || got[1].Group != "g2" || got[1].State != GroupEmpty {
		t.Fatalf("listed %+v", got)
	}
}

// TestShareStoreFencedStateEpoch: the store refuses a write at a state epoch older than
// the stored state's (reset since), a write of a deleted state at its epoch (or older),
// and a first state written at 0 after a reset created one; a write of a deleted state is
// refused as one never initialized (Kafka's INVALID_REQUEST), and a read of it answers
// the epoch above it, which its initialization takes.
func TestShareStoreFencedStateEpoch(t *testing.T) {
	s, _ := newTestStore(t, 500)
	write := func(epoch int32, start int64) error {
		return s.Write([]Update{{Key: testKey, StateEpoch: epoch, Start: start, Batches: []StateBatch{{start, start, Acknowledged, 1}}}})
	}
	initKeys(t, s, testKey)
	if err := write(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(map[Key]int64{testKey: 5}); err != nil {
		t.Fatal(err)
	}
	if err := write(0, 1); !errors.Is(err, ErrFencedStateEpoch) {
		t.Fatalf("write at the state epoch before the reset: %v", err)
	}
	wantStored(t, s, testKey, Stored{StateEpoch: 1, Start: 5})
	if err := write(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete([]Key{testKey}); err != nil {
		t.Fatal(err)
	}
	if err := write(1, 6); !errors.Is(err, ErrUninitialized) {
		t.Fatalf("write of a deleted state at its state epoch: %v", err)
	}
	st, ok, err := s.Read(testKey)
	if ok || err != nil || st.StateEpoch != 2 {
		t.Fatalf("read of the deleted state: %+v %v %v, want none at state epoch 2", st, ok, err)
	}
	initKeys(t, s, testKey)
	wantStored(t, s, testKey, Stored{StateEpoch: 2, Start: Uninitialized})
	if err := write(1, 8); !errors.Is(err, ErrFencedStateEpoch) {
		t.Fatalf("write of the deleted state at its state epoch after its initialization: %v", err)
	}
	if err := write(2, 8); err != nil {
		t.Fatal(err)
	}
	fresh := Key{Group: "h", Partition: 3}
	if err := s.Reset(map[Key]int64{fresh: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]Update{{Key: fresh, Start: 0}}); !errors.Is(err, ErrFencedStateEpoch) {
		t.Fatalf("first state at 0 after a reset created one: %v", err)
	}
}

// TestShareManagerFencedStateEpoch: a manager whose share-partition's state was reset
// or deleted under it (by another broker: no Forget here) gets ErrFencedStateEpoch (or
// ErrUninitialized) for its next write, drops the partition, and the next acquisition reads it again: from
// the reset's start offset, or from the start offset of a new share-partition.
func TestShareManagerFencedStateEpoch(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	ctx := context.Background()
	if _, err := m.Acquire(testKey, "a", 0, 10, 2, startAt(0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Acknowledge(ctx, testKey, "a", acks(0, 1, Accept)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Acquire(testKey, "a", 0, 10, 2, startAt(0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(map[Key]int64{testKey: 6}); err != nil {
		t.Fatal(err)
	}
	if err := m.Acknowledge(ctx, testKey, "a", acks(2, 3, Accept)); !errors.Is(err, ErrFencedStateEpoch) {
		t.Fatalf("acknowledgement after a reset under the manager: %v", err)
	}
	got, err := m.Acquire(testKey, "b", 0, 10, 2, startAt(0))
	if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{6, 7, 1}}) {
		t.Fatalf("acquired %v %v after the reset, want 6-7", got, err)
	}
	if err := s.Delete([]Key{testKey}); err != nil {
		t.Fatal(err)
	}
	if err := m.Acknowledge(ctx, testKey, "b", acks(6, 6, Accept)); !errors.Is(err, ErrUninitialized) {
		t.Fatalf("acknowledgement after a delete under the manager: %v", err)
	}
	got, err = m.Acquire(testKey, "b", 0, 10, 2, startAt(3))
	if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{3, 4, 1}}) {
		t.Fatalf("acquired %v %v after the delete, want 3-4 (a new share-partition)", got, err)
	}
	if err := m.Acknowledge(ctx, testKey, "b", acks(3, 3, Accept)); err != nil {
		t.Fatalf("first state after the delete: %v", err)
	}
}

// TestShareManagerIdleCheck: a share-partition with nothing acquired whose state was
// reset under the manager (by another broker) writes nothing, so is not fenced; its
// first acquisition IdleCheck later reads the state epoch, finds it changed and
// acquires from the reset's start offset.
func TestShareManagerIdleCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		m := newTestManager(t, s, DefaultConfig(), nil)
		ctx := context.Background()
		if _, err := m.Acquire(testKey, "a", 0, 10, 2, startAt(0)); err != nil {
			t.Fatal(err)
		}
		if err := m.Acknowledge(ctx, testKey, "a", acks(0, 1, Accept)); err != nil {
			t.Fatal(err)
		}
		if err := s.Reset(map[Key]int64{testKey: 6}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(DefaultIdleCheck)
		got, err := m.Acquire(testKey, "b", 0, 10, 2, startAt(0))
		if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{6, 7, 1}}) {
			t.Fatalf("acquired %v %v an idle check after the reset, want 6-7", got, err)
		}
	})
}
