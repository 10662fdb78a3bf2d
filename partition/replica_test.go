package partition

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
)

// kb is a batch of n records (idempotent when pid > 0, from sequence seq).
func kb(n int, pid int64, seq int32) []byte {
	return testutil.Batch(testutil.BatchOptions{Records: n, ProducerID: pid, BaseSequence: seq, Seed: byte(seq)})
}

// stamped returns a copy of b with base offset off and leader epoch epoch: a batch as a
// leader stored it.
func stamped(b []byte, off int64, epoch int32) []byte {
	c := append([]byte(nil), b...)
	batch.SetBaseOffset(c, off)
	batch.SetLeaderEpoch(c, epoch)
	return c
}

// openFS opens the file-backed partition in dir on fs (durable unless flushMessages > 0)
// and closes it at the end of the test.
func openFS(t *testing.T, fs vfs.FS, dir string, flushMessages int64) *Partition {
	t.Helper()
	p, err := Open(dir, &Options{Topic: "t", Logger: quietLogger(), Log: log.Options{
		FS: fs, Logger: quietLogger(), SegmentBytes: 4096, SegmentIndexBytes: 1024, FlushMessages: flushMessages}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func openMemStore(t *testing.T, st *memStore) *Partition {
	t.Helper()
	o := Options{Topic: "t", Logger: quietLogger()}
	o.EnsureDefaults()
	p, err := open(st, o, newEpochCache(nil, "", o.Logger), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustAppendBatch(t *testing.T, p *Partition, b []byte) AppendResult {
	t.Helper()
	res, err := p.Append(b)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// readFile returns the content of the partition's leader-epoch checkpoint ("" if none).
func readEpochFile(t *testing.T, fs vfs.FS, dir string) string {
	t.Helper()
	b, err := vfs.ReadSmallFile(fs, dir+"/"+LeaderEpochFile, 1<<20)
	if err != nil {
		return ""
	}
	return string(b)
}

// readAllBatches returns every batch from the log start to the log end.
func readAllBatches(t *testing.T, p *Partition) [][]byte {
	t.Helper()
	var out [][]byte
	for off := p.LogStartOffset(); off < p.EndOffset(); {
		r, err := p.Read(off, 1, ReadLogEnd)
		mustDo(t, "read", err)
		if len(r.Records) == 0 {
			t.Fatalf("nothing at %d below the end %d", off, p.EndOffset())
		}
		h, err := batch.Validate(r.Records)
		mustDo(t, "validate", err)
		out = append(out, r.Records)
		off = h.LastOffset() + 1
	}
	return out
}

// TestPartitionLeadership: roles and epochs, what each role refuses, the epochs stamped
// and the answers of OffsetForLeaderEpoch.
func TestPartitionLeadership(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 0)
	if !p.IsLeader() || p.LeaderEpoch() != 0 {
		t.Fatalf("new partition: leader %v epoch %d", p.IsLeader(), p.LeaderEpoch())
	}
	mustDo(t, "MakeLeader(0) on the leader at 0", p.MakeLeader(0))
	if readEpochFile(t, fs, "/p") != "" {
		t.Fatal("a no-op MakeLeader wrote the checkpoint")
	}
	if e, end, err := p.EndOffsetForEpoch(0); e != 0 || end != 0 || err != nil {
		t.Fatalf("empty leader: EndOffsetForEpoch(0) = %d, %d, %v", e, end, err)
	}
	mustAppendBatch(t, p, kb(3, 0, 0))
	mustDo(t, "MakeLeader(2)", p.MakeLeader(2))
	if got := readEpochFile(t, fs, "/p"); got != "0\n2\n0 0\n2 3\n" {
		t.Fatalf("checkpoint after MakeLeader(2): %q", got)
	}
	res := mustAppendBatch(t, p, kb(2, 0, 0))
	mustDo(t, "wait", p.WaitDurable(context.Background(), res.LastOffset+1))
	r, err := p.Read(res.BaseOffset, 1, ReadHighWatermark)
	mustDo(t, "read", err)
	if h, _ := batch.ParseHeader(r.Records); h.LeaderEpoch != 2 || h.BaseOffset != 3 {
		t.Fatalf("batch appended at epoch 2 stored with epoch %d at %d", h.LeaderEpoch, h.BaseOffset)
	}
	for _, tc := range []struct {
		req, epoch int32
		end        int64
		err        error
	}{
		{0, 0, 3, nil}, {1, 0, 3, nil}, {2, 2, 5, nil}, {-1, -1, -1, nil}, {3, -1, -1, ErrUnknownLeaderEpoch},
	} {
		e, end, err := p.EndOffsetForEpoch(tc.req)
		if e != tc.epoch || end != tc.end || !errors.Is(err, tc.err) {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d, %v; want %d, %d, %v", tc.req, e, end, err, tc.epoch, tc.end, tc.err)
		}
	}
	for e, want := range map[int32]error{-1: nil, 2: nil, 1: ErrFencedLeaderEpoch, 3: ErrUnknownLeaderEpoch} {
		if err := p.CheckLeaderEpoch(e); !errors.Is(err, want) && err != want {
			t.Errorf("CheckLeaderEpoch(%d) = %v, want %v", e, err, want)
		}
	}
	if err := p.MakeLeader(1); !errors.Is(err, ErrFencedLeaderEpoch) || p.LeaderEpoch() != 2 {
		t.Fatalf("MakeLeader(1) at epoch 2: %v, epoch %d", err, p.LeaderEpoch())
	}
	if _, err := p.AppendAt(stamped(kb(1, 0, 0), 5, 2)); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("AppendAt on the leader: %v", err)
	}
	if err := p.Truncate(3); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("Truncate on the leader: %v", err)
	}
	mustDo(t, "MakeFollower(3)", p.MakeFollower(3))
	if p.IsLeader() || p.LeaderEpoch() != 3 {
		t.Fatalf("after MakeFollower(3): leader %v epoch %d", p.IsLeader(), p.LeaderEpoch())
	}
	if _, err := p.Append(kb(1, 0, 0)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Append on a follower: %v", err)
	}
	if _, err := p.DeleteRecords(1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("DeleteRecords on a follower: %v", err)
	}
	if err := p.MakeFollower(2); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("MakeFollower(2) at epoch 3: %v", err)
	}
	if _, err := p.AppendAt(stamped(kb(1, 0, 0), 5, 3)); err != nil {
		t.Fatalf("AppendAt on a follower: %v", err)
	}
	mustDo(t, "close", p.Close())
	if err := p.MakeLeader(9); !errors.Is(err, ErrClosed) {
		t.Fatalf("MakeLeader after Close: %v", err)
	}
	if got := readEpochFile(t, fs, "/p"); got != "0\n3\n0 0\n2 3\n3 5\n" {
		t.Fatalf("checkpoint after Close: %q", got)
	}
	// Reopened: the leader of its latest epoch, as a single node is.
	q := openFS(t, fs, "/p", 0)
	if !q.IsLeader() || q.LeaderEpoch() != 3 {
		t.Fatalf("reopened: leader %v epoch %d", q.IsLeader(), q.LeaderEpoch())
	}
}

// TestPartitionFollowerReplicates: a follower copies its leader's log with AppendAt, byte
// for byte, epochs and producer state included; once it leads it refuses the producer's
// duplicates and gaps as the old leader would.
func TestPartitionFollowerReplicates(t *testing.T) {
	fs := vfs.NewMem()
	leader := openFS(t, fs, "/leader", 0)
	const pid = 7
	seq := int32(0)
	for i := range 12 {
		if i == 4 || i == 8 {
			mustDo(t, "MakeLeader", leader.MakeLeader(leader.LeaderEpoch()+1))
		}
		b := kb(1+i%3, 0, 0)
		if i%2 == 0 {
			b = kb(2, pid, seq)
			seq += 2
		}
		mustAppendBatch(t, leader, b)
	}
	follower := openFS(t, fs, "/follower", 0)
	mustDo(t, "MakeFollower", follower.MakeFollower(leader.LeaderEpoch()))
	for off := int64(0); off < leader.EndOffset(); {
		r, err := leader.Read(off, 300, ReadLogEnd)
		mustDo(t, "leader read", err)
		res, err := follower.AppendAt(r.Records)
		mustDo(t, "AppendAt", err)
		if res.BaseOffset != off {
			t.Fatalf("AppendAt at %d returned base %d", off, res.BaseOffset)
		}
		off = res.LastOffset + 1
	}
	lb, fb := readAllBatches(t, leader), readAllBatches(t, follower)
	if len(lb) != len(fb) {
		t.Fatalf("follower has %d batches, leader %d", len(fb), len(lb))
	}
	for i := range lb {
		if !bytes.Equal(lb[i], fb[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	if le, fe := leader.epochs.entries(), follower.epochs.entries(); !slices.Equal(le, fe) || len(le) != 3 {
		t.Fatalf("epochs: leader %v, follower %v", le, fe)
	}
	// Failover: the follower leads at the next epoch.
	mustDo(t, "MakeLeader", follower.MakeLeader(leader.LeaderEpoch()+1))
	last := seq - 2
	dup := mustAppendBatch(t, follower, kb(2, pid, last))
	if !dup.Duplicate {
		t.Fatalf("the producer's retry of its last batch after failover: %+v, want a duplicate", dup)
	}
	if _, err := follower.Append(kb(1, pid, seq+5)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("a gap after failover: %v", err)
	}
	if next := mustAppendBatch(t, follower, kb(1, pid, seq)); next.Duplicate || next.BaseOffset != leader.EndOffset() {
		t.Fatalf("next batch after failover: %+v", next)
	}
	if got := follower.MaxProducerID(); got != pid {
		t.Fatalf("MaxProducerID %d", got)
	}
}

// TestPartitionAppendAtRefused: what AppendAt refuses writes nothing; gaps are taken.
func TestPartitionAppendAtRefused(t *testing.T) {
	p := openFS(t, vfs.NewMem(), "/p", 0)
	mustDo(t, "MakeFollower", p.MakeFollower(4))
	if _, err := p.AppendAt(stamped(kb(3, 0, 0), 0, 4)); err != nil {
		t.Fatal(err)
	}
	corrupt := stamped(kb(1, 0, 0), 3, 4)
	corrupt[len(corrupt)-1] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"below the end", stamped(kb(1, 0, 0), 2, 4), ErrUnexpectedAppendOffset},
		{"overlapping", append(stamped(kb(2, 0, 0), 3, 4), stamped(kb(1, 0, 0), 4, 4)...), ErrUnexpectedAppendOffset},
		{"older epoch than the cache's", stamped(kb(1, 0, 0), 3, 3), ErrInvalidRecord},
		{"epochs going down", append(stamped(kb(1, 0, 0), 3, 6), stamped(kb(1, 0, 0), 4, 5)...), ErrInvalidRecord},
		{"corrupt", corrupt, ErrCorrupt},
		{"garbage", []byte{1, 2, 3}, ErrCorrupt},
		{"empty", nil, ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.AppendAt(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("AppendAt: %v, want %v", err, tc.want)
			}
			if p.EndOffset() != 3 {
				t.Fatalf("end %d after a refused AppendAt", p.EndOffset())
			}
		})
	}
	// A gap (a compacted leader log), a newer epoch, control and empty batches: taken.
	empty := testutil.Batch(testutil.BatchOptions{Records: 1, Attributes: batch.ControlBit})
	res, err := p.AppendAt(append(stamped(kb(2, 0, 0), 10, 5), stamped(empty, 12, 5)...))
	if err != nil || res.BaseOffset != 10 || p.EndOffset() != 13 {
		t.Fatalf("AppendAt with a gap: %+v, %v, end %d", res, err, p.EndOffset())
	}
	if got := p.epochs.entries(); !slices.Equal(got, entriesOf(4, 0, 5, 10)) {
		t.Fatalf("epochs %v", got)
	}
	mustDo(t, "check", p.Log().Check())
}

// TestPartitionTruncate: a follower truncates its divergent tail; the epochs, the
// producer state, the high watermark and the checkpoint follow, and the next AppendAt
// continues at the cut.
func TestPartitionTruncate(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 0)
	mustDo(t, "MakeFollower", p.MakeFollower(0))
	// Epoch 0 at 0..9, epoch 1 at 10..19, epoch 2 at 20..29: batches of 5 records, the
	// idempotent producer 9 writing sequences 0, 5, 10, … one batch in two.
	seq := int32(0)
	for i := range 6 {
		b := kb(5, 0, 0)
		if i%2 == 1 {
			b = kb(5, 9, seq)
			seq += 5
		}
		_, err := p.AppendAt(stamped(b, int64(i*5), int32(i/2)))
		mustDo(t, "AppendAt", err)
	}
	mustDo(t, "wait", p.WaitDurable(context.Background(), 30))
	if hw := p.HighWatermark(); hw != 30 {
		t.Fatalf("HW %d", hw)
	}
	if err := p.Truncate(31); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Truncate past the end: %v", err)
	}
	mustDo(t, "truncate", p.Truncate(17)) // inside the batch 15..19: it goes whole
	if p.EndOffset() != 15 || p.HighWatermark() != 15 || p.DurableEnd() != 15 {
		t.Fatalf("after Truncate(17): end %d, HW %d, durable %d", p.EndOffset(), p.HighWatermark(), p.DurableEnd())
	}
	if got := p.epochs.entries(); !slices.Equal(got, entriesOf(0, 0, 1, 10)) {
		t.Fatalf("epochs after truncation %v", got)
	}
	if got := readEpochFile(t, fs, "/p"); got != "0\n2\n0 0\n1 10\n" {
		t.Fatalf("checkpoint after truncation %q", got)
	}
	// The new leader's log goes on at 15 with epoch 3, with its copy of the producer's
	// batch at sequence 10: once this replica leads, the producer's retry of that batch
	// is a duplicate of offset 15 (the state of the truncated batches is gone).
	_, err := p.AppendAt(stamped(kb(5, 9, 10), 15, 3))
	mustDo(t, "AppendAt after truncation", err)
	mustDo(t, "MakeLeader", p.MakeLeader(4))
	if res := mustAppendBatch(t, p, kb(5, 9, 10)); !res.Duplicate || res.BaseOffset != 15 {
		t.Fatalf("retry of the batch replicated after the cut: %+v", res)
	}
	// A leader that never wrote in its epoch, then a follower: Truncate at the log end
	// drops that epoch's entry (Kafka's truncateTo), the log is untouched.
	if got := p.epochs.entries(); !slices.Equal(got, entriesOf(0, 0, 1, 10, 3, 15, 4, 20)) {
		t.Fatalf("epochs %v", got)
	}
	mustDo(t, "MakeFollower", p.MakeFollower(5))
	mustDo(t, "truncate at the end", p.Truncate(p.EndOffset()))
	if got := p.epochs.entries(); !slices.Equal(got, entriesOf(0, 0, 1, 10, 3, 15)) || p.EndOffset() != 20 {
		t.Fatalf("after Truncate(end): epochs %v, end %d", got, p.EndOffset())
	}
	if got := readEpochFile(t, fs, "/p"); got != "0\n3\n0 0\n1 10\n3 15\n" {
		t.Fatalf("checkpoint %q", got)
	}
	mustDo(t, "check", p.Log().Check())
}

// TestPartitionReadIsolation: how far each isolation level reads.
func TestPartitionReadIsolation(t *testing.T) {
	st := newMemStore(false)
	p := openMemStore(t, st)
	mustAppendBatch(t, p, kb(2, 0, 0))
	st.flush()
	mustAppendBatch(t, p, kb(3, 0, 0)) // 2..4, not durable: above the HW
	for _, tc := range []struct {
		iso     Isolation
		end     int64
		batches int
	}{
		{ReadHighWatermark, 2, 1}, {ReadCommitted, 2, 1}, {ReadLogEnd, 5, 2},
	} {
		if got := p.ReadEnd(tc.iso); got != tc.end {
			t.Errorf("ReadEnd(%d) = %d, want %d", tc.iso, got, tc.end)
		}
		r, err := p.Read(0, 1<<20, tc.iso)
		mustDo(t, "read", err)
		n := 0
		for b := r.Records; len(b) > 0; n++ {
			sz, _ := batch.Next(b)
			b = b[sz:]
		}
		if n != tc.batches || r.HighWatermark != 2 || r.LastStableOffset != 2 {
			t.Errorf("Read(0, %d): %d batches, HW %d, LSO %d; want %d, 2, 2", tc.iso, n, r.HighWatermark, r.LastStableOffset, tc.batches)
		}
		if r, err := p.Read(2, 1<<20, tc.iso); err != nil || (len(r.Records) > 0) != (tc.iso == ReadLogEnd) {
			t.Errorf("Read(2, %d): %d bytes, %v", tc.iso, len(r.Records), err)
		}
	}
	if p.LastStableOffset() != 2 {
		t.Fatalf("LastStableOffset %d", p.LastStableOffset())
	}
	if _, err := p.Read(6, 1, ReadLogEnd); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the log end: %v", err)
	}
}

// TestPartitionHWExternal: under HWExternal the high watermark is what SetHighWatermark
// says, capped by the local durable end; WhenDurable waits for it, and fails when the
// replica stops leading or closes.
func TestPartitionHWExternal(t *testing.T) {
	st := newMemStore(false)
	p := openMemStore(t, st)
	p.SetHWPolicy(HWExternal)
	mustAppendBatch(t, p, kb(5, 0, 0))
	var got []error
	p.WhenDurable(5, func(err error) { got = append(got, err) })
	st.flush()
	if p.HighWatermark() != 0 || p.DurableEnd() != 5 || len(got) != 0 {
		t.Fatalf("durable, no ISR yet: HW %d, durable %d, callbacks %v", p.HighWatermark(), p.DurableEnd(), got)
	}
	p.SetHighWatermark(3)
	if p.HighWatermark() != 3 || len(got) != 0 {
		t.Fatalf("target 3: HW %d, callbacks %v", p.HighWatermark(), got)
	}
	p.SetHighWatermark(8) // beyond the local durable end: capped
	if p.HighWatermark() != 5 || len(got) != 1 || got[0] != nil {
		t.Fatalf("target 8: HW %d, callbacks %v", p.HighWatermark(), got)
	}
	p.SetHighWatermark(2) // the target comes down, the HW does not
	mustAppendBatch(t, p, kb(5, 0, 0))
	st.flush()
	if p.HighWatermark() != 5 {
		t.Fatalf("target 2: HW %d, want 5", p.HighWatermark())
	}
	p.SetHighWatermark(8)
	st.flush() // the local durable end catches up with the target
	if p.HighWatermark() != 8 {
		t.Fatalf("after the flush: HW %d, want the target 8", p.HighWatermark())
	}
	// The wait fails when the replica stops leading, or closes.
	p.WhenDurable(10, func(err error) { got = append(got, err) })
	st.flush()
	mustDo(t, "MakeFollower", p.MakeFollower(1))
	if len(got) != 2 || !errors.Is(got[1], ErrNotLeader) {
		t.Fatalf("callbacks after MakeFollower %v", got)
	}
	p.WhenDurable(10, func(err error) { got = append(got, err) })
	if len(got) != 3 || !errors.Is(got[2], ErrNotLeader) {
		t.Fatalf("WhenDurable on a follower %v", got)
	}
	mustDo(t, "MakeLeader", p.MakeLeader(2))
	p.WhenDurable(10, func(err error) { got = append(got, err) })
	mustDo(t, "close", p.Close())
	if len(got) != 4 || !errors.Is(got[3], ErrClosed) {
		t.Fatalf("callbacks after Close %v", got)
	}
	// Back to HWLocal: the HW follows the local durable end again.
	q := openMemStore(t, newMemStore(false))
	q.SetHWPolicy(HWExternal)
	mustAppendBatch(t, q, kb(4, 0, 0))
	q.st.(*memStore).flush()
	if q.HighWatermark() != 0 {
		t.Fatalf("external, no target: HW %d", q.HighWatermark())
	}
	q.SetHWPolicy(HWLocal)
	if q.HighWatermark() != 4 {
		t.Fatalf("back to local: HW %d", q.HighWatermark())
	}
}

// TestPartitionHWExternalRelaxed: flush.messages > 0 does not let an acks=all wait skip
// the high watermark under HWExternal.
func TestPartitionHWExternalRelaxed(t *testing.T) {
	p := openFS(t, vfs.NewMem(), "/p", 1<<40)
	p.SetHWPolicy(HWExternal)
	res := mustAppendBatch(t, p, kb(2, 0, 0))
	done := make(chan error, 1)
	p.WhenDurable(res.LastOffset+1, func(err error) { done <- err })
	select {
	case err := <-done:
		t.Fatalf("called before the HW moved: %v", err)
	default:
	}
	p.SetHighWatermark(2)
	if err := <-done; err != nil || p.HighWatermark() != 2 {
		t.Fatalf("after SetHighWatermark: %v, HW %d", err, p.HighWatermark())
	}
}

// TestPartitionFollowerDurability: a follower under HWExternal learns that what it
// appended is on disk (WhenFlushed) whatever its high watermark, the leader's long poll
// for a follower's fetch wakes on the local durable end (NotifyDurable) while the high
// watermark waits for the followers, and LatestEpoch is the epoch cache's latest.
func TestPartitionFollowerDurability(t *testing.T) {
	st := newMemStore(false)
	f := openMemStore(t, st)
	if e := f.LatestEpoch(); e != -1 {
		t.Fatalf("LatestEpoch of an empty log %d, want -1", e)
	}
	mustDo(t, "MakeFollower", f.MakeFollower(3))
	f.SetHWPolicy(HWExternal)
	if _, err := f.AppendAt(stamped(kb(4, 0, 0), 0, 2)); err != nil {
		t.Fatal(err)
	}
	if e := f.LatestEpoch(); e != 2 {
		t.Fatalf("LatestEpoch %d, want 2 (the fetched batch's)", e)
	}
	var flushed []error
	f.WhenFlushed(4, func(err error) { flushed = append(flushed, err) })
	if len(flushed) != 0 {
		t.Fatalf("called before the flush: %v", flushed)
	}
	st.flush()
	if len(flushed) != 1 || flushed[0] != nil || f.HighWatermark() != 0 {
		t.Fatalf("after the flush: %v, HW %d (no target yet)", flushed, f.HighWatermark())
	}

	l := openMemStore(t, newMemStore(false))
	mustDo(t, "MakeLeader", l.MakeLeader(5))
	if e := l.LatestEpoch(); e != 5 {
		t.Fatalf("leader's LatestEpoch %d, want 5", e)
	}
	l.SetHWPolicy(HWExternal)
	wake := make(chan struct{}, 1)
	stop := l.NotifyDurable(0, wake)
	defer stop()
	hwWake := make(chan struct{}, 1)
	stopHW := l.NotifyHW(0, hwWake)
	defer stopHW()
	mustAppendBatch(t, l, kb(3, 0, 0))
	select {
	case <-wake:
		t.Fatal("woken before the append is durable")
	default:
	}
	l.st.(*memStore).flush()
	select {
	case <-wake:
	default:
		t.Fatal("NotifyDurable not woken by the flush")
	}
	select {
	case <-hwWake:
		t.Fatal("NotifyHW woken while the high watermark waits for the followers")
	default:
	}
	l.NotifyDurable(2, wake) // already durable past 2: signalled at once
	select {
	case <-wake:
	default:
		t.Fatal("NotifyDurable below the durable end not signalled at once")
	}
}

// TestPartitionFollowLogStart: a follower moves its log start offset up to the leader's,
// never past its own high watermark nor back; the leader refuses it.
func TestPartitionFollowLogStart(t *testing.T) {
	st := newMemStore(true)
	f := openMemStore(t, st)
	mustDo(t, "MakeFollower", f.MakeFollower(1))
	f.SetHWPolicy(HWExternal)
	if _, err := f.AppendAt(stamped(kb(10, 0, 0), 0, 1)); err != nil {
		t.Fatal(err)
	}
	f.SetHighWatermark(6)
	mustDo(t, "FollowLogStart", f.FollowLogStart(8))
	if got := f.LogStartOffset(); got != 6 {
		t.Fatalf("log start %d, want 6 (the follower's HW)", got)
	}
	mustDo(t, "FollowLogStart back", f.FollowLogStart(2))
	if got := f.LogStartOffset(); got != 6 {
		t.Fatalf("log start moved back to %d", got)
	}
	mustDo(t, "MakeLeader", f.MakeLeader(2))
	if err := f.FollowLogStart(9); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("on the leader: %v, want ErrNotFollower", err)
	}
}
