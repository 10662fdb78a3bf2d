package batch

import (
	"bytes"
	"testing"

	"github.com/stratalog/strata/internal/testutil/kbatch"
)

// FuzzBatchValidate feeds arbitrary bytes to Next, ParseHeader and Validate.
//
// Invariants: no panic; Next returns a size <= the input; Validate of that prefix is
// deterministic; a batch that validates still validates after SetBaseOffset and
// SetLeaderEpoch (the CRC does not cover them) and its header re-parses identically.
func FuzzBatchValidate(f *testing.F) {
	f.Add(kbatch.Batch(kbatch.BatchOptions{}))
	f.Add(kbatch.Batch(kbatch.BatchOptions{Records: 5, ValueSize: 30, KeySize: 4, Timestamp: 1700000000000, TimestampStep: 7}))
	f.Add(kbatch.Batch(kbatch.BatchOptions{Records: 3, ProducerID: 42, ProducerEpoch: 1, BaseSequence: 100}))
	f.Add(kbatch.Batches(2, kbatch.BatchOptions{Records: 2}))
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Next(data)
		if err != nil {
			return
		}
		if n < 0 || n > len(data) {
			t.Fatalf("Next size %d of %d", n, len(data))
		}
		if n == 0 {
			return
		}
		b := append([]byte(nil), data[:n]...)
		h, err := Validate(b)
		h2, err2 := Validate(b)
		if (err == nil) != (err2 == nil) || h != h2 {
			t.Fatal("Validate not deterministic")
		}
		if err != nil {
			return
		}
		SetBaseOffset(b, 12345)
		SetLeaderEpoch(b, 7)
		h3, err := Validate(b)
		if err != nil {
			t.Fatalf("stamping broke the batch: %v", err)
		}
		if h3.BaseOffset != 12345 || h3.LeaderEpoch != 7 || h3.CRC != h.CRC || h3.MaxTimestamp != h.MaxTimestamp {
			t.Fatalf("header after stamping %+v", h3)
		}
		if !bytes.Equal(b[21:], data[21:n]) {
			t.Fatal("stamping touched CRC-covered bytes")
		}
	})
}
