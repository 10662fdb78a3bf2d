package partition

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand"
	"reflect"
	"slices"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
)

// randomProducers returns a producer state as the partition keeps it: up to five batches
// per producer, contiguous sequences and offsets, some open transactions.
func randomProducers(rng *rand.Rand, n int) map[int64]*producerState {
	m := make(map[int64]*producerState, n)
	for range n {
		pid := rng.Int63n(1 << 40)
		st := &producerState{epoch: int16(rng.Intn(1 << 15)), txnFirst: -1, coordEpoch: int32(rng.Intn(5)) - 1, lastTS: rng.Int63n(1<<41) - 1}
		off, seq := rng.Int63n(1<<40), int32(rng.Intn(1<<31-100))
		for range rng.Intn(producerBatches + 1) {
			k := rng.Int63n(20)
			st.batches = append(st.batches, batchMeta{firstSeq: seq, lastSeq: seq + int32(k), baseOffset: off, lastOffset: off + k, maxTimestamp: rng.Int63n(1 << 41)})
			seq, off = seq+int32(k)+1, off+k+1+rng.Int63n(3)
		}
		if rng.Intn(3) == 0 {
			st.txnFirst = rng.Int63n(1 << 40)
		}
		m[pid] = st
	}
	return m
}

// TestPartitionSnapshotCodec: the producer state goes through a snapshot unchanged; a
// damaged file (any bit, any cut) is errBadSnapshot; Kafka's version 1 file is read.
func TestPartitionSnapshotCodec(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 7, 100} {
		m := randomProducers(rng, n)
		b := encodeSnapshot(m)
		got, err := decodeSnapshot(b)
		if err != nil {
			t.Fatalf("%d producers: %v", n, err)
		}
		if len(m) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%d producers: decoded %+v, want %+v", n, got, m)
		}
		if n > 7 {
			continue
		}
		for i := range b {
			for bit := range 8 {
				c := append([]byte(nil), b...)
				c[i] ^= 1 << bit
				if _, err := decodeSnapshot(c); !errors.Is(err, errBadSnapshot) {
					t.Fatalf("%d producers, bit %d of byte %d flipped: %v", n, bit, i, err)
				}
			}
		}
		for k := range len(b) {
			if _, err := decodeSnapshot(b[:k]); !errors.Is(err, errBadSnapshot) {
				t.Fatalf("%d producers, cut at %d: %v", n, k, err)
			}
		}
	}

	// Kafka's version 1: one entry per producer, its last batch only.
	be := binary.BigEndian
	v1 := be.AppendUint16(nil, 1)
	v1 = be.AppendUint32(v1, 0)
	v1 = be.AppendUint32(v1, 2)
	entry := func(b []byte, pid int64, epoch int16, lastSeq int32, lastOff int64, delta int32, ts int64, coord int32, txn int64) []byte {
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint16(b, uint16(epoch))
		b = be.AppendUint32(b, uint32(lastSeq))
		b = be.AppendUint64(b, uint64(lastOff))
		b = be.AppendUint32(b, uint32(delta))
		b = be.AppendUint64(b, uint64(ts))
		b = be.AppendUint32(b, uint32(coord))
		return be.AppendUint64(b, uint64(txn))
	}
	v1 = entry(v1, 5, 3, 1, 41, 4, 1000, -1, -1) // sequences 2147483645..1 (wrapped)
	v1 = entry(v1, 6, 0, -1, -1, 0, 2000, 7, 30) // a transactional producer without batches
	be.PutUint32(v1[2:], crc32.Checksum(v1[6:], snapshotCRC))
	got, err := decodeSnapshot(v1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]*producerState{
		5: {epoch: 3, txnFirst: -1, coordEpoch: -1, lastTS: 1000,
			batches: []batchMeta{{firstSeq: 1<<31 - 3, lastSeq: 1, baseOffset: 37, lastOffset: 41, maxTimestamp: 1000}}},
		6: {epoch: 0, txnFirst: 30, coordEpoch: 7, lastTS: 2000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1: %+v, want %+v", got, want)
	}
}

// FuzzPartitionSnapshot: decodeSnapshot never panics; what it accepts re-encodes to a
// file that decodes to the same state (re-parsing is stable), and a version 2 file it
// accepts with its entries in producer id order is exactly what encodeSnapshot writes.
func FuzzPartitionSnapshot(f *testing.F) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{0, 1, 3} {
		f.Add(encodeSnapshot(randomProducers(rng, n)))
	}
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, errBadSnapshot) {
				t.Fatalf("error %v is not errBadSnapshot", err)
			}
			return
		}
		again, err := decodeSnapshot(encodeSnapshot(m))
		if err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		if len(m)+len(again) > 0 && !reflect.DeepEqual(again, m) {
			t.Fatalf("re-parsed %+v, want %+v", again, m)
		}
	})
}

// TestPartitionEmptiedMarker: a control batch compaction emptied (header-only, Kafka's
// RETAIN_EMPTY) is no marker: a follower copies it from a compacted leader and a replay
// passes it, without an error and without ending the producer's transaction.
func TestPartitionEmptiedMarker(t *testing.T) {
	p := openFS(t, vfs.NewMem(), "/p", 0)
	mustDo(t, "MakeFollower", p.MakeFollower(0))
	txn := testutil.Batch(testutil.BatchOptions{ProducerID: 5, BaseSequence: 0, Attributes: 0x10})
	if _, err := p.AppendAt(txn); err != nil {
		t.Fatal(err)
	}
	h, err := batch.ParseHeader(records.AppendMarker(nil, 5, 0, records.Marker{Commit: true}, 1000))
	if err != nil {
		t.Fatal(err)
	}
	h.BaseOffset, h.LeaderEpoch = 1, 0
	if _, err := p.AppendAt(batch.AppendEmpty(nil, &h)); err != nil {
		t.Fatalf("emptied marker: %v", err)
	}
	if open := p.OpenTxns(); len(open) != 1 || open[0].ProducerID != 5 {
		t.Fatalf("open transactions %+v, want producer 5's", open)
	}
}

// TestPartitionEpochsRebuiltWithSnapshot: a leader-epoch checkpoint that is missing is
// rebuilt from the batches of the whole log, also below the producer-state snapshot the
// partition starts its replay from.
func TestPartitionEpochsRebuiltWithSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	p := openFS(t, fs, "/p", 0)
	mustDo(t, "MakeFollower", p.MakeFollower(0))
	var want []epochEntry
	for i := range 30 {
		epoch := int32(i/10) * 2 // epochs 0, 2, 4
		b := testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 300, Seed: byte(i)})
		if i%10 == 0 {
			want = append(want, epochEntry{epoch: epoch, start: int64(i * 2)})
		}
		_, err := p.AppendAt(stamped(b, int64(i*2), epoch))
		mustDo(t, "AppendAt", err)
	}
	mustDo(t, "close", p.Close())
	names, _ := fs.List("/p")
	snaps := 0
	for _, n := range names {
		if off, ok := parseSnapshotName(n); ok && off > want[1].start {
			snaps++
		}
	}
	if snaps == 0 {
		t.Fatalf("no snapshot above epoch 2's start: %v", names)
	}
	mustDo(t, "remove", fs.Remove("/p/"+LeaderEpochFile))
	q := openFS(t, fs, "/p", 0)
	if got := q.epochs.entries(); !slices.Equal(got, want) {
		t.Fatalf("rebuilt %v, want %v", got, want)
	}
}
