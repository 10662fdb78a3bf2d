package log

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// txnBatch is a transactional batch of producer pid (control: a marker-shaped batch; the
// log does not read markers).
func txnBatch(pid int64, control bool, size int) []byte {
	attrs := int16(batch.TransactionalBit)
	if control {
		attrs |= batch.ControlBit
	}
	return txnBytes(pid, attrs, size)
}

func txnBytes(pid int64, attrs int16, size int) []byte {
	return testutil.Batch(testutil.BatchOptions{ValueSize: size, Timestamp: 100, ProducerID: pid, Attributes: attrs})
}

// setAttrs sets attribute bits of batch b and its CRC.
func setAttrs(b []byte, bits int16) {
	binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|uint16(bits))
	batch.SetCRC(b)
}

// appendAborted appends a transaction of pid (n data batches) and its abort marker with
// the index entry the partition would compute, and returns the entry.
func appendAborted(t *testing.T, l *Log, pid int64, n int) segment.AbortedTxn {
	t.Helper()
	first := int64(-1)
	for range n {
		info := mustAppend(t, l, txnBatch(pid, false, 300))
		if first < 0 {
			first = info.BaseOffset
		}
	}
	e := segment.AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: l.EndOffset(), LastStableOffset: l.EndOffset() + 1}
	info, err := l.AppendValidated(txnBatch(pid, true, 10), 3, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitDurable(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLogAbortedTxns: entries appended with their markers land in the segment holding the
// marker, survive a clean reopen and a crash (they are synced with the log), are cut by
// Truncate, and AbortedTxns answers as Kafka's collectAbortedTransactions.
func TestLogAbortedTxns(t *testing.T) {
	fs := vfs.NewMem()
	o := memOpts(fs)
	l := openLog(t, "/p", o)
	var all []segment.AbortedTxn
	for i := range 6 {
		all = append(all, appendAborted(t, l, int64(10+i), 1+i%3))
		mustAppend(t, l, mkBatch(1, 500, 100, byte(i)))
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, have %d", len(l.Segments()))
	}
	got, err := l.AbortedTxns(0, l.EndOffset())
	if err != nil || !slices.Equal(got, all) {
		t.Fatalf("all: %+v %v, want %+v", got, err, all)
	}
	// A read of the offsets of the third transaction's data only.
	e := all[2]
	got, _ = l.AbortedTxns(e.FirstOffset, e.FirstOffset+1)
	if !slices.Equal(got, []segment.AbortedTxn{e}) {
		t.Fatalf("one: %+v, want %+v", got, e)
	}
	// Between transactions: nothing.
	got, _ = l.AbortedTxns(all[0].LastOffset+1, all[1].FirstOffset)
	if len(got) != 0 {
		t.Fatalf("between: %+v", got)
	}
	// Entries land in the segment of their marker.
	for _, s := range l.Segments() {
		seg := l.segs[slices.IndexFunc(l.segs, func(x *segment.Segment) bool { return x.Base() == s.BaseOffset })]
		es, _ := seg.AbortedTxns()
		for _, e := range es {
			if e.LastOffset < s.BaseOffset || e.LastOffset >= s.NextOffset {
				t.Fatalf("entry %+v in segment %d..%d", e, s.BaseOffset, s.NextOffset)
			}
		}
	}

	// A crash keeps them (synced with the log).
	crashed := fs.CrashClone()
	l2 := openLog(t, "/p", memOpts(crashed))
	if got, err := l2.AbortedTxns(0, l2.EndOffset()); err != nil || !slices.Equal(got, all) {
		t.Fatalf("after crash: %+v %v", got, err)
	}
	// Truncate cuts the entries of the markers it cuts.
	if err := l2.Truncate(all[4].LastOffset); err != nil {
		t.Fatal(err)
	}
	if got, _ := l2.AbortedTxns(0, l2.EndOffset()); !slices.Equal(got, all[:4]) {
		t.Fatalf("after truncate: %+v", got)
	}
	l2.Close()
	l3 := openLog(t, "/p", memOpts(crashed))
	if got, _ := l3.AbortedTxns(0, l3.EndOffset()); !slices.Equal(got, all[:4]) {
		t.Fatalf("after truncate and reopen: %+v", got)
	}
}

// TestLogAbortedTxnsEarlyStop: the search stops after the first segment holding an entry
// whose last stable offset reaches the upper bound, as Kafka's does.
func TestLogAbortedTxnsEarlyStop(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	e1 := appendAborted(t, l, 1, 1)
	for l.Segments()[len(l.Segments())-1].BaseOffset <= e1.LastOffset {
		mustAppend(t, l, mkBatch(1, 500, 100, 1))
	}
	e2 := appendAborted(t, l, 2, 1)
	// e1's LSO (its marker + 1) is below e2's first offset: a read up to e2's data sees
	// both; a read that ends before e2 and whose bound e1's LSO reaches stops at e1.
	if got, _ := l.AbortedTxns(0, e2.FirstOffset+1); !slices.Equal(got, []segment.AbortedTxn{e1, e2}) {
		t.Fatalf("both: %+v", got)
	}
	if got, _ := l.AbortedTxns(0, e1.LastStableOffset); !slices.Equal(got, []segment.AbortedTxn{e1}) {
		t.Fatalf("stop: %+v", got)
	}
}

// TestLogAppendAbortedInvalid: an entry whose marker is not among the appended offsets is
// refused and nothing is written.
func TestLogAppendAbortedInvalid(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	mustAppend(t, l, mkBatch(1, 10, 100, 1))
	for _, e := range []segment.AbortedTxn{
		{ProducerID: 1, FirstOffset: 0, LastOffset: 0},
		{ProducerID: 1, FirstOffset: 0, LastOffset: 2},
		{ProducerID: 1, FirstOffset: 2, LastOffset: 1},
	} {
		if _, err := l.AppendValidated(txnBatch(1, true, 10), 0, e); !errors.Is(err, ErrInvalidBatch) {
			t.Fatalf("%+v: %v", e, err)
		}
	}
	if l.EndOffset() != 1 {
		t.Fatalf("end %d", l.EndOffset())
	}
	if got, _ := l.AbortedTxns(0, 10); len(got) != 0 {
		t.Fatalf("entries %+v", got)
	}
}

// TestLogReconcileAbortedTxns: the partition's view of the markers replaces stale,
// missing and extra entries, rewriting only the segments that differ.
func TestLogReconcileAbortedTxns(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, "/p", memOpts(fs))
	var all []segment.AbortedTxn
	for i := range 4 {
		all = append(all, appendAborted(t, l, int64(i+1), 2))
		mustAppend(t, l, mkBatch(1, 900, 100, byte(i)))
	}
	if n, err := l.ReconcileAbortedTxns(0, all); err != nil || n != 0 {
		t.Fatalf("same: %d %v", n, err)
	}
	// Lose the second entry, alter the third.
	want := slices.Clone(all)
	want[2].LastStableOffset = want[2].FirstOffset
	if n, err := l.ReconcileAbortedTxns(0, slices.Delete(slices.Clone(want), 1, 2)); err != nil || n == 0 {
		t.Fatalf("changed: %d %v", n, err)
	}
	if n, err := l.ReconcileAbortedTxns(0, want); err != nil || n == 0 {
		t.Fatalf("restored: %d %v", n, err)
	}
	l.Close()
	l2 := openLog(t, "/p", memOpts(fs))
	if got, _ := l2.AbortedTxns(0, l2.EndOffset()); !slices.Equal(got, want) {
		t.Fatalf("reopened: %+v, want %+v", got, want)
	}
	if _, err := l2.ReconcileAbortedTxns(0, []segment.AbortedTxn{{LastOffset: l2.EndOffset()}}); err == nil {
		t.Fatal("entry past the end accepted")
	}
}

// TestLogRetentionBelow: retention deletes only segments wholly below the limit.
func TestLogRetentionBelow(t *testing.T) {
	o := memOpts(vfs.NewMem())
	o.RetentionBytes = 1
	l := openLog(t, "/p", o)
	for i := range 40 {
		mustAppend(t, l, mkBatch(1, 200, 100, byte(i)))
	}
	segs := l.Segments()
	limit := segs[2].BaseOffset + 1
	n, err := l.EnforceRetentionBelow(limit)
	if err != nil || n != 2 || l.StartOffset() != segs[2].BaseOffset {
		t.Fatalf("deleted %d, start %d: %v", n, l.StartOffset(), err)
	}
	if n, err := l.EnforceRetentionBelow(0); err != nil || n != 0 {
		t.Fatalf("below 0: %d %v", n, err)
	}
}

// TestLogCompactTransactions: compaction follows Kafka's cleaner for transactions: an
// aborted transaction's records are removed and supersede nothing, a committed one's are
// compacted like any others, markers stay, nothing at or past the stable offset is
// cleaned (an open transaction's records stay, and supersede nothing), and the .txnindex
// entries of merged segments move to the cleaned segment (also across a reopen).
func TestLogCompactTransactions(t *testing.T) {
	fs := vfs.NewMem()
	o := memOpts(fs)
	o.RetentionMs = -1
	l := openLog(t, "/p", o)
	k, c := []byte("k"), []byte("c")
	txnRec := func(pid int64, key []byte, val string) {
		t.Helper()
		b := keyedBatch(t, []rec{{key: key, value: []byte(val), ts: 101}}, batch.CodecNone, pid)
		setAttrs(b, batch.TransactionalBit)
		mustAppend(t, l, b)
	}
	marker := func(pid int64, aborted ...segment.AbortedTxn) {
		t.Helper()
		if _, err := l.AppendValidated(txnBytes(pid, batch.TransactionalBit|batch.ControlBit, 4), 0, aborted...); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(t, l, keyedBatch(t, []rec{{key: k, value: []byte("committed"), ts: 100}}, batch.CodecNone, -1))
	first := l.EndOffset()
	txnRec(7, k, "aborted")
	e := segment.AbortedTxn{ProducerID: 7, FirstOffset: first, LastOffset: l.EndOffset(), LastStableOffset: l.EndOffset() + 1}
	marker(7, e)
	txnRec(8, c, "c1") // committed, then superseded
	marker(8)
	mustAppend(t, l, keyedBatch(t, []rec{{key: c, value: []byte("c2"), ts: 102}}, batch.CodecNone, -1))
	filler := func() {
		for range 12 {
			mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("x"), value: make([]byte, 1000), ts: 102}}, batch.CodecNone, -1))
		}
	}
	filler()
	firstNext := l.Segments()[0].NextOffset
	// Markers stay within delete.retention.ms (TestLogCompactRemovesMarkers: after it).
	keep := 100 * 365 * 24 * time.Hour
	for range 2 {
		if _, err := l.Compact(CompactOptions{Force: true, DeleteRetention: keep}); err != nil {
			t.Fatal(err)
		}
		filler()
	}
	if got := l.Segments()[0].NextOffset; got <= firstNext || got <= e.LastOffset {
		t.Fatalf("first segment not merged: ends at %d (was %d)", got, firstNext)
	}
	stable := l.EndOffset()
	txnRec(9, k, "open") // open: at the stable offset
	filler()
	if _, err := l.Compact(CompactOptions{Force: true, StableOffset: stable, DeleteRetention: keep}); err != nil {
		t.Fatal(err)
	}
	vals := map[string][]string{}
	for _, r := range readRecords(t, l) {
		vals[string(r.key)] = append(vals[string(r.key)], string(r.value))
	}
	if !slices.Equal(vals["k"], []string{"committed", "open"}) || !slices.Equal(vals["c"], []string{"c2"}) {
		t.Fatalf("after compaction: k %q, c %q", vals["k"], vals["c"])
	}
	markers := 0
	l.Scan(0, func(h batch.Header, _ []byte) error {
		if h.IsControl() {
			markers++
		}
		return nil
	})
	if markers != 2 {
		t.Fatalf("%d markers after compaction, want 2", markers)
	}
	if got, _ := l.AbortedTxns(0, l.EndOffset()); !slices.Equal(got, []segment.AbortedTxn{e}) {
		t.Fatalf("entries after compaction: %+v", got)
	}
	l.Close()
	l2 := openLog(t, "/p", o)
	if got, _ := l2.AbortedTxns(0, l2.EndOffset()); !slices.Equal(got, []segment.AbortedTxn{e}) {
		t.Fatalf("entries after reopen: %+v", got)
	}
}

// TestLogCompactRemovesMarkers: as Kafka's cleaner, a marker goes once its transaction's
// records are gone (an aborted transaction's removed by an earlier pass, a committed
// one's all compacted away), it was cleaned once and it is older than delete.retention.ms;
// the .txnindex entry of a removed abort marker goes with it. A committed transaction
// whose records stay keeps its marker; a marker that is its producer's last batch (an
// active producer) stays as an empty batch, header-only as Kafka's RETAIN_EMPTY.
func TestLogCompactRemovesMarkers(t *testing.T) {
	fs := vfs.NewMem()
	o := memOpts(fs)
	o.RetentionMs = -1
	l := openLog(t, "/p", o)
	txnRec := func(pid int64, key, val string) {
		t.Helper()
		b := keyedBatch(t, []rec{{key: []byte(key), value: []byte(val), ts: 101}}, batch.CodecNone, pid)
		setAttrs(b, batch.TransactionalBit)
		mustAppend(t, l, b)
	}
	marker := func(pid int64, aborted ...segment.AbortedTxn) {
		t.Helper()
		if _, err := l.AppendValidated(txnBytes(pid, batch.TransactionalBit|batch.ControlBit, 4), 0, aborted...); err != nil {
			t.Fatal(err)
		}
	}
	first := l.EndOffset()
	txnRec(7, "k", "aborted")
	e := segment.AbortedTxn{ProducerID: 7, FirstOffset: first, LastOffset: l.EndOffset(), LastStableOffset: l.EndOffset() + 1}
	marker(7, e)
	txnRec(8, "c", "c1") // committed, then superseded: its marker goes
	marker(8)
	txnRec(9, "d", "d1") // committed and kept: its marker stays
	marker(9)
	txnRec(10, "e", "e1") // superseded, but the marker is producer 10's last batch
	marker(10)
	lastOf10 := l.EndOffset() - 1
	mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("c"), value: []byte("c2"), ts: 102}, {key: []byte("e"), value: []byte("e2"), ts: 102}}, batch.CodecNone, -1))
	filler := func() {
		for range 12 {
			mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("x"), value: make([]byte, 1000), ts: 102}}, batch.CodecNone, -1))
		}
	}
	markers := func() []int64 {
		var pids []int64
		l.Scan(0, func(h batch.Header, _ []byte) error {
			if h.IsControl() {
				pids = append(pids, h.ProducerID)
			}
			return nil
		})
		return pids
	}
	active := func(pid int64) (int64, bool) { // producer 10 is active, the others expired

		if pid == 10 {
			return lastOf10, true
		}
		return 0, false
	}
	filler()
	for _, retention := range []time.Duration{100 * 365 * 24 * time.Hour, 100 * 365 * 24 * time.Hour, 0, 0} {
		if _, err := l.Compact(CompactOptions{Force: true, DeleteRetention: retention, ProducerLast: active}); err != nil {
			t.Fatal(err)
		}
		if retention > 0 {
			if got := markers(); !slices.Equal(got, []int64{7, 8, 9, 10}) {
				t.Fatalf("markers %v within delete.retention.ms, want all", got)
			}
		}
		filler()
	}
	if got := markers(); !slices.Equal(got, []int64{9, 10}) {
		t.Fatalf("control batches %v after delete.retention.ms, want 9 (records left) and 10 (its producer's last batch)", got)
	}
	l.Scan(0, func(h batch.Header, _ []byte) error {
		if h.IsControl() && (h.RecordCount == 0) != (h.ProducerID == 10) {
			t.Errorf("producer %d's marker at %d has %d records; only 10's is emptied (header-only, as Kafka's RETAIN_EMPTY)", h.ProducerID, h.BaseOffset, h.RecordCount)
		}
		return nil
	})
	if got, _ := l.AbortedTxns(0, l.EndOffset()); len(got) != 0 {
		t.Fatalf("entries after the abort marker went: %+v", got)
	}
	vals := map[string][]string{}
	for _, r := range readRecords(t, l) {
		vals[string(r.key)] = append(vals[string(r.key)], string(r.value))
	}
	if !slices.Equal(vals["k"], nil) || !slices.Equal(vals["c"], []string{"c2"}) || !slices.Equal(vals["d"], []string{"d1"}) {
		t.Fatalf("after compaction: %q", vals)
	}
	l.Close()
	l2 := openLog(t, "/p", o)
	if got, _ := l2.AbortedTxns(0, l2.EndOffset()); len(got) != 0 {
		t.Fatalf("entries after reopen: %+v", got)
	}
}

// TestLogReconcileAbortedTxnsFrom: reconciling from an offset keeps the entries of the
// markers below it (in earlier segments and in the segment holding it) and replaces
// those at or after it.
func TestLogReconcileAbortedTxnsFrom(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	var all []segment.AbortedTxn
	for i := range 6 {
		all = append(all, appendAborted(t, l, int64(i+1), 4))
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, have %d", len(l.Segments()))
	}
	// From just after the fourth marker, which shares its segment with later ones or not.
	from := all[3].LastOffset + 1
	if n, err := l.ReconcileAbortedTxns(from, all[4:5]); err != nil || n == 0 {
		t.Fatalf("reconcile from %d: %d %v", from, n, err)
	}
	want := slices.Delete(slices.Clone(all), 5, 6)
	if got, _ := l.AbortedTxns(0, l.EndOffset()); !slices.Equal(got, want) {
		t.Fatalf("entries %+v, want %+v", got, want)
	}
	if _, err := l.ReconcileAbortedTxns(from, all[3:4]); err == nil {
		t.Fatal("entry below from accepted")
	}
}

// TestLogTrustedEnd: a clean open trusts the whole log, a crashed one only the segments
// before the first it rescans; an append that rolls says so.
func TestLogTrustedEnd(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, "/p", memOpts(fs))
	rolled := 0
	for i := range 40 {
		info := mustAppend(t, l, mkBatch(1, 300, int64(i), byte(i)))
		if info.Rolled {
			rolled++
			if segs := l.Segments(); segs[len(segs)-1].BaseOffset != info.BaseOffset {
				t.Fatalf("rolled at %d, active segment at %d", info.BaseOffset, segs[len(segs)-1].BaseOffset)
			}
		}
	}
	if n := len(l.Segments()); rolled != n-1 || n < 3 {
		t.Fatalf("%d rolls reported, %d segments", rolled, n)
	}
	if err := l.WaitDurable(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone()
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, "/p", memOpts(fs))
	if got := l2.TrustedEnd(); got != end {
		t.Fatalf("clean: trusted end %d, want %d", got, end)
	}
	l3 := openLog(t, "/p", memOpts(crashed))
	segs := l3.Segments()
	if got := l3.TrustedEnd(); got > segs[len(segs)-1].BaseOffset || got < segs[1].BaseOffset {
		t.Fatalf("crashed: trusted end %d, segments %+v", got, segs)
	}
}
