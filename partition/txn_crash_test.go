package partition_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/segment"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

var txnSeed = flag.Int64("txnseed", 0, "seed for TestPartitionCrashTxn (0: time-based)")

// txnOp is one appended batch of the model: a transactional batch, a marker or a plain
// batch, with the offsets it got.
type txnOp struct {
	pid          int64 // -1: plain batch
	marker       bool
	commit       bool
	first, last  int64
	acknowledged bool // durable before the crash
}

// txnModel is what the surviving prefix of ops implies: the open transactions and the
// aborted-transaction entries, by Kafka's rules.
func txnModel(ops []txnOp, end int64) (open map[int64]int64, aborted []segment.AbortedTxn) {
	open = map[int64]int64{}
	for _, op := range ops {
		if op.last >= end {
			break
		}
		switch {
		case op.pid < 0:
		case !op.marker:
			if _, ok := open[op.pid]; !ok {
				open[op.pid] = op.first
			}
		default:
			first, ok := open[op.pid]
			delete(open, op.pid)
			if ok && !op.commit {
				lso := op.first + 1
				for _, f := range open {
					lso = min(lso, f)
				}
				aborted = append(aborted, segment.AbortedTxn{ProducerID: op.pid, FirstOffset: first, LastOffset: op.first, LastStableOffset: lso})
			}
		}
	}
	return open, aborted
}

func openTxnPartition(t *testing.T, fs vfs.FS) *partition.Partition {
	t.Helper()
	p, err := partition.Open("/p", &partition.Options{Topic: "t", Transactional: true,
		Log: log.Options{FS: fs, SegmentBytes: 2048, SegmentIndexBytes: 1024, IndexIntervalBytes: 256}, Logger: quietLog})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return p
}

// TestPartitionCrashTxn appends random transactions (three producers, commits, aborts,
// plain batches) over several segments, "kills" the broker at a random point (a crash
// clone of the file system keeps only what was synced), damages the .txnindex files at
// random (removed, torn), reopens, and checks the rebuilt state against a model of the
// batches that survived: every acknowledged batch is there, the open transactions and
// the last stable offset are right, the aborted-transaction index is Kafka's; the
// transactions still open then complete.
func TestPartitionCrashTxn(t *testing.T) {
	seed := *txnSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -txnseed)", seed)
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	nAborted := 0
	for round := range 20 {
		fs := vfs.NewMem()
		p := openTxnPartition(t, fs)
		seq := map[int64]int32{}
		inTxn := map[int64]bool{}
		var ops []txnOp
		steps := 20 + rng.Intn(60)
		crashAt := rng.Intn(steps)
		var crashed *vfs.MemFS
		for i := range steps {
			if i == crashAt {
				crashed = fs.CrashClone()
			}
			pid := int64(1 + rng.Intn(3))
			var (
				res partition.AppendResult
				err error
				op  = txnOp{pid: pid}
			)
			switch r := rng.Intn(10); {
			case r < 2:
				op.pid = -1
				res, err = p.Append(testutil.Batch(testutil.BatchOptions{Records: 1 + rng.Intn(3), ValueSize: 100}))
			case r < 7 || !inTxn[pid]:
				res, err = p.Append(testutil.Batch(testutil.BatchOptions{Records: 1 + rng.Intn(3), ValueSize: 100,
					ProducerID: pid, BaseSequence: seq[pid], Attributes: 0x10}))
				if err == nil {
					seq[pid] += int32(res.LastOffset - res.BaseOffset + 1)
					inTxn[pid] = true
				}
			default:
				op.marker, op.commit = true, rng.Intn(2) == 0
				res, err = p.AppendMarker(partition.Marker{ProducerID: pid, Commit: op.commit})
				inTxn[pid] = false
			}
			if err != nil {
				t.Fatalf("round %d step %d: %v", round, i, err)
			}
			op.first, op.last = res.BaseOffset, res.LastOffset
			if rng.Intn(3) == 0 {
				if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
					t.Fatal(err)
				}
				if crashed == nil { // durable before the crash
					for j := range ops {
						ops[j].acknowledged = true
					}
					op.acknowledged = true
				}
			}
			ops = append(ops, op)
		}
		if crashed == nil {
			crashed = fs.CrashClone()
		}
		p.Close()
		// Damage at random the aborted-transaction index of the segments the recovery
		// rescans (the last one, and those ending past the recovery point): below the
		// recovery point a segment's .txnindex was synced with it (its directory entry
		// too), so a crash cannot damage it, and recovery trusts it as Kafka does.
		names, _ := crashed.List("/p")
		rp := int64(0)
		if b, err := vfs.ReadSmallFile(crashed, "/p/"+log.RecoveryPointFile, 64); err == nil {
			if ls := strings.Split(string(b), "\n"); len(ls) > 1 {
				rp, _ = strconv.ParseInt(ls[1], 10, 64)
			}
		}
		var bases []int64
		for _, n := range names {
			if b, suf, ok := segment.ParseName(n); ok && suf == segment.LogSuffix {
				bases = append(bases, b)
			}
		}
		slices.Sort(bases)
		for _, n := range names {
			b, suf, ok := segment.ParseName(n)
			if !ok || suf != segment.TxnIndexSuffix {
				continue
			}
			if i := slices.Index(bases, b); i >= 0 && i+1 < len(bases) && bases[i+1] <= rp {
				continue // trusted
			}
			switch rng.Intn(3) {
			case 0:
				crashed.Remove("/p/" + n)
			case 1:
				f, err := crashed.OpenReadWrite("/p/" + n)
				if err == nil {
					if sz, _ := f.Size(); sz > 0 {
						f.Truncate(sz - 1)
					}
					f.Close()
				}
			}
		}

		p2 := openTxnPartition(t, crashed)
		end := p2.EndOffset()
		for _, op := range ops {
			if op.acknowledged && op.last >= end {
				t.Fatalf("round %d: acknowledged batch %d..%d lost (end %d)", round, op.first, op.last, end)
			}
		}
		open, aborted := txnModel(ops, end)
		lso := end
		var wantOpen []partition.OpenTxn
		for pid, f := range open {
			lso = min(lso, f)
			wantOpen = append(wantOpen, partition.OpenTxn{ProducerID: pid, FirstOffset: f})
		}
		byPID := func(a, b partition.OpenTxn) int { return int(a.ProducerID - b.ProducerID) }
		slices.SortFunc(wantOpen, byPID)
		gotOpen := p2.OpenTxns()
		slices.SortFunc(gotOpen, byPID)
		if !slices.Equal(gotOpen, wantOpen) {
			t.Fatalf("round %d: open %+v, want %+v", round, gotOpen, wantOpen)
		}
		if got := p2.LastStableOffset(); got != lso {
			t.Fatalf("round %d: LSO %d, want %d", round, got, lso)
		}
		nAborted += len(aborted)
		if got, err := p2.Log().AbortedTxns(0, end); err != nil || !slices.Equal(got, aborted) {
			t.Fatalf("round %d: aborted %+v (%v), want %+v", round, got, err, aborted)
		}
		if err := p2.Log().Check(); err != nil {
			t.Fatal(err)
		}
		// The open transactions end; everything becomes stable.
		for pid := range open {
			if _, err := p2.AppendMarker(partition.Marker{ProducerID: pid, Commit: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p2.WaitDurable(ctx, p2.EndOffset()); err != nil {
			t.Fatal(err)
		}
		if lso, end := p2.LastStableOffset(), p2.EndOffset(); lso != end {
			t.Fatalf("round %d: LSO %d after every transaction ended, end %d", round, lso, end)
		}
		p2.Close()
	}
	if nAborted == 0 {
		t.Fatal("no aborted transaction survived in any round: the test checks nothing")
	}
}

// TestPartitionTxnRetention: retention never deletes a segment at or past the last
// stable offset.
func TestPartitionTxnRetention(t *testing.T) {
	fs := vfs.NewMem()
	p := openTxnPartition(t, fs)
	defer p.Close()
	ctx := context.Background()
	res := mustAppend(t, p, txnBatch(1, 0, 0, 1))
	for range 40 {
		res = mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ValueSize: 200}))
	}
	if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	o := partition.Options{Topic: "t", Transactional: true, Cleanup: partition.CleanupOptions{Delete: true},
		Log: log.Options{FS: fs, SegmentBytes: 2048, SegmentIndexBytes: 1024, IndexIntervalBytes: 256, RetentionBytes: 1}}
	if err := p.Reconfigure(o); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Cleanup(partition.CleanerResources{}); err != nil || r.SegmentsDeleted != 0 || p.LogStartOffset() != 0 {
		t.Fatalf("retention with a transaction open at 0: %+v, start %d, %v", r, p.LogStartOffset(), err)
	}
	m := mustMarker(t, p, 1, 0, true)
	if err := p.WaitDurable(ctx, m.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Cleanup(partition.CleanerResources{}); err != nil || r.SegmentsDeleted == 0 {
		t.Fatalf("retention once committed: %+v, %v", r, err)
	}
}

// TestPartitionTxnCompaction: the cleaner's compaction stops at the last stable offset:
// an open transaction's record neither goes nor supersedes an older one of its key; once
// it aborts, its record goes.
func TestPartitionTxnCompaction(t *testing.T) {
	fs := vfs.NewMem()
	o := partition.Options{Topic: "t", Transactional: true, Compacted: true, Logger: quietLog,
		Cleanup: partition.CleanupOptions{Compact: true},
		Log:     log.Options{FS: fs, SegmentBytes: 1024, SegmentIndexBytes: 1024, IndexIntervalBytes: 256, RetentionMs: -1}}
	p, err := partition.Open("/p", &o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	keyed := func(pid int64, key, val string) []byte {
		bt := records.NewBatch(100, []records.Record{{Key: []byte(key), Value: []byte(val)}})
		if pid >= 0 {
			bt.Header.ProducerID, bt.Header.ProducerEpoch, bt.Header.BaseSequence = pid, 0, 0
			bt.Header.Attributes = batch.TransactionalBit
		}
		b, err := records.Encode(nil, bt, batch.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	appendDurable := func(b []byte) {
		t.Helper()
		res := mustAppend(t, p, b)
		if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	appendDurable(keyed(-1, "k", "old"))
	appendDurable(keyed(5, "k", "in-txn"))
	filler := func() {
		for i := range 20 {
			appendDurable(keyed(-1, fmt.Sprint("f", i%3), string(make([]byte, 200))))
		}
	}
	values := func() []string {
		var out []string
		r, err := p.Read(p.LogStartOffset(), 1<<20, partition.ReadLogEnd)
		if err != nil {
			t.Fatal(err)
		}
		for b := r.Records; len(b) > 0; {
			sz, _ := batch.Next(b)
			if bt, err := records.Decode(b[:sz]); err == nil && !bt.Header.IsControl() {
				for _, rec := range bt.Records {
					if string(rec.Key) == "k" {
						out = append(out, string(rec.Value))
					}
				}
			}
			b = b[sz:]
		}
		return out
	}
	filler()
	cleanup := func() {
		t.Helper()
		if _, err := p.Cleanup(partition.CleanerResources{}); err != nil {
			t.Fatal(err)
		}
	}
	cleanup()
	if got := values(); !slices.Equal(got, []string{"old", "in-txn"}) {
		t.Fatalf("with the transaction open: %q", got)
	}
	mustMarker(t, p, 5, 0, false)
	filler()
	cleanup()
	if got := values(); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("after the abort: %q", got)
	}
}
