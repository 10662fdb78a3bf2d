package share

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingStore wraps a StateStore: it counts writes, can hold the next one until
// released, and can fail the next one.
type countingStore struct {
	StateStore
	writes  atomic.Int32
	hold    chan struct{} // if not nil, the next Write waits for it to close
	failErr error         // the next Write fails with it
	mu      sync.Mutex
}

func (s *countingStore) Write(us []Update) error {
	s.writes.Add(1)
	s.mu.Lock()
	hold, fail := s.hold, s.failErr
	s.hold, s.failErr = nil, nil
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return fail
	}
	return s.StateStore.Write(us)
}

var testKey = Key{Group: "g", TopicID: [16]byte{7}, Partition: 0}

func startAt(o int64) func() (int64, error) { return func() (int64, error) { return o, nil } }

func newTestManager(t *testing.T, st StateStore, cfg Config, onAvailable func(Key)) *Manager {
	t.Helper()
	m := NewManager(ManagerOptions{Store: st, Configs: StaticConfigs(cfg), OnAvailable: onAvailable, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { m.Close() })
	return m
}

// TestShareManagerAcksBatched: 100 concurrent acknowledgements, while a first write is
// held, are stored by at most two writes, and each returns only once stored.
func TestShareManagerAcksBatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		cs := &countingStore{StateStore: s}
		m := newTestManager(t, cs, DefaultConfig(), nil)
		got, err := m.Acquire(testKey, "a", 0, 100, 100, startAt(0))
		if err != nil || !reflect.DeepEqual(got, []AcquiredRange{{0, 99, 1}}) {
			t.Fatalf("acquired %v %v", got, err)
		}
		synctest.Wait() // the first flush (the new share-partition's start) is done
		base := cs.writes.Load()
		hold := make(chan struct{})
		cs.hold = hold
		var done atomic.Int32
		var wg sync.WaitGroup
		for o := range int64(100) {
			wg.Go(func() {
				if err := m.Acknowledge(t.Context(), testKey, "a", acks(o, o, Accept)); err != nil {
					t.Errorf("ack %d: %v", o, err)
				}
				done.Add(1)
			})
		}
		synctest.Wait()
		if n := done.Load(); n != 0 {
			t.Fatalf("%d acknowledgements returned before their write was committed", n)
		}
		close(hold)
		wg.Wait()
		if n := cs.writes.Load() - base; n > 2 {
			t.Fatalf("%d writes for 100 acknowledgements", n)
		}
		wantStored(t, s, testKey, Stored{Start: 100})
	})
}

// TestShareManagerRestart: after a restart (a new manager over the reloaded store, as
// after a kill -9 once the acknowledgements returned), accepted records are never
// delivered again and the records that were in flight are.
func TestShareManagerRestart(t *testing.T) {
	s, _ := newTestStore(t, 3)
	m := NewManager(ManagerOptions{Store: s})
	m.Acquire(testKey, "a", 0, 10, 10, startAt(0))
	for _, b := range []AckBatch{{0, 1, []AckType{Accept}}, {2, 2, []AckType{Release}}, {3, 3, []AckType{Reject}}, {4, 4, []AckType{Accept}}} {
		if err := m.Acknowledge(context.Background(), testKey, "a", []AckBatch{b}); err != nil {
			t.Fatal(err)
		}
	}
	// 5-9 are still acquired by a; 2 was released.
	reload(t, s) // the store's partitions replayed: nothing held in memory survives
	m2 := newTestManager(t, s, DefaultConfig(), nil)
	got, err := m2.Acquire(testKey, "b", 0, 10, 100, startAt(99))
	if err != nil {
		t.Fatal(err)
	}
	want := []AcquiredRange{{2, 2, 2}, {5, 9, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart acquired %v, want %v", got, want)
	}
	m.Close()
}

// TestShareManagerLockExpiry runs on virtual time: a lock expires after the group's lock
// duration, the record is Available to another member (OnAvailable told), and the
// holder's late acknowledgement is refused.
func TestShareManagerLockExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		cfg := DefaultConfig()
		cfg.RecordLockDuration = 15 * time.Second
		var available atomic.Int32
		m := newTestManager(t, s, cfg, func(Key) { available.Add(1) })
		m.Acquire(testKey, "a", 0, 3, 10, startAt(0))
		time.Sleep(10 * time.Second)
		if err := m.Acknowledge(t.Context(), testKey, "a", acks(2, 2, Renew)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if available.Load() != 1 {
			t.Fatalf("OnAvailable called %d times, want 1", available.Load())
		}
		got, _ := m.Acquire(testKey, "b", 0, 3, 10, startAt(0))
		if want := []AcquiredRange{{0, 1, 2}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("acquired %v after expiry, want %v", got, want)
		}
		if err := m.Acknowledge(t.Context(), testKey, "a", acks(0, 0, Accept)); !errors.Is(err, ErrInvalidRecordState) {
			t.Fatalf("late acknowledgement: %v", err)
		}
		// The renewed lock expires 15 s after the renewal; the expiry is stored.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if _, _, n, _ := m.Stats(testKey); n != 2 {
			t.Fatalf("%d in flight, want 2 (b's)", n)
		}
		st, _, _ := s.Read(testKey)
		if want := []StateBatch{{0, 2, Available, 1}}; !reflect.DeepEqual(st.Batches, want) {
			t.Fatalf("stored %v", st.Batches)
		}
	})
}

// TestShareManagerReleaseMember: a member's records are released once the release is
// stored (OnAvailable told then).
func TestShareManagerReleaseMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		var available atomic.Int32
		m := newTestManager(t, s, DefaultConfig(), func(Key) { available.Add(1) })
		m.Acquire(testKey, "a", 0, 2, 10, startAt(0))
		synctest.Wait()
		m.ReleaseMember("other", "a") // another group: nothing
		synctest.Wait()
		if available.Load() != 0 {
			t.Fatal("a member of another group released records")
		}
		m.ReleaseMember("g", "a")
		synctest.Wait()
		if available.Load() != 1 {
			t.Fatal("OnAvailable not called")
		}
		if got, _ := m.Acquire(testKey, "b", 0, 2, 10, startAt(0)); !reflect.DeepEqual(got, []AcquiredRange{{0, 1, 2}}) {
			t.Fatalf("acquired %v", got)
		}
	})
}

// TestShareManagerWriteFails: an acknowledgement whose write fails returns the error (a
// StoreError) and is rolled back, as Kafka's: the member still holds the records, nobody
// else acquires them, its acknowledgement again succeeds and is stored; a manager
// restarted after it reads exactly what was stored.
func TestShareManagerWriteFails(t *testing.T) {
	s, _ := newTestStore(t, 500)
	cs := &countingStore{StateStore: s}
	m := newTestManager(t, cs, DefaultConfig(), nil)
	m.Acquire(testKey, "a", 0, 4, 10, startAt(0))
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(1, 1, Accept)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	cs.mu.Lock()
	cs.failErr = boom
	cs.mu.Unlock()
	var se *StoreError
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); !errors.Is(err, boom) || !errors.As(err, &se) {
		t.Fatalf("ack with a failing write: %v", err)
	}
	wantStored(t, s, testKey, Stored{Start: 0, Batches: []StateBatch{{1, 1, Acknowledged, 1}}})
	if start, _, n, _ := m.Stats(testKey); start != 0 || n != 3 {
		t.Fatalf("start %d, %d in flight after the rollback; want 0, 3", start, n)
	}
	if got, _ := m.Acquire(testKey, "b", 0, 4, 10, startAt(0)); got != nil {
		t.Fatalf("another member acquired %v after the rollback", got)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); err != nil {
		t.Fatalf("the acknowledgement again: %v", err)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(3, 3, Reject)); err != nil {
		t.Fatal(err)
	}
	wantStored(t, s, testKey, Stored{Start: 2, Batches: []StateBatch{{3, 3, Archived, 1}}})
	// Restarted: 2, still acquired by a, is delivered again; 0 and 1 never.
	reload(t, s)
	m2 := newTestManager(t, s, DefaultConfig(), nil)
	if got, _ := m2.Acquire(testKey, "c", 0, 4, 10, startAt(9)); !reflect.DeepEqual(got, []AcquiredRange{{2, 2, 1}}) {
		t.Fatalf("after a restart acquired %v, want 2 (delivered once before)", got)
	}
}

// TestShareManagerRollbackConcurrent: while an acknowledgement's write is in progress
// its records are acquired by no other fetch; the write fails and rolls it back: the
// records are still the member's, acquired by nobody else, and none is lost.
// A release on session close rolled back likewise leaves the member holding them; a
// lock that expired during a failed write releases its records (OnAvailable told).
func TestShareManagerRollbackConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		cs := &countingStore{StateStore: s}
		var available atomic.Int32
		m := newTestManager(t, cs, DefaultConfig(), func(Key) { available.Add(1) })
		m.Acquire(testKey, "a", 0, 4, 10, startAt(0))
		synctest.Wait()
		failNext := func() chan struct{} {
			hold := make(chan struct{})
			cs.mu.Lock()
			cs.hold, cs.failErr = hold, errors.New("boom")
			cs.mu.Unlock()
			return hold
		}
		hold := failNext()
		ackErr := make(chan error)
		go func() { ackErr <- m.Acknowledge(t.Context(), testKey, "a", acks(0, 1, Release)) }()
		synctest.Wait() // the write is held
		if got, _ := m.Acquire(testKey, "b", 0, 4, 10, startAt(0)); got != nil {
			t.Fatalf("acquired %v during the write of their release", got)
		}
		close(hold)
		if err := <-ackErr; err == nil {
			t.Fatal("the acknowledgement of a failed write succeeded")
		}
		if got, _ := m.Acquire(testKey, "b", 0, 4, 10, startAt(0)); got != nil {
			t.Fatalf("acquired %v after the rollback", got)
		}
		if available.Load() != 0 {
			t.Fatal("OnAvailable called for records rolled back")
		}
		// The session closes; the release's write fails: a still holds them.
		failNext()
		close(cs.hold)
		m.ReleaseIn("g", "a", []TopicPartition{{TopicID: testKey.TopicID}})
		synctest.Wait()
		if got, _ := m.Acquire(testKey, "b", 0, 4, 10, startAt(0)); got != nil {
			t.Fatalf("acquired %v after the session's release was rolled back", got)
		}
		if err := m.Acknowledge(t.Context(), testKey, "a", acks(0, 0, Accept)); err != nil {
			t.Fatal(err)
		}
		// A write that fails after the lock expired: the records are released.
		synctest.Wait()
		available.Store(0) // told when 0's acceptance moved the start
		hold = failNext()
		go func() { ackErr <- m.Acknowledge(t.Context(), testKey, "a", acks(1, 3, Accept)) }()
		synctest.Wait()
		time.Sleep(DefaultConfig().RecordLockDuration)
		close(hold)
		if err := <-ackErr; err == nil {
			t.Fatal("the acknowledgement of a failed write succeeded")
		}
		if available.Load() != 1 {
			t.Fatalf("OnAvailable called %d times, want 1", available.Load())
		}
		if got, _ := m.Acquire(testKey, "b", 0, 4, 10, startAt(0)); !reflect.DeepEqual(got, []AcquiredRange{{1, 3, 2}}) {
			t.Fatalf("acquired %v after the rollback of expired locks, want 1-3", got)
		}
		synctest.Wait() // stored: 0 accepted, 1-3 delivered once
		wantStored(t, s, testKey, Stored{Start: 1, Batches: []StateBatch{{1, 3, Available, 1}}})
	})
}

func TestShareManagerClosed(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := NewManager(ManagerOptions{Store: s})
	m.Acquire(testKey, "a", 0, 1, 1, startAt(0))
	m.Close()
	m.Close()
	if _, err := m.Acquire(testKey, "a", 0, 1, 1, startAt(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack after close: %v", err)
	}
}

func TestShareManagerAckUnknownPartition(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("ack of a share-partition never fetched: %v", err)
	}
}

func TestShareManagerReleaseIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		m := newTestManager(t, s, DefaultConfig(), nil)
		other := Key{Group: "g", TopicID: [16]byte{7}, Partition: 1}
		m.Acquire(testKey, "a", 0, 2, 10, startAt(0))
		m.Acquire(other, "a", 0, 2, 10, startAt(0))
		m.ReleaseIn("g", "a", []TopicPartition{{TopicID: other.TopicID, Partition: other.Partition}, {Partition: 9}})
		synctest.Wait()
		if _, _, n, _ := m.Stats(testKey); n != 2 {
			t.Fatalf("%d in flight outside the session's partitions, want 2", n)
		}
		if _, _, n, _ := m.Stats(other); n != 0 {
			t.Fatalf("%d in flight in the session's partition, want 0", n)
		}
	})
}

func TestShareManagerLogStartMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := newTestStore(t, 500)
		m := newTestManager(t, s, DefaultConfig(), nil)
		m.Acquire(testKey, "a", 0, 3, 10, startAt(0))
		m.ReleaseMember("g", "a")
		synctest.Wait()
		// Retention deleted offsets 0-1: only 2 is delivered again, then new ones.
		got, _ := m.Acquire(testKey, "b", 2, 5, 10, startAt(0))
		if want := []AcquiredRange{{2, 2, 2}, {3, 4, 1}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("acquired %v, want %v", got, want)
		}
	})
}

func TestShareManagerDropGroup(t *testing.T) {
	s, _ := newTestStore(t, 500)
	m := newTestManager(t, s, DefaultConfig(), nil)
	other := Key{Group: "h", Partition: 0}
	m.Acquire(testKey, "a", 0, 3, 10, startAt(0))
	m.Acquire(other, "a", 0, 3, 10, startAt(0))
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); err != nil {
		t.Fatal(err)
	}
	if err := m.DropGroup(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := m.Stats(testKey); ok {
		t.Fatal("a dropped group's share-partition is still held")
	}
	if _, _, _, ok := m.Stats(other); !ok {
		t.Fatal("another group's share-partition was dropped")
	}
	keys, err := s.GroupKeys("g")
	if err != nil || !reflect.DeepEqual(keys, []Key{testKey}) {
		t.Fatalf("stored keys of g: %v %v", keys, err)
	}
	if err := s.Delete(keys); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.GroupKeys("g"); len(keys) != 0 {
		t.Fatalf("stored keys of g after the delete: %v", keys)
	}
	// The group starts afresh from share.auto.offset.reset.
	if got, _ := m.Acquire(testKey, "b", 0, 3, 10, startAt(2)); !reflect.DeepEqual(got, []AcquiredRange{{2, 2, 1}}) {
		t.Fatalf("acquired %v after the delete", got)
	}
}

// TestShareManagerWindowRoom: with the window full of record locks, an acceptance that
// moves the start offset makes room: OnAvailable tells waiting fetches.
func TestShareManagerWindowRoom(t *testing.T) {
	s, _ := newTestStore(t, 500)
	cfg := DefaultConfig()
	cfg.PartitionMaxRecordLocks = 2
	var available atomic.Int32
	m := newTestManager(t, s, cfg, func(Key) { available.Add(1) })
	m.Acquire(testKey, "a", 0, 10, 10, startAt(0))
	if got, _ := m.Acquire(testKey, "b", 0, 10, 10, startAt(0)); got != nil {
		t.Fatalf("acquired %v from a full window", got)
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(1, 1, Accept)); err != nil {
		t.Fatal(err)
	}
	if available.Load() != 0 {
		t.Fatal("OnAvailable called though the start did not move")
	}
	if err := m.Acknowledge(context.Background(), testKey, "a", acks(0, 0, Accept)); err != nil {
		t.Fatal(err)
	}
	if available.Load() != 1 {
		t.Fatalf("OnAvailable called %d times after the start moved, want 1", available.Load())
	}
	if got, _ := m.Acquire(testKey, "b", 0, 10, 10, startAt(0)); !reflect.DeepEqual(got, []AcquiredRange{{2, 3, 1}}) {
		t.Fatalf("acquired %v after the window moved", got)
	}
}

// TestShareManagerLeadershipMoves: a topic partition's leadership moves from one manager
// to another (the new leader reads the stored state): accepted records are never
// delivered again, those in flight on the old leader are; the old leader's late write
// is fenced by the new leader's epoch.
func TestShareManagerLeadershipMoves(t *testing.T) {
	s, _ := newTestStore(t, 500)
	epoch := func(e int32) func([16]byte, int32) int32 { return func([16]byte, int32) int32 { return e } }
	old := NewManager(ManagerOptions{Store: s, LeaderEpoch: epoch(1), Logger: slog.New(slog.DiscardHandler)})
	defer old.Close()
	if _, err := old.Acquire(testKey, "a", 0, 10, 10, startAt(0)); err != nil {
		t.Fatal(err)
	}
	if err := old.Acknowledge(context.Background(), testKey, "a", acks(0, 3, Accept, Accept, Accept, Accept)); err != nil {
		t.Fatal(err)
	}
	old.DropPartition(testKey.TopicID, testKey.Partition)
	if _, _, _, ok := old.Stats(testKey); ok {
		t.Fatal("the old leader still holds the share-partition")
	}
	if err := old.Acknowledge(context.Background(), testKey, "a", acks(4, 4, Accept)); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("acknowledgement on the old leader after the move: %v", err)
	}

	m := NewManager(ManagerOptions{Store: s, LeaderEpoch: epoch(2), Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	got, err := m.Acquire(testKey, "b", 0, 10, 100, startAt(99))
	// Acquisitions are not stored: 4-9 come back as they were before (first delivery).
	if want := []AcquiredRange{{4, 9, 1}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("the new leader acquired %v %v, want %v", got, err, want)
	}
	if err := m.Acknowledge(context.Background(), testKey, "b", acks(4, 4, Accept)); err != nil {
		t.Fatal(err)
	}
	// A write of the old leader's that comes late is refused.
	if err := s.Write([]Update{{Key: testKey, LeaderEpoch: 1, Start: -1, Batches: []StateBatch{{4, 4, Available, 1}}}}); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("the old leader's late write: %v", err)
	}
	if st, _, _ := s.Read(testKey); st.Start != 5 {
		t.Fatalf("stored start %d, want 5", st.Start)
	}
}
