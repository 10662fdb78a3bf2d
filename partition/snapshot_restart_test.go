package partition_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/partition"
)

// openSnapPartition opens the partition in /p of fs with small segments (a roll every
// few batches, hence a snapshot).
func openSnapPartition(t *testing.T, fs vfs.FS, now func() time.Time) *partition.Partition {
	t.Helper()
	p, err := partition.Open("/p", &partition.Options{Topic: "t", Transactional: true, Now: now,
		Log: log.Options{FS: fs, SegmentBytes: 2048, SegmentIndexBytes: 1024, IndexIntervalBytes: 256}, Logger: quietLog})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func snapshotFiles(t *testing.T, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List("/p")
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasSuffix(n, partition.SnapshotSuffix) })
}

func sortedProducers(p *partition.Partition) []partition.ProducerInfo {
	ps := p.Producers()
	slices.SortFunc(ps, func(a, b partition.ProducerInfo) int { return int(a.ProducerID - b.ProducerID) })
	return ps
}

func idemBatch(pid int64, seq int32, records int) []byte {
	return testutil.Batch(testutil.BatchOptions{ProducerID: pid, BaseSequence: seq, Records: records, ValueSize: 200})
}

// TestPartitionSnapshotKeepsDeletedProducers: a producer whose batches are all deleted
// (DeleteRecords, retention of whole segments) keeps its state across a restart: its
// retry of its last batch is a duplicate, its next batch is in sequence (without the
// snapshot it would be an unknown producer: OUT_OF_ORDER_SEQUENCE).
func TestPartitionSnapshotKeepsDeletedProducers(t *testing.T) {
	fs := vfs.NewMem()
	p := openSnapPartition(t, fs, nil)
	var last partition.AppendResult
	for i := range 12 {
		last = mustAppend(t, p, idemBatch(7, int32(2*i), 2))
	}
	if err := p.WaitDurable(context.Background(), p.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if len(p.Log().Segments()) < 3 {
		t.Fatalf("want several segments, have %d", len(p.Log().Segments()))
	}
	if _, err := p.DeleteRecords(-1); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(snapshotFiles(t, fs)) == 0 {
		t.Fatal("no snapshot written")
	}
	p2 := openSnapPartition(t, fs, nil)
	if p2.LogStartOffset() != p2.EndOffset() {
		t.Fatalf("log start %d, end %d: records left", p2.LogStartOffset(), p2.EndOffset())
	}
	res, err := p2.Append(idemBatch(7, 22, 2))
	if err != nil || !res.Duplicate || res.BaseOffset != last.BaseOffset || res.LastOffset != last.LastOffset {
		t.Fatalf("retry after restart: %+v %v, want duplicate of %d..%d", res, err, last.BaseOffset, last.LastOffset)
	}
	res, err = p2.Append(idemBatch(7, 24, 1))
	if err != nil || res.Duplicate || res.BaseOffset != p2.EndOffset()-1 {
		t.Fatalf("next batch after restart: %+v %v", res, err)
	}
}

// TestPartitionSnapshotDamaged: a snapshot that does not load (a bit flipped, cut short,
// empty) is deleted and the state rebuilt from an older one and the log, the same state
// as before the restart; without any snapshot it is rebuilt from the log alone.
func TestPartitionSnapshotDamaged(t *testing.T) {
	damage := map[string]func(fs *vfs.MemFS, name string){
		"bit flipped": func(fs *vfs.MemFS, name string) {
			b, _ := vfs.ReadSmallFile(fs, name, 1<<20)
			b[len(b)/2] ^= 0x10
			writeFile(t, fs, name, b)
		},
		"truncated": func(fs *vfs.MemFS, name string) {
			b, _ := vfs.ReadSmallFile(fs, name, 1<<20)
			writeFile(t, fs, name, b[:len(b)-3])
		},
		"empty":   func(fs *vfs.MemFS, name string) { writeFile(t, fs, name, nil) },
		"removed": func(fs *vfs.MemFS, name string) { fs.Remove(name) },
	}
	for what, fn := range damage {
		t.Run(what, func(t *testing.T) {
			fs := vfs.NewMem()
			p := openSnapPartition(t, fs, nil)
			seq := map[int64]int32{}
			for i := range 30 {
				pid := int64(1 + i%3)
				mustAppend(t, p, idemBatch(pid, seq[pid], 1+i%2))
				seq[pid] += int32(1 + i%2)
			}
			want := sortedProducers(p)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			snaps := snapshotFiles(t, fs)
			if len(snaps) < 2 {
				t.Fatalf("snapshots %v", snaps)
			}
			newest := "/p/" + snaps[len(snaps)-1]
			fn(fs, newest)
			if what == "removed" {
				for _, n := range snaps {
					fs.Remove("/p/" + n)
				}
			}
			p2 := openSnapPartition(t, fs, nil)
			if got := sortedProducers(p2); !slices.Equal(got, want) {
				t.Fatalf("producers %+v, want %+v", got, want)
			}
			if what != "removed" && slices.Contains(snapshotFiles(t, fs), snaps[len(snaps)-1]) {
				t.Fatal("the damaged snapshot was kept")
			}
			for pid, s := range seq {
				if res, err := p2.Append(idemBatch(pid, s, 1)); err != nil || res.Duplicate {
					t.Fatalf("producer %d next batch: %+v %v", pid, res, err)
				}
			}
		})
	}
}

func writeFile(t *testing.T, fs vfs.FS, name string, b []byte) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionCrashSnapshot appends idempotent and transactional batches and markers of
// three producers over many segments (a snapshot at each roll), "kills" the broker at a
// random point (a crash clone keeps what was synced) and reopens twice: with the
// snapshots, and with them deleted (a rebuild from the whole log). Both must give the
// same producer state, open transactions and last stable offset; every acknowledged
// batch's retry is a duplicate and every producer's next batch is in sequence.
func TestPartitionCrashSnapshot(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	for round := range 15 {
		fs := vfs.NewMem()
		p := openSnapPartition(t, fs, nil)
		seq := map[int64]int32{}
		inTxn := map[int64]bool{}
		type acked struct {
			pid          int64
			seq          int32
			n            int
			first, last  int64
			acknowledged bool
		}
		var sent []acked
		steps := 30 + rng.Intn(60)
		crashAt := rng.Intn(steps)
		var crashed *vfs.MemFS
		for i := range steps {
			if i == crashAt {
				crashed = fs.CrashClone()
			}
			pid := int64(1 + rng.Intn(3))
			n := 1 + rng.Intn(3)
			var (
				res partition.AppendResult
				err error
			)
			switch r := rng.Intn(10); {
			case r < 7 || !inTxn[pid]:
				attrs := int16(0)
				if rng.Intn(2) == 0 || inTxn[pid] {
					attrs = 0x10
					inTxn[pid] = true
				}
				res, err = p.Append(testutil.Batch(testutil.BatchOptions{Records: n, ValueSize: 150,
					ProducerID: pid, BaseSequence: seq[pid], Attributes: attrs}))
				if err == nil {
					sent = append(sent, acked{pid: pid, seq: seq[pid], n: n, first: res.BaseOffset, last: res.LastOffset})
					seq[pid] += int32(n)
				}
			default:
				res, err = p.AppendMarker(partition.Marker{ProducerID: pid, Commit: rng.Intn(2) == 0})
				inTxn[pid] = false
			}
			if err != nil {
				t.Fatalf("round %d step %d: %v", round, i, err)
			}
			if rng.Intn(3) == 0 {
				if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
					t.Fatal(err)
				}
				if crashed == nil {
					for j := range sent {
						sent[j].acknowledged = true
					}
				}
			}
		}
		if crashed == nil {
			crashed = fs.CrashClone()
		}
		p.Close()
		bare := crashed.CrashClone()
		for _, n := range snapshotFiles(t, bare) {
			bare.Remove("/p/" + n)
		}
		hadSnapshots := len(snapshotFiles(t, crashed)) > 0
		withSnap := openSnapPartition(t, crashed, nil)
		fromLog := openSnapPartition(t, bare, nil)
		if a, b := sortedProducers(withSnap), sortedProducers(fromLog); !slices.Equal(a, b) {
			t.Fatalf("round %d (snapshots %v): producers %+v, from the log %+v", round, hadSnapshots, a, b)
		}
		byPID := func(a, b partition.OpenTxn) int { return int(a.ProducerID - b.ProducerID) }
		a, b := withSnap.OpenTxns(), fromLog.OpenTxns()
		slices.SortFunc(a, byPID)
		slices.SortFunc(b, byPID)
		if !slices.Equal(a, b) || withSnap.LastStableOffset() != fromLog.LastStableOffset() {
			t.Fatalf("round %d: open %+v LSO %d, from the log %+v LSO %d", round, a, withSnap.LastStableOffset(), b, fromLog.LastStableOffset())
		}
		if withSnap.MaxProducerID() != fromLog.MaxProducerID() {
			t.Fatalf("round %d: max producer id %d, from the log %d", round, withSnap.MaxProducerID(), fromLog.MaxProducerID())
		}
		end := withSnap.EndOffset()
		next := map[int64]int32{}
		for _, s := range sent {
			if s.last >= end {
				if s.acknowledged {
					t.Fatalf("round %d: acknowledged batch %d..%d lost (end %d)", round, s.first, s.last, end)
				}
				continue
			}
			next[s.pid] = s.seq + int32(s.n)
		}
		// The last surviving batch of each producer: its retry is a duplicate.
		for i := len(sent) - 1; i >= 0; i-- {
			s := sent[i]
			if s.last >= end || next[s.pid] != s.seq+int32(s.n) {
				continue
			}
			attrs := int16(0)
			if st := findOpen(a, s.pid); st {
				attrs = 0x10
			}
			res, err := withSnap.Append(testutil.Batch(testutil.BatchOptions{Records: s.n, ValueSize: 150,
				ProducerID: s.pid, BaseSequence: s.seq, Attributes: attrs}))
			if err != nil || !res.Duplicate || res.BaseOffset != s.first {
				t.Fatalf("round %d: retry of producer %d's batch %d..%d: %+v %v", round, s.pid, s.first, s.last, res, err)
			}
			next[s.pid] = -1 // done
		}
	}
}

func findOpen(open []partition.OpenTxn, pid int64) bool {
	return slices.ContainsFunc(open, func(o partition.OpenTxn) bool { return o.ProducerID == pid })
}

// TestPartitionProducerExpiration: producer.id.expiration.ms forgets a producer whose
// last batch is older, not one with an open transaction, and not a recent one; a
// restart does not bring it back.
func TestPartitionProducerExpiration(t *testing.T) {
	fs := vfs.NewMem()
	clock := time.UnixMilli(1_000_000_000)
	now := func() time.Time { return clock }
	p := openSnapPartition(t, fs, now)
	ts := clock.UnixMilli()
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 1, BaseSequence: 0, Timestamp: ts}))
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 2, BaseSequence: 0, Timestamp: ts, Attributes: 0x10}))
	clock = clock.Add(time.Hour)
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 3, BaseSequence: 0, Timestamp: clock.UnixMilli()}))
	clock = clock.Add(time.Minute)
	res, err := p.Cleanup(partition.CleanerResources{ProducerExpiration: time.Hour})
	if err != nil || res.ProducersExpired != 1 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	var pids []int64
	for _, pi := range sortedProducers(p) {
		pids = append(pids, pi.ProducerID)
	}
	if !slices.Equal(pids, []int64{2, 3}) {
		t.Fatalf("producers %v, want [2 3]", pids)
	}
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 1, BaseSequence: 1, Timestamp: clock.UnixMilli()})); !errors.Is(err, partition.ErrOutOfOrderSequence) {
		t.Fatalf("expired producer's next batch: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := openSnapPartition(t, fs, now)
	pids = pids[:0]
	for _, pi := range sortedProducers(p2) {
		pids = append(pids, pi.ProducerID)
	}
	if !slices.Equal(pids, []int64{2, 3}) {
		t.Fatalf("producers after restart %v, want [2 3]", pids)
	}
}

// TestPartitionSnapshotsBounded: a partition keeps at most a few snapshots however many
// segments it rolls (a compacted log's start never moves), and none below its log start
// but the newest.
func TestPartitionSnapshotsBounded(t *testing.T) {
	fs := vfs.NewMem()
	p := openSnapPartition(t, fs, nil)
	for i := range 80 {
		mustAppend(t, p, idemBatch(3, int32(i), 1))
	}
	if n := len(p.Log().Segments()); n < 10 {
		t.Fatalf("%d segments, want many rolls", n)
	}
	if got := snapshotFiles(t, fs); len(got) > 5 || len(got) == 0 {
		t.Fatalf("%d snapshots: %v", len(got), got)
	}
	if err := p.WaitDurable(context.Background(), p.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecords(-1); err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, fs); len(got) != 1 {
		t.Fatalf("after DeleteRecords to the end: snapshots %v, want the newest only", got)
	}
}

// TestPartitionSnapshotCompactedMarker: compaction removes a committed transaction's
// marker once its records are superseded (Kafka's rule, no exception for a producer's
// last batch): the producer's epoch, which the marker bumped (transactions v2), survives
// a restart in the snapshot, so its old epoch stays fenced. Rebuilt from the log alone
// (snapshots deleted), the transactional batch compaction emptied and kept (its
// producer's last batch, transactions v1: no epoch bump) opens no transaction.
func TestPartitionSnapshotCompactedMarker(t *testing.T) {
	for _, tc := range []struct {
		keep        bool
		markerEpoch int16
	}{{true, 1}, {false, 1}, {true, 0}, {false, 0}} {
		keep := tc.keep
		t.Run(fmt.Sprintf("snapshots=%v/marker-epoch=%d", keep, tc.markerEpoch), func(t *testing.T) {
			fs := vfs.NewMem()
			clock := time.UnixMilli(1_000_000_000_000)
			now := func() time.Time { return clock }
			open := func() *partition.Partition {
				t.Helper()
				p, err := partition.Open("/p", &partition.Options{Topic: "t", Transactional: true, Compacted: true, Now: now,
					Cleanup: partition.CleanupOptions{Compact: true},
					Log:     log.Options{FS: fs, SegmentBytes: 2048, SegmentIndexBytes: 1024, IndexIntervalBytes: 256}, Logger: quietLog})
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				t.Cleanup(func() { p.Close() })
				return p
			}
			p := open()
			filler := func() {
				for i := range 20 {
					mustAppend(t, p, testutil.Batch(testutil.BatchOptions{KeySize: 4, ValueSize: 200, Seed: byte(i), Timestamp: clock.UnixMilli()}))
				}
				if err := p.WaitDurable(context.Background(), p.EndOffset()); err != nil {
					t.Fatal(err)
				}
				clock = clock.Add(time.Minute)
			}
			mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 9, BaseSequence: 0, Attributes: 0x10, KeySize: 4, Timestamp: clock.UnixMilli()}))
			if _, err := p.AppendMarker(partition.Marker{ProducerID: 9, ProducerEpoch: tc.markerEpoch, Commit: true}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				filler()
				if _, err := p.Cleanup(partition.CleanerResources{}); err != nil {
					t.Fatal(err)
				}
			}
			markers := 0
			p.Log().Scan(0, func(h batch.Header, _ []byte) error {
				if h.IsControl() && h.RecordCount > 0 {
					markers++
				}
				return nil
			})
			if markers != 0 {
				t.Fatalf("%d markers left after compaction", markers)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if !keep {
				for _, n := range snapshotFiles(t, fs) {
					fs.Remove("/p/" + n)
				}
			}
			p2 := open()
			if lso, end := p2.LastStableOffset(), p2.EndOffset(); lso != end || len(p2.OpenTxns()) != 0 {
				t.Fatalf("open transactions %+v, LSO %d, end %d", p2.OpenTxns(), lso, end)
			}
			if !keep || tc.markerEpoch == 0 {
				return
			}
			_, err := p2.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 9, ProducerEpoch: 0, BaseSequence: 1, Attributes: 0x10, KeySize: 4}))
			if !errors.Is(err, partition.ErrInvalidProducerEpoch) {
				t.Fatalf("the fenced epoch's batch after the restart: %v, want ErrInvalidProducerEpoch", err)
			}
		})
	}
}
