package partition

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/log"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: time-based)")

// checkEpochs checks p's epoch cache against its log: entries strictly increasing, none
// past the log end, and every batch attributed to its own leader epoch (the entry with
// the largest start offset at or below the batch's base offset, or the log start, is of
// the batch's epoch). Entries that no batch falls under are allowed: a leader that has
// not written in its epoch, followed by the log of a newer leader.
func checkEpochs(t *testing.T, p *Partition, where string) {
	t.Helper()
	es := p.epochs.entries()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: epoch cache %v, log [%d, %d): %s", where, es, p.LogStartOffset(), p.EndOffset(), fmt.Sprintf(format, args...))
	}
	for i, e := range es {
		if e.start > p.EndOffset() || (i > 0 && (e.epoch <= es[i-1].epoch || e.start <= es[i-1].start)) {
			fail("entry %d out of place", i)
		}
	}
	start := p.LogStartOffset()
	err := p.st.Scan(start, func(h batch.Header, _ []byte) error {
		off := max(h.BaseOffset, start)
		i := len(es) - 1
		for i >= 0 && es[i].start > off {
			i--
		}
		if i < 0 || es[i].epoch != h.LeaderEpoch {
			fail("the batch at %d (epoch %d) is attributed to entry %d", h.BaseOffset, h.LeaderEpoch, i)
		}
		return nil
	})
	mustDo(t, "scan", err)
}

// TestPartitionEpochsRebuilt: the entries of a checkpoint that is missing (a data
// directory from before the file), behind the log or malformed are found again in the
// batches at open, and a clean close writes them.
func TestPartitionEpochsRebuilt(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 0)
	mustDo(t, "MakeFollower", p.MakeFollower(0))
	for i := range 6 {
		_, err := p.AppendAt(stamped(kb(2, 0, 0), int64(i*2), int32(i/2)*2)) // epochs 0, 2, 4
		mustDo(t, "AppendAt", err)
	}
	mustDo(t, "flush", p.Log().Flush())
	if got := readEpochFile(t, fs, "/p"); got != "0\n3\n0 0\n2 4\n4 8\n" {
		t.Fatalf("checkpoint %q: each epoch is recorded before its batches", got)
	}
	want := entriesOf(0, 0, 2, 4, 4, 8)
	behind := fs.CrashClone()
	mustDo(t, "write", vfs.WriteFileAtomic(behind, "/p/"+LeaderEpochFile, []byte("0\n1\n0 0\n")))
	missing := fs.CrashClone()
	mustDo(t, "remove", missing.Remove("/p/"+LeaderEpochFile))
	malformed := fs.CrashClone()
	mustDo(t, "write", vfs.WriteFileAtomic(malformed, "/p/"+LeaderEpochFile, []byte("0\n7\n1 2\n")))
	for name, img := range map[string]*vfs.MemFS{"behind": behind, "missing": missing, "malformed": malformed} {
		t.Run(name, func(t *testing.T) {
			q := openFS(t, img, "/p", 0)
			if got := q.epochs.entries(); !slices.Equal(got, want) || q.LeaderEpoch() != 4 {
				t.Fatalf("rebuilt %v at epoch %d, want %v at 4", got, q.LeaderEpoch(), want)
			}
			if e, end, err := q.EndOffsetForEpoch(2); e != 2 || end != 8 || err != nil {
				t.Fatalf("EndOffsetForEpoch(2) = %d, %d, %v", e, end, err)
			}
			mustDo(t, "close", q.Close())
			if got := readEpochFile(t, img, "/p"); got != "0\n3\n0 0\n2 4\n4 8\n" {
				t.Fatalf("checkpoint after a clean close %q", got)
			}
		})
	}
}

// TestPartitionEpochsStaleFile: a crash takes the tail of the log holding an epoch the
// checkpoint already names (MakeLeader wrote it). Open drops that entry, and the next
// append rewrites the file before it writes the log, so that a second crash cannot pair
// the old entry with the new batches.
func TestPartitionEpochsStaleFile(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 1<<40) // flush.messages: nothing is fsynced unless asked
	for range 3 {
		mustAppendBatch(t, p, kb(2, 0, 0))
	}
	mustDo(t, "flush", p.Log().Flush()) // 0..5 durable
	mustAppendBatch(t, p, kb(2, 0, 0))  // 6..7, lost in the crash
	mustDo(t, "MakeLeader", p.MakeLeader(1))
	if got := readEpochFile(t, fs, "/p"); got != "0\n2\n0 0\n1 8\n" {
		t.Fatalf("checkpoint %q", got)
	}
	img := fs.CrashClone()
	q := openFS(t, img, "/p", 1<<40)
	if q.EndOffset() != 6 || q.LeaderEpoch() != 0 {
		t.Fatalf("after the crash: end %d, epoch %d", q.EndOffset(), q.LeaderEpoch())
	}
	checkEpochs(t, q, "reopened")
	for range 3 {
		mustAppendBatch(t, q, kb(2, 0, 0)) // epoch 0 at 6..11, past the stale entry's 8
	}
	if got := readEpochFile(t, img, "/p"); got != "0\n1\n0 0\n" {
		t.Fatalf("checkpoint after the first append %q, want the stale entry gone", got)
	}
	mustDo(t, "flush", q.Log().Flush())
	r := openFS(t, img.CrashClone(), "/p", 1<<40)
	checkEpochs(t, r, "second crash")
	if e, end, _ := r.EndOffsetForEpoch(0); e != 0 || end != 12 {
		t.Fatalf("EndOffsetForEpoch(0) = %d, %d; want 0, 12", e, end)
	}
}

// TestPartitionEpochsCrashRandomized runs a seeded stream of leader and follower
// operations (appends, leader changes, truncations, DeleteRecords, clean reopens) on a
// partition and opens crash images taken along the way: every image's epoch cache must
// agree with the batches its log kept, however far behind or ahead of them its
// checkpoint was.
func TestPartitionEpochsCrashRandomized(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay: go test ./partition -run TestPartitionEpochsCrashRandomized -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewMem()
	flushMessages := int64(0)
	if rng.Intn(2) == 0 {
		flushMessages = 1 << 40 // nothing fsynced but on Flush: crashes lose tails
	}
	p := openFS(t, fs, "/p", flushMessages)
	images := 0
	for step := range 400 {
		where := fmt.Sprintf("step %d", step)
		switch op := rng.Intn(20); {
		case op < 8:
			if p.IsLeader() {
				_, err := p.Append(kb(1+rng.Intn(3), 0, 0))
				mustDo(t, where+": append", err)
			} else {
				epoch := p.LeaderEpoch()
				if e, ok := p.epochs.latest(); ok && e.epoch > epoch {
					epoch = e.epoch
				}
				_, err := p.AppendAt(stamped(kb(1+rng.Intn(3), 0, 0), p.EndOffset()+int64(rng.Intn(2)), epoch))
				mustDo(t, where+": AppendAt", err)
			}
		case op < 10:
			e := p.LeaderEpoch() + int32(rng.Intn(2))
			if rng.Intn(2) == 0 {
				mustDo(t, where+": MakeLeader", p.MakeLeader(e))
			} else {
				mustDo(t, where+": MakeFollower", p.MakeFollower(e))
			}
		case op < 12:
			if !p.IsLeader() {
				start, end := p.LogStartOffset(), p.EndOffset()
				mustDo(t, where+": truncate", p.Truncate(start+rng.Int63n(end-start+1)))
			}
		case op < 13:
			if p.IsLeader() && p.HighWatermark() > p.LogStartOffset() {
				_, err := p.DeleteRecords(p.LogStartOffset() + rng.Int63n(p.HighWatermark()-p.LogStartOffset()+1))
				mustDo(t, where+": DeleteRecords", err)
			}
		case op < 15:
			mustDo(t, where+": flush", p.Log().Flush())
		case op < 16:
			mustDo(t, where+": close", p.Close())
			p = openFS(t, fs, "/p", flushMessages)
			checkEpochs(t, p, where+": clean reopen")
		default:
			images++
			img := fs.CrashClone()
			q := openFS(t, img, "/p", flushMessages)
			checkEpochs(t, q, where+": crash image")
			// The image goes on: an append, another crash, the epochs still agree.
			if q.IsLeader() {
				_, err := q.Append(kb(1, 0, 0))
				mustDo(t, where+": append on the image", err)
				mustDo(t, where+": flush the image", q.Log().Flush())
				checkEpochs(t, openFS(t, img.CrashClone(), "/p", flushMessages), where+": second crash")
			}
			mustDo(t, "close image", q.Close())
		}
		checkEpochs(t, p, where)
	}
	t.Logf("%d crash images", images)
}

// TestPartitionEpochsRepair: a failed fsync makes the log drop what it wrote after its
// durable end, the first batches of a new epoch among them; the epoch cache drops that
// epoch's start with them, and the producer's retry starts the epoch again where it is
// stored now.
func TestPartitionEpochsRepair(t *testing.T) {
	inj := errorfs.OnKinds(errorfs.OpSync)
	inj.Err = syscall.EIO
	inj.Enabled.Store(false)
	mem := vfs.NewMem()
	p := openFS(t, errorfs.Wrap(mem, inj), "/p", 0)
	ctx := context.Background()
	res := mustAppendBatch(t, p, kb(2, 0, 0))
	mustDo(t, "wait", p.WaitDurable(ctx, res.LastOffset+1))
	inj.Enabled.Store(true)
	res = mustAppendBatch(t, p, kb(3, 0, 0)) // 2..4: never durable
	if err := p.WaitDurable(ctx, res.LastOffset+1); !errors.Is(err, log.ErrStorage) {
		t.Fatalf("wait with a failing fsync: %v", err)
	}
	inj.Enabled.Store(false)
	// MakeLeader(1) records epoch 1 at the log end, 5, past the durable end.
	mustDo(t, "MakeLeader", p.MakeLeader(1))
	// An append repairs the log first (back to 2), even one refused afterwards.
	if _, err := p.Append(kb(1, 9, 5)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("out-of-order append after the failure: %v", err)
	}
	if got := p.epochs.entries(); p.EndOffset() != 2 || !slices.Equal(got, entriesOf(0, 0)) {
		t.Fatalf("after the repair: end %d, epochs %v", p.EndOffset(), got)
	}
	if e, end, _ := p.EndOffsetForEpoch(0); e != 0 || end != 2 {
		t.Fatalf("EndOffsetForEpoch(0) after the repair = %d, %d; want 0, 2", e, end)
	}
	res = mustAppendBatch(t, p, kb(3, 0, 0))
	if res.BaseOffset != 2 {
		t.Fatalf("append after the repair at %d, want 2", res.BaseOffset)
	}
	if got := p.epochs.entries(); !slices.Equal(got, entriesOf(0, 0, 1, 2)) {
		t.Fatalf("epochs after the repair %v", got)
	}
	mustDo(t, "wait", p.WaitDurable(ctx, res.LastOffset+1))
	checkEpochs(t, p, "after the repair")
	checkEpochs(t, openFS(t, mem.CrashClone(), "/p", 0), "crash image")
}

// TestPartitionEpochsRecordedFirst: the start of a new epoch is in the checkpoint (durably)
// before the append that brings its first batches returns, for a leader's Append and a
// follower's AppendAt alike: compaction may later remove every batch of an epoch, and the
// scan at open could not find it again.
func TestPartitionEpochsRecordedFirst(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 0)
	mustAppendBatch(t, p, kb(2, 0, 0))
	if got := readEpochFile(t, fs.CrashClone(), "/p"); got != "0\n1\n0 0\n" {
		t.Fatalf("after the first append: %q", got)
	}
	mustAppendBatch(t, p, kb(2, 0, 0)) // same epoch: nothing to write
	mustDo(t, "MakeFollower", p.MakeFollower(1))
	_, err := p.AppendAt(append(stamped(kb(1, 0, 0), 4, 1), stamped(kb(1, 0, 0), 5, 3)...))
	mustDo(t, "AppendAt", err)
	if got := readEpochFile(t, fs.CrashClone(), "/p"); got != "0\n3\n0 0\n1 4\n3 5\n" {
		t.Fatalf("after the follower's append: %q", got)
	}
}
