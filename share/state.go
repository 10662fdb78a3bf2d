package share

import (
	"fmt"
	"time"

	"github.com/stratalog/strata/dlq"
)

// RecordState is the delivery state of one record of a share-partition, with Kafka's
// numbers (they are stored in __share_group_state's state batches).
type RecordState int8

// Record states (KIP-932). Acquired is never stored: a record acquired when the state was
// written is stored Available, so it is delivered again after a restart.
const (
	Available    RecordState = 0
	Acquired     RecordState = 1
	Acknowledged RecordState = 2
	Archived     RecordState = 4
)

func (s RecordState) String() string {
	switch s {
	case Available:
		return "Available"
	case Acquired:
		return "Acquired"
	case Acknowledged:
		return "Acknowledged"
	case Archived:
		return "Archived"
	}
	return fmt.Sprintf("RecordState(%d)", int8(s))
}

// AckType is an acknowledgement type of ShareFetch and ShareAcknowledge.
type AckType int8

// Acknowledgement types (KIP-932; Renew is KIP-1222's, ShareAcknowledge and ShareFetch v2).
const (
	Gap     AckType = 0 // the offset holds no record (compacted, a control record): archived
	Accept  AckType = 1 // processed: acknowledged, never delivered again
	Release AckType = 2 // back to Available (delivery count kept), for any member
	Reject  AckType = 3 // unprocessable: archived
	Renew   AckType = 4 // the lock is extended by the lock duration
)

// Limits are the settings a share-partition's operations obey (from the group's settings:
// see Config).
type Limits struct {
	// LockDuration is how long an acquired record stays locked to its member
	// (share.record.lock.duration.ms).
	LockDuration time.Duration
	// DeliveryLimit is how many times a record is delivered at most: a record released
	// or whose lock expires after that many deliveries is archived
	// (share.delivery.count.limit).
	DeliveryLimit int16
	// MaxRecordLocks bounds the in-flight window (from the start offset to the end
	// offset, Kafka's count of in-flight records): no new offset is acquired past it
	// (group.share.partition.max.record.locks).
	MaxRecordLocks int
}

// AcquiredRange is a range of offsets acquired by one ShareFetch, with their delivery count
// (ShareFetch's AcquiredRecords).
type AcquiredRange struct {
	First, Last   int64
	DeliveryCount int16
}

// AckBatch is one acknowledgement batch: offsets First…Last with either one type for them
// all or one type per offset.
type AckBatch struct {
	First, Last int64
	Types       []AckType
}

// record is the state of one offset of the in-flight window.
type record struct {
	state    RecordState
	count    int16      // deliveries so far
	pend     pending    // its transition from Acquired is not stored yet
	dead     dlq.Reason // a pending transition's reason to archive it as a dead letter (0: none)
	member   string     // holder while Acquired or pending
	deadline time.Time  // lock expiry while Acquired or pending
	dirty    bool       // changed since the last TakeUpdate
}

// pending is where a record's transition from Acquired by an acknowledgement or a release
// (Acknowledge, ReleaseMember) stands: applied, not yet taken by a write (TakeUpdate,
// Snapshot), or being written (EndWrite commits or rolls it back). As Kafka's
// SharePartition: a record in a pending transition is neither acquired nor acknowledged
// again, and the start does not move past it.
type pending uint8

const (
	settled pending = iota
	applied
	writing
)

// PartitionState is the state of one share-partition (a group's view of one topic
// partition): the share-partition start offset (SPSO) below which every record is done,
// and the in-flight window of records from there to the end offset, each Available,
// Acquired (by a member, until a deadline), Acknowledged or Archived. Offsets at and past
// the end have never been acquired.
//
// Concurrency: none; its owner (the share coordinator's shard) locks it.
type PartitionState struct {
	start        int64
	recs         []record // recs[i] is offset start+i
	startDirty   bool     // start moved since the last TakeUpdate
	acquired     int      // records in state Acquired
	pending      int      // records in a pending transition
	dirtyRecords int
	writeStart   int64        // the start the write in progress carries
	dead         []DeadRecord // archived by Reject or the delivery limit since TakeDead
}

// DeadRecord is a record archived because a consumer rejected it or it reached the
// delivery limit: what goes to the group's dead-letter topic (KIP-1191).
type DeadRecord struct {
	Offset        int64
	DeliveryCount int16
	Reason        dlq.Reason
}

// TakeDead returns the records archived by Reject or the delivery limit since the last
// call, in the order they were archived, and forgets them. (Gaps, and records archived
// otherwise, are not dead letters.)
func (s *PartitionState) TakeDead() []DeadRecord {
	d := s.dead
	s.dead = nil
	return d
}

// NewPartitionState returns the state of a share-partition starting at offset start (from
// share.auto.offset.reset when the group first reads the partition), with nothing in
// flight.
func NewPartitionState(start int64) *PartitionState {
	return &PartitionState{start: start, startDirty: true}
}

// Start is the share-partition start offset: every record below it is done.
func (s *PartitionState) Start() int64 { return s.start }

// End is the first offset never acquired: the end of the in-flight window.
func (s *PartitionState) End() int64 { return s.start + int64(len(s.recs)) }

// InFlight reports how many records are acquired now, or acknowledged or released while
// their transition is not stored yet.
func (s *PartitionState) InFlight() int { return s.acquired + s.pending }

// State reports the state and delivery count of offset o: below the start Acknowledged
// (done), at or past the end Available with no delivery.
func (s *PartitionState) State(o int64) (RecordState, int16) {
	switch {
	case o < s.start:
		return Acknowledged, 0
	case o >= s.End():
		return Available, 0
	}
	r := &s.recs[o-s.start]
	return r.state, r.count
}

// Acquire locks for member up to maxRecords records below limit (the partition's high
// watermark, or its last stable offset under read_committed): first the Available records
// of the window, then new offsets from the end, as long as the window stays within
// l.MaxRecordLocks. Expired locks are released first. It returns the acquired ranges in
// offset order, each of one delivery count (incremented by this acquisition).
func (s *PartitionState) Acquire(member string, limit int64, maxRecords int, now time.Time, l Limits) []AcquiredRange {
	s.Expire(now, l)
	var out []AcquiredRange
	deadline := now.Add(l.LockDuration)
	take := func(o int64, r *record) {
		r.state, r.member, r.deadline = Acquired, member, deadline
		r.count++
		s.acquired++
		maxRecords--
		if n := len(out); n > 0 && out[n-1].Last == o-1 && out[n-1].DeliveryCount == r.count {
			out[n-1].Last = o
			return
		}
		out = append(out, AcquiredRange{First: o, Last: o, DeliveryCount: r.count})
	}
	for i := range s.recs {
		if maxRecords <= 0 {
			return out
		}
		o := s.start + int64(i)
		if o >= limit {
			return out
		}
		if r := &s.recs[i]; r.state == Available && r.pend == settled {
			take(o, r)
		}
	}
	for maxRecords > 0 && s.End() < limit && len(s.recs) < l.MaxRecordLocks {
		s.recs = append(s.recs, record{})
		take(s.End()-1, &s.recs[len(s.recs)-1])
	}
	return out
}

// Acknowledge applies member's acknowledgement batches, all or none: it returns an error
// wrapping ErrInvalidRequest for malformed batches (first past last, batches not in
// ascending order or overlapping, a count of types that is neither 1 nor the batch's
// length, an unknown type, offsets past the end) and one wrapping ErrInvalidRecordState
// for an offset not acquired by member now (never acquired, acknowledged, or its lock
// expired, or its transition by an earlier acknowledgement not stored yet). Offsets below
// the start are already done and ignored. Renew extends the lock by l.LockDuration from
// now. The other types' transitions are pending until a write stores them (see EndWrite).
func (s *PartitionState) Acknowledge(member string, batches []AckBatch, now time.Time, l Limits) error {
	s.Expire(now, l)
	prev := int64(-1)
	for _, b := range batches {
		switch {
		case b.First < 0 || b.First > b.Last:
			return fmt.Errorf("%w: acknowledgement batch %d-%d", ErrInvalidRequest, b.First, b.Last)
		case b.First <= prev:
			return fmt.Errorf("%w: acknowledgement batch %d-%d overlaps or precedes the one before", ErrInvalidRequest, b.First, b.Last)
		case len(b.Types) == 0 || len(b.Types) > 1 && int64(len(b.Types)) != b.Last-b.First+1:
			return fmt.Errorf("%w: %d acknowledgement types for offsets %d-%d", ErrInvalidRequest, len(b.Types), b.First, b.Last)
		case b.Last >= s.End():
			return fmt.Errorf("%w: offsets %d-%d acknowledged past the end offset %d", ErrInvalidRequest, b.First, b.Last, s.End())
		}
		for _, t := range b.Types {
			if t < Gap || t > Renew {
				return fmt.Errorf("%w: acknowledgement type %d", ErrInvalidRequest, t)
			}
		}
		prev = b.Last
		for o := max(b.First, s.start); o <= b.Last; o++ {
			if r := &s.recs[o-s.start]; r.state != Acquired || r.member != member {
				return fmt.Errorf("%w: offset %d is %s, not acquired by the member", ErrInvalidRecordState, o, r.state)
			}
		}
	}
	for _, b := range batches {
		for o := max(b.First, s.start); o <= b.Last; o++ {
			t := b.Types[0]
			if len(b.Types) > 1 {
				t = b.Types[o-b.First]
			}
			r := &s.recs[o-s.start]
			switch t {
			case Gap:
				s.begin(r, Archived, 0)
			case Reject:
				s.begin(r, Archived, dlq.Rejected)
			case Accept:
				s.begin(r, Acknowledged, 0)
			case Release:
				st, dead := l.released(r.count)
				s.begin(r, st, dead)
			case Renew:
				r.deadline = now.Add(l.LockDuration)
			}
		}
	}
	return nil
}

// begin starts the transition of the acquired record r to state st, pending until a
// write stores it; dead is why it becomes a dead letter then, if it does.
func (s *PartitionState) begin(r *record, st RecordState, dead dlq.Reason) {
	s.acquired--
	s.pending++
	r.state, r.pend, r.dead = st, applied, dead
	s.markDirty(r)
}

// released is the state a record delivered count times goes to when released, and why
// it is a dead letter then: Available, or Archived at the delivery limit.
func (l Limits) released(count int16) (RecordState, dlq.Reason) {
	if count >= l.DeliveryLimit {
		return Archived, dlq.DeliveryLimit
	}
	return Available, 0
}

// EndWrite ends the write of the pending transitions the last TakeUpdate or Snapshot
// took: stored (ok), they are committed — the records released by them are Available to
// any member, the rejected ones and those released at the delivery limit dead letters
// (TakeDead), and the start moves past the done records; not stored, they are rolled
// back, as Kafka's SharePartition does: the records are Acquired by their member again
// under their lock, or, when it expired meanwhile (at now), released as by Expire. It
// reports whether records became Available or the start moved.
func (s *PartitionState) EndWrite(ok bool, now time.Time, l Limits) (available bool) {
	if s.pending > 0 {
		for i := range s.recs {
			r := &s.recs[i]
			if r.pend != writing {
				continue
			}
			s.pending--
			r.pend = settled
			switch {
			case ok:
				if r.dead != 0 {
					s.dead = append(s.dead, DeadRecord{Offset: s.start + int64(i), DeliveryCount: r.count, Reason: r.dead})
				}
				available = available || r.state == Available
				r.member, r.deadline = "", time.Time{}
			case now.Before(r.deadline):
				r.state = Acquired
				s.acquired++
			default:
				r.state = Acquired
				s.acquired++
				s.release(r, s.start+int64(i), l)
				available = true
			}
			r.dead = 0
		}
	}
	start, dirty := s.start, s.startDirty
	s.advance()
	if ok && !dirty && s.start == s.writeStart {
		s.startDirty = false // the write stored this start
	}
	return available || s.start != start
}

// Expire releases the records whose lock expired at now (archiving those delivered
// l.DeliveryLimit times) and reports whether any did.
func (s *PartitionState) Expire(now time.Time, l Limits) bool {
	if s.acquired == 0 {
		return false
	}
	n := 0
	for i := range s.recs {
		if r := &s.recs[i]; r.state == Acquired && !now.Before(r.deadline) {
			s.release(r, s.start+int64(i), l)
			n++
		}
	}
	if n > 0 {
		s.advance()
	}
	return n > 0
}

// NextDeadline is the earliest lock expiry of the acquired records; ok is false when none
// is acquired.
func (s *PartitionState) NextDeadline() (deadline time.Time, ok bool) {
	if s.acquired == 0 {
		return time.Time{}, false
	}
	for i := range s.recs {
		if r := &s.recs[i]; r.state == Acquired && (!ok || r.deadline.Before(deadline)) {
			deadline, ok = r.deadline, true
		}
	}
	return deadline, ok
}

// ReleaseMember releases every record member holds (it left the group or closed its share
// session), as a Release acknowledgement would (pending until stored), and reports
// whether it held any.
func (s *PartitionState) ReleaseMember(member string, l Limits) bool {
	held := false
	for i := 0; s.acquired > 0 && i < len(s.recs); i++ {
		if r := &s.recs[i]; r.state == Acquired && r.member == member {
			st, dead := l.released(r.count)
			s.begin(r, st, dead)
			held = true
		}
	}
	return held
}

// AdvanceTo moves the start offset up to o (the partition's log start offset moved past
// it: those records are gone), dropping their state, and past the done records that
// follow. A lower o changes nothing.
func (s *PartitionState) AdvanceTo(o int64) {
	if o <= s.start {
		return
	}
	n := min(o-s.start, int64(len(s.recs)))
	for i := range n {
		s.forget(&s.recs[i])
	}
	s.recs = append(s.recs[:0], s.recs[n:]...)
	s.start, s.startDirty = o, true
	s.advance()
}

// release makes the acquired record r (offset o) Available, or Archived once delivered
// l.DeliveryLimit times.
func (s *PartitionState) release(r *record, o int64, l Limits) {
	st, dead := l.released(r.count)
	s.settle(r, st)
	if dead != 0 {
		s.dead = append(s.dead, DeadRecord{Offset: o, DeliveryCount: r.count, Reason: dead})
	}
}

// settle moves the acquired record r to state st (not Acquired).
func (s *PartitionState) settle(r *record, st RecordState) {
	if r.state == Acquired {
		s.acquired--
	}
	r.state, r.member, r.deadline = st, "", time.Time{}
	s.markDirty(r)
}

func (s *PartitionState) markDirty(r *record) {
	if !r.dirty {
		r.dirty = true
		s.dirtyRecords++
	}
}

// forget drops the counters of r before it leaves the window.
func (s *PartitionState) forget(r *record) {
	if r.state == Acquired {
		s.acquired--
	}
	if r.pend != settled {
		s.pending--
	}
	if r.dirty {
		s.dirtyRecords--
	}
}

// advance moves the start past the done (Acknowledged or Archived) records at the front
// of the window, up to the first in a pending transition.
func (s *PartitionState) advance() {
	n := s.done(false)
	for i := range n {
		s.forget(&s.recs[i])
	}
	if n == 0 {
		return
	}
	s.recs = append(s.recs[:0], s.recs[n:]...)
	s.start += int64(n)
	s.startDirty = true
}

// done counts the done records at the front of the window: those whose transition is
// pending too with pending, else up to the first of them.
func (s *PartitionState) done(pending bool) int {
	n := 0
	for ; n < len(s.recs); n++ {
		if r := &s.recs[n]; r.state != Acknowledged && r.state != Archived || r.pend != settled && !pending {
			break
		}
	}
	return n
}

// StateBatch is a range of offsets stored in one state with one delivery count (a state
// batch of __share_group_state's ShareSnapshot and ShareUpdate values).
type StateBatch struct {
	First, Last   int64
	State         RecordState // Available, Acknowledged or Archived
	DeliveryCount int16
}

// stored is the state and delivery count r is stored with: an acquired record as it was
// before its acquisition (Available, one delivery less), as acquisitions are not stored
// (Kafka's neither): it is delivered again after a restart.
func (r *record) stored() (RecordState, int16) {
	if r.state == Acquired {
		return Available, r.count - 1
	}
	return r.state, r.count
}

// appendBatch appends offset o stored as (st, count) to batches, extending the last batch
// when it ends just before o with the same state and count.
func appendBatch(batches []StateBatch, o int64, st RecordState, count int16) []StateBatch {
	if n := len(batches); n > 0 {
		if b := &batches[n-1]; b.Last == o-1 && b.State == st && b.DeliveryCount == count {
			b.Last = o
			return batches
		}
	}
	return append(batches, StateBatch{First: o, Last: o, State: st, DeliveryCount: count})
}

// Dirty reports whether the state changed since the last TakeUpdate or Snapshot.
func (s *PartitionState) Dirty() bool { return s.startDirty || s.dirtyRecords > 0 }

// TakeUpdate returns what changed since the last TakeUpdate or Snapshot — the start offset
// (-1 when it did not move) and the changed records of the window as state batches — and
// forgets the changes. ok is false when nothing changed. The pending transitions are
// stored as done, the start past them as if they were committed; they are being written
// until EndWrite.
func (s *PartitionState) TakeUpdate() (start int64, batches []StateBatch, ok bool) {
	if !s.Dirty() {
		return -1, nil, false
	}
	n := s.beginWrite()
	start = -1
	if s.startDirty || n > 0 {
		start = s.writeStart
	}
	for i := 0; s.dirtyRecords > 0 && i < len(s.recs); i++ {
		if r := &s.recs[i]; r.dirty {
			if i >= n {
				st, c := r.stored()
				batches = appendBatch(batches, s.start+int64(i), st, c)
			}
			r.dirty = false
			s.dirtyRecords--
		}
	}
	s.startDirty = false
	return start, batches, true
}

// Snapshot returns the whole state — the start offset and the state batches of every
// record of the window that is not Available undelivered — and forgets the changes. The
// pending transitions are taken as TakeUpdate takes them.
func (s *PartitionState) Snapshot() (start int64, batches []StateBatch) {
	n := s.beginWrite()
	for i := range s.recs {
		r := &s.recs[i]
		r.dirty = false
		if st, c := r.stored(); i >= n && (st != Available || c > 0) {
			batches = appendBatch(batches, s.start+int64(i), st, c)
		}
	}
	s.dirtyRecords, s.startDirty = 0, false
	return s.writeStart, batches
}

// beginWrite marks the applied transitions as being written, and sets the start the
// write carries: past the done records at the front of the window, pending or not. It
// returns how many those are.
func (s *PartitionState) beginWrite() int {
	for i := 0; s.pending > 0 && i < len(s.recs); i++ {
		if r := &s.recs[i]; r.pend == applied {
			r.pend = writing
		}
	}
	n := s.done(true)
	s.writeStart = s.start + int64(n)
	return n
}

// ApplySnapshot replaces the state with a stored snapshot (replay). Batches that lie
// below start, reach more than a million offsets past it, have a negative delivery count
// or store a state other than Available, Acknowledged or Archived are ignored; a negative
// start is taken as 0.
func (s *PartitionState) ApplySnapshot(start int64, batches []StateBatch) {
	*s = PartitionState{start: max(start, 0)}
	s.applyBatches(batches)
}

// ApplyUpdate applies a stored update (replay): the start offset moves up to start
// (unless -1 or lower), then the batches overwrite their offsets, as in ApplySnapshot.
func (s *PartitionState) ApplyUpdate(start int64, batches []StateBatch) {
	if start >= 0 {
		s.AdvanceTo(start)
		s.startDirty = false
	}
	s.applyBatches(batches)
}

// maxReplayWindow bounds the window a stored batch may open during a replay, so a
// corrupt offset cannot make the state allocate without limit.
const maxReplayWindow = 1 << 20

func (s *PartitionState) applyBatches(batches []StateBatch) {
	for _, b := range batches {
		switch b.State {
		case Available, Acknowledged, Archived:
		default:
			continue
		}
		if b.First > b.Last || b.Last < s.start || b.Last-s.start >= maxReplayWindow || b.DeliveryCount < 0 {
			continue
		}
		for s.End() <= b.Last {
			s.recs = append(s.recs, record{})
		}
		for o := max(b.First, s.start); o <= b.Last; o++ {
			s.recs[o-s.start] = record{state: b.State, count: b.DeliveryCount}
		}
	}
	s.advance()
	s.startDirty = false
	// Trailing undelivered Available records are the same as offsets never acquired.
	n := len(s.recs)
	for n > 0 && s.recs[n-1].state == Available && s.recs[n-1].count == 0 {
		n--
	}
	s.recs = s.recs[:n]
}
