package partition_test

import (
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/partition"
)

// TestPartitionTraffic: Append counts the records and the bytes it stores (re-compressed
// batches as stored), a duplicate or a refused append counts nothing, and CountFetched
// adds up.
func TestPartitionTraffic(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	two := testutil.Batches(2, testutil.BatchOptions{Records: 3})
	mustAppend(t, p, two)
	idem := testutil.Batch(testutil.BatchOptions{Records: 4, ProducerID: 5})
	mustAppend(t, p, idem)
	want := partition.Traffic{AppendedRecords: 10, AppendedBytes: uint64(len(two) + len(idem))}
	if got := p.Traffic(); got != want {
		t.Fatalf("after appends: %+v, want %+v", got, want)
	}
	if res := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 4, ProducerID: 5})); !res.Duplicate {
		t.Fatalf("retry not a duplicate: %+v", res)
	}
	if _, err := p.Append([]byte("garbage")); err == nil {
		t.Fatal("garbage appended")
	}
	p.CountFetched(100)
	p.CountFetched(23)
	want.FetchedBytes = 123
	if got := p.Traffic(); got != want {
		t.Fatalf("after a duplicate, a refused append and fetches: %+v, want %+v", got, want)
	}

	z := openMem(t, partition.NewMemStore(true), partition.Options{Compression: batch.CodecZstd})
	src := testutil.Batch(testutil.BatchOptions{Records: 50, ValueSize: 100})
	mustAppend(t, z, src)
	r, err := z.Read(0, 1<<20, partition.ReadHighWatermark)
	if err != nil {
		t.Fatal(err)
	}
	if got := z.Traffic(); got.AppendedRecords != 50 || got.AppendedBytes != uint64(len(r.Records)) || len(r.Records) >= len(src) {
		t.Fatalf("re-compressed: %+v; stored %d bytes, sent %d", got, len(r.Records), len(src))
	}
}
