package share

import (
	"errors"
	"flag"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stratalog/strata/dlq"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestShareStateRandom (0: a new one)")

var (
	t0     = time.UnixMilli(1_700_000_000_000)
	limits = Limits{LockDuration: 30 * time.Second, DeliveryLimit: 3, MaxRecordLocks: 100}
)

func acks(first, last int64, types ...AckType) []AckBatch {
	return []AckBatch{{First: first, Last: last, Types: types}}
}

// ackStored acknowledges and stores the transitions as a successful write does
// (TakeUpdate, EndWrite).
func ackStored(s *PartitionState, member string, batches []AckBatch, now time.Time, l Limits) error {
	err := s.Acknowledge(member, batches, now, l)
	s.TakeUpdate()
	s.EndWrite(true, now, l)
	return err
}

func wantState(t *testing.T, s *PartitionState, o int64, st RecordState, count int16) {
	t.Helper()
	if gs, gc := s.State(o); gs != st || gc != count {
		t.Fatalf("offset %d: %s delivered %d times, want %s %d times", o, gs, gc, st, count)
	}
}

func TestShareStateAcquireBounds(t *testing.T) {
	s := NewPartitionState(10)
	// Below the limit only, at most maxRecords.
	got := s.Acquire("a", 14, 100, t0, limits)
	if want := []AcquiredRange{{10, 13, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	got = s.Acquire("b", 100, 2, t0, limits)
	if want := []AcquiredRange{{14, 15, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	if s.InFlight() != 6 || s.End() != 16 {
		t.Fatalf("in flight %d, end %d; want 6, 16", s.InFlight(), s.End())
	}
	// The window never grows past MaxRecordLocks.
	l := limits
	l.MaxRecordLocks = 8
	got = s.Acquire("b", 100, 100, t0, l)
	if want := []AcquiredRange{{16, 17, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	if got := s.Acquire("c", 100, 100, t0, l); got != nil {
		t.Fatalf("acquired %v from a full window", got)
	}
	// Once the front is done, the window moves and there is room again.
	if err := ackStored(s, "a", acks(10, 13, Accept), t0, l); err != nil {
		t.Fatal(err)
	}
	if s.Start() != 14 {
		t.Fatalf("start %d after accepting 10-13, want 14", s.Start())
	}
	if got, want := s.Acquire("c", 100, 100, t0, l), []AcquiredRange{{18, 21, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
}

func TestShareStateAcceptNeverRedelivered(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 5, 10, t0, limits)
	// 1 and 3 accepted, the rest released: only the released come back, counted twice.
	err := ackStored(s, "a", []AckBatch{{First: 0, Last: 4, Types: []AckType{Release, Accept, Release, Accept, Release}}}, t0, limits)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Acquire("b", 5, 10, t0, limits)
	want := []AcquiredRange{{0, 0, 2}, {2, 2, 2}, {4, 4, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	wantState(t, s, 1, Acknowledged, 1)
}

func TestShareStateDeliveryLimitArchives(t *testing.T) {
	s := NewPartitionState(0)
	for i := range limits.DeliveryLimit {
		got := s.Acquire("a", 1, 10, t0, limits)
		if want := []AcquiredRange{{0, 0, i + 1}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("delivery %d: acquired %v, want %v", i+1, got, want)
		}
		if err := ackStored(s, "a", acks(0, 0, Release), t0, limits); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Acquire("a", 1, 10, t0, limits); got != nil {
		t.Fatalf("acquired %v after %d deliveries", got, limits.DeliveryLimit)
	}
	if s.Start() != 1 {
		t.Fatalf("start %d: the archived record should be behind it", s.Start())
	}
}

func TestShareStateRejectAndGapArchive(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 3, 10, t0, limits)
	if err := ackStored(s, "a", []AckBatch{{0, 0, []AckType{Reject}}, {1, 2, []AckType{Gap, Accept}}}, t0, limits); err != nil {
		t.Fatal(err)
	}
	if s.Start() != 3 || s.InFlight() != 0 {
		t.Fatalf("start %d, in flight %d; want 3, 0", s.Start(), s.InFlight())
	}
}

func TestShareStateLockExpiry(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 2, 10, t0, limits)
	if d, ok := s.NextDeadline(); !ok || !d.Equal(t0.Add(limits.LockDuration)) {
		t.Fatalf("next deadline %v %v", d, ok)
	}
	// Renewing offset 1 keeps it; offset 0's lock expires.
	if err := s.Acknowledge("a", acks(1, 1, Renew), t0.Add(20*time.Second), limits); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(limits.LockDuration)
	got := s.Acquire("b", 2, 10, later, limits)
	if want := []AcquiredRange{{0, 0, 2}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("acquired %v after expiry, want %v", got, want)
	}
	// a's acknowledgement after its lock expired is refused, and changes nothing.
	err := s.Acknowledge("a", acks(0, 1, Accept), later, limits)
	if !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("ack after expiry: %v, want ErrInvalidRecordState", err)
	}
	wantState(t, s, 1, Acquired, 1)
	// Expire reports the renewed lock expiring 20 s after the first.
	if s.Expire(later.Add(19*time.Second), limits) {
		t.Fatal("a renewed lock expired early")
	}
	if !s.Expire(later.Add(30*time.Second), limits) {
		t.Fatal("no lock expired")
	}
	wantState(t, s, 0, Available, 2)
	wantState(t, s, 1, Available, 1)
}

func TestShareStateBadAcks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		member  string
		batches []AckBatch
		want    error
	}{
		{"first past last", "a", acks(3, 2, Accept), ErrInvalidRequest},
		{"negative", "a", acks(-1, 2, Accept), ErrInvalidRequest},
		{"overlapping", "a", []AckBatch{{0, 2, []AckType{Accept}}, {2, 3, []AckType{Accept}}}, ErrInvalidRequest},
		{"descending", "a", []AckBatch{{3, 3, []AckType{Accept}}, {0, 1, []AckType{Accept}}}, ErrInvalidRequest},
		{"no types", "a", acks(0, 1), ErrInvalidRequest},
		{"types count", "a", acks(0, 2, Accept, Accept), ErrInvalidRequest},
		{"unknown type", "a", acks(0, 1, 5), ErrInvalidRequest},
		{"negative type", "a", acks(0, 1, -1), ErrInvalidRequest},
		{"past the end", "a", acks(3, 9, Accept), ErrInvalidRequest},
		{"other member", "b", acks(0, 0, Accept), ErrInvalidRecordState},
		{"unknown member", "", acks(0, 0, Accept), ErrInvalidRecordState},
		// The second batch is bad: the first must not be applied either.
		{"all or none", "a", []AckBatch{{0, 0, []AckType{Accept}}, {4, 4, []AckType{Accept}}}, ErrInvalidRecordState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewPartitionState(0)
			s.Acquire("a", 4, 10, t0, limits)
			s.Acquire("b", 5, 10, t0, limits) // b holds 4
			if err := s.Acknowledge("a", acks(4, 4, Accept), t0, limits); !errors.Is(err, ErrInvalidRecordState) {
				t.Fatalf("a acknowledging b's record: %v", err)
			}
			before, _ := s.Snapshot()
			err := s.Acknowledge(tc.member, tc.batches, t0, limits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if after, _ := s.Snapshot(); after != before || s.InFlight() != 5 {
				t.Fatalf("a refused acknowledgement changed the state: start %d→%d, %d in flight", before, after, s.InFlight())
			}
			for o := range int64(5) {
				wantState(t, s, o, Acquired, 1)
			}
		})
	}
}

func TestShareStateAcknowledgedTwice(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 3, 10, t0, limits)
	if err := s.Acknowledge("a", acks(1, 1, Accept), t0, limits); err != nil {
		t.Fatal(err)
	}
	// Again while its write is pending, and once stored.
	if err := s.Acknowledge("a", acks(1, 1, Accept), t0, limits); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("second acceptance, not stored yet: %v, want ErrInvalidRecordState", err)
	}
	if err := ackStored(s, "a", acks(1, 1, Accept), t0, limits); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("second acceptance: %v, want ErrInvalidRecordState", err)
	}
	// Offsets below the start are done: acknowledging them again is harmless.
	if err := ackStored(s, "a", acks(0, 0, Accept), t0, limits); err != nil {
		t.Fatal(err)
	}
	if err := s.Acknowledge("a", acks(0, 0, Release), t0, limits); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, 0, Acknowledged, 0)
	if s.Start() != 2 {
		t.Fatalf("start %d, want 2", s.Start())
	}
}

func TestShareStateReleaseMember(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 2, 10, t0, limits)
	s.Acquire("b", 4, 10, t0, limits)
	if !s.ReleaseMember("a", limits) || s.ReleaseMember("a", limits) {
		t.Fatal("ReleaseMember reported wrongly")
	}
	if got := s.Acquire("c", 4, 10, t0, limits); got != nil {
		t.Fatalf("acquired %v released records not stored yet", got)
	}
	s.TakeUpdate()
	if !s.EndWrite(true, t0, limits) {
		t.Fatal("EndWrite did not report the released records")
	}
	wantState(t, s, 0, Available, 1)
	wantState(t, s, 2, Acquired, 1)
	if s.InFlight() != 2 {
		t.Fatalf("in flight %d, want 2", s.InFlight())
	}
}

func TestShareStateAdvanceTo(t *testing.T) {
	s := NewPartitionState(0)
	s.Acquire("a", 4, 10, t0, limits)
	s.AdvanceTo(2) // the log start moved: 0 and 1 are gone
	if s.Start() != 2 || s.InFlight() != 2 {
		t.Fatalf("start %d, in flight %d; want 2, 2", s.Start(), s.InFlight())
	}
	s.AdvanceTo(1)
	if s.Start() != 2 {
		t.Fatal("AdvanceTo moved the start down")
	}
	s.AdvanceTo(10)
	if s.Start() != 10 || s.End() != 10 || s.InFlight() != 0 {
		t.Fatalf("start %d end %d in flight %d; want 10 10 0", s.Start(), s.End(), s.InFlight())
	}
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("a deadline with nothing acquired")
	}
}

func TestShareStateUpdatesCoalesce(t *testing.T) {
	s := NewPartitionState(0)
	if start, _, ok := s.TakeUpdate(); !ok || start != 0 {
		t.Fatalf("a new state's first update: start %d ok %v", start, ok)
	}
	s.Acquire("a", 6, 10, t0, limits)
	if _, _, ok := s.TakeUpdate(); ok {
		t.Fatal("an acquisition alone is stored: it must not be (Kafka stores none)")
	}
	s.Acknowledge("a", acks(2, 4, Accept), t0, limits)
	s.Acknowledge("a", acks(5, 5, Release), t0, limits)
	start, batches, ok := s.TakeUpdate()
	want := []StateBatch{{2, 4, Acknowledged, 1}, {5, 5, Available, 1}}
	if !ok || start != -1 || !reflect.DeepEqual(batches, want) {
		t.Fatalf("update %d %v %v, want -1 %v", start, batches, ok, want)
	}
	s.EndWrite(true, t0, limits)
	s.Acknowledge("a", acks(0, 1, Accept), t0, limits)
	// The start the update carries is past the records it acknowledges, before they
	// are committed; once they are, it is stored: nothing more to write.
	start, batches, _ = s.TakeUpdate()
	if start != 5 || batches != nil || s.Start() != 0 {
		t.Fatalf("update %d %v (start %d), want start 5 and no batch (the window moves past them)", start, batches, s.Start())
	}
	s.EndWrite(true, t0, limits)
	if s.Start() != 5 || s.Dirty() {
		t.Fatalf("start %d, dirty %v after the write; want 5, false", s.Start(), s.Dirty())
	}
}

// TestShareStateRandom drives a state with a seeded stream of operations and replays
// what it stores (TakeUpdate, now and then Snapshot) into a second state, as a load of
// __share_group_state would: the replayed state must always equal the stored view of the
// first (acquired records Available, at the delivery count before their acquisition, as
// the state is stored after every step). One write in eight fails: its transitions are
// rolled back (their records Acquired again, or released if their lock expired
// meanwhile), and the next write stores the whole state (Snapshot), as the Manager does.
// -seed replays a stream.
func TestShareStateRandom(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	l := Limits{LockDuration: 10 * time.Second, DeliveryLimit: 3, MaxRecordLocks: 40}
	s, replica := NewPartitionState(5), &PartitionState{}
	hwm, now := int64(5), t0
	resync := false
	members := []string{"a", "b", "c"}
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 2:
			hwm += int64(rng.IntN(8))
		case op < 4:
			s.Acquire(members[rng.IntN(3)], hwm, 1+rng.IntN(10), now, l)
		case op < 7:
			m := members[rng.IntN(3)]
			first := s.Start() + int64(rng.IntN(max(1, int(s.End()-s.Start()))))
			last := first + int64(rng.IntN(4))
			types := []AckType{AckType(rng.IntN(5))}
			if rng.IntN(2) == 0 {
				types = make([]AckType, last-first+1)
				for i := range types {
					types[i] = AckType(rng.IntN(5))
				}
			}
			in := snapshotOf(s)
			if err := s.Acknowledge(m, []AckBatch{{first, last, types}}, now, l); err != nil && !reflect.DeepEqual(in, snapshotOf(s)) {
				t.Fatalf("step %d: refused acknowledgement %v changed the state", step, err)
			}
		case op < 8:
			now = now.Add(time.Duration(rng.IntN(6)) * time.Second)
			s.Expire(now, l)
		case op < 9:
			s.ReleaseMember(members[rng.IntN(3)], l)
		default:
			if rng.IntN(4) == 0 {
				s.AdvanceTo(s.Start() + int64(rng.IntN(3)))
			}
		}
		if s.End()-s.Start() > int64(l.MaxRecordLocks) {
			t.Fatalf("step %d: window %d-%d past %d record locks", step, s.Start(), s.End(), l.MaxRecordLocks)
		}
		fail := rng.IntN(8) == 0
		switch start, batches, ok := s.TakeUpdate(); {
		case resync || rng.IntN(50) == 0:
			start, batches = s.Snapshot()
			if !fail {
				replica.ApplySnapshot(start, batches)
			}
		case ok && !fail:
			replica.ApplyUpdate(start, batches)
		}
		if fail { // a write that failed may have taken long: locks expire meanwhile
			now = now.Add(time.Duration(rng.IntN(12)) * time.Second)
		}
		s.EndWrite(!fail, now, l)
		if s.pending != 0 {
			t.Fatalf("step %d: %d transitions pending after the write", step, s.pending)
		}
		if resync = fail; fail {
			s.Expire(now, l)
			continue
		}
		for o := s.Start() - 2; o < s.End()+2; o++ {
			st, c := s.State(o)
			if st == Acquired {
				// Acquisitions are not stored: a replay redelivers the record
				// at the count its last stored change left.
				st, c = Available, c-1
			}
			if o < s.Start() {
				c = 0
			}
			if rs, rc := replica.State(o); rs != st || rc != c {
				t.Fatalf("step %d offset %d: replayed %s %d, stored %s %d", step, o, rs, rc, st, c)
			}
		}
	}
}

func snapshotOf(s *PartitionState) []any {
	var out []any
	for o := s.Start(); o < s.End(); o++ {
		st, c := s.State(o)
		out = append(out, st, c)
	}
	return append(out, s.Start(), s.InFlight())
}

// TestShareStateRollback: transitions whose write fails are rolled back as Kafka's
// SharePartition rolls them back: the records are Acquired by their member again, under
// their lock, nobody else acquired them meanwhile, nothing is a dead letter, and the
// member's acknowledgement succeeds again; a lock that expired during the write releases
// its records instead.
func TestShareStateRollback(t *testing.T) {
	l := limits
	l.DeliveryLimit = 1
	s := NewPartitionState(0)
	s.Acquire("a", 5, 10, t0, l)
	ack := []AckBatch{{0, 3, []AckType{Accept, Release, Reject, Gap}}}
	if err := s.Acknowledge("a", ack, t0, l); err != nil {
		t.Fatal(err)
	}
	// 1 released at the delivery limit is archived: the update stores the start past all.
	if start, batches, _ := s.TakeUpdate(); start != 4 || batches != nil {
		t.Fatalf("update %d %v, want 4 and no batch", start, batches)
	}
	// During the write: nobody acquires them, nor acknowledges them again.
	if got := s.Acquire("b", 5, 10, t0, l); got != nil {
		t.Fatalf("acquired %v during the write", got)
	}
	if err := s.Acknowledge("a", acks(1, 1, Accept), t0, l); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("acknowledged again during the write: %v", err)
	}
	if s.InFlight() != 5 || s.Summary().Done != 0 {
		t.Fatalf("in flight %d, done %d during the write; want 5, 0", s.InFlight(), s.Summary().Done)
	}
	if s.EndWrite(false, t0.Add(time.Second), l) {
		t.Fatal("a rollback under live locks reported records available")
	}
	for o := range int64(5) {
		wantState(t, s, o, Acquired, 1)
	}
	if s.Start() != 0 || s.InFlight() != 5 || s.TakeDead() != nil {
		t.Fatalf("start %d, in flight %d after the rollback; want 0, 5, no dead letter", s.Start(), s.InFlight())
	}
	if d, _ := s.NextDeadline(); !d.Equal(t0.Add(l.LockDuration)) {
		t.Fatalf("lock deadline %v after the rollback, want the acquisition's", d)
	}
	if got := s.Acquire("b", 5, 10, t0, l); got != nil {
		t.Fatalf("acquired %v after the rollback", got)
	}
	// Acknowledged again, stored: the same as had the first write succeeded.
	if err := ackStored(s, "a", ack, t0.Add(2*time.Second), l); err != nil {
		t.Fatal(err)
	}
	if s.Start() != 4 || s.InFlight() != 1 {
		t.Fatalf("start %d, in flight %d; want 4, 1", s.Start(), s.InFlight())
	}
	if got, want := s.TakeDead(), []DeadRecord{{1, 1, dlq.DeliveryLimit}, {2, 1, dlq.Rejected}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("dead %v, want %v", got, want)
	}

	// A lock that expired during the failed write: released (Archived at the limit).
	s = NewPartitionState(0)
	s.Acquire("a", 2, 10, t0, limits)
	s.Acknowledge("a", acks(0, 1, Accept), t0, limits)
	s.TakeUpdate()
	if !s.EndWrite(false, t0.Add(limits.LockDuration), limits) {
		t.Fatal("records released by a rollback not reported")
	}
	wantState(t, s, 0, Available, 1)
	if got := s.Acquire("b", 2, 10, t0.Add(limits.LockDuration), limits); !reflect.DeepEqual(got, []AcquiredRange{{0, 1, 2}}) {
		t.Fatalf("acquired %v after the rollback of expired locks", got)
	}

	// A member's release rolled back: it holds its records again.
	s = NewPartitionState(0)
	s.Acquire("a", 2, 10, t0, limits)
	s.ReleaseMember("a", limits)
	s.Snapshot()
	s.EndWrite(false, t0, limits)
	wantState(t, s, 1, Acquired, 1)
	if err := ackStored(s, "a", acks(0, 1, Accept), t0, limits); err != nil || s.Start() != 2 {
		t.Fatalf("acknowledging after a rolled back release: %v, start %d", err, s.Start())
	}
}
