package batch_test

import (
	"bytes"
	"testing"

	// An external test package (testutil builds batches with internal/records, which
	// imports batch), dot-importing the package under test.
	. "github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
)

// FuzzBatchValidate feeds arbitrary bytes to Next, ParseHeader and Validate.
//
// Invariants: no panic; Next returns a size <= the input; Validate of that prefix is
// deterministic; a batch that validates still validates after SetBaseOffset and
// SetLeaderEpoch (the CRC does not cover them) and its header re-parses identically; its
// AppendEmpty form validates and keeps the fields it must.
func FuzzBatchValidate(f *testing.F) {
	f.Add(testutil.Batch(testutil.BatchOptions{}))
	f.Add(testutil.Batch(testutil.BatchOptions{Records: 5, ValueSize: 30, KeySize: 4, Timestamp: 1700000000000, TimestampStep: 7}))
	f.Add(testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: 42, ProducerEpoch: 1, BaseSequence: 100}))
	f.Add(testutil.Batches(2, testutil.BatchOptions{Records: 2}))
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
		checkEmpty(t, &h3)
	})
}

// checkEmpty checks that AppendEmpty(h) is a valid header-only batch standing for h.
func checkEmpty(t *testing.T, h *Header) {
	t.Helper()
	prefix := []byte("xyz")
	e := AppendEmpty(prefix, h)
	if len(e) != len(prefix)+HeaderSize || !bytes.Equal(e[:len(prefix)], prefix) {
		t.Fatalf("AppendEmpty appended %d bytes", len(e)-len(prefix))
	}
	got, err := Validate(e[len(prefix):])
	if err != nil {
		t.Fatalf("empty batch invalid: %v", err)
	}
	want := *h
	want.Length, want.CRC, want.RecordCount, want.BaseTimestamp = HeaderSize-LogOverhead, got.CRC, 0, -1
	want.Attributes = h.Attributes & (TimestampTypeBit | TransactionalBit | ControlBit)
	if got != want {
		t.Fatalf("empty batch header %+v, want %+v", got, want)
	}
	if got.EmptyCompressed() || got.Codec() != CodecNone {
		t.Fatalf("empty batch has codec %d", got.Codec())
	}
}

// TestBatchAppendEmpty: the header-only form of a compressed idempotent batch (what
// compaction keeps for producer state) has codec none, no records, and the batch's offset
// range, max timestamp and producer fields.
func TestBatchAppendEmpty(t *testing.T) {
	b := testutil.Batch(testutil.BatchOptions{Records: 4, ProducerID: 7, ProducerEpoch: 2, BaseSequence: 40, Timestamp: 1000, TimestampStep: 5})
	SetBaseOffset(b, 500)
	SetLeaderEpoch(b, 3)
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	h.Attributes |= CodecSnappy | TransactionalBit | 0x40 // 0x40: delete horizon, dropped
	checkEmpty(t, &h)
	h.RecordCount = 0
	if !h.EmptyCompressed() {
		t.Fatal("a snappy batch without records is not EmptyCompressed")
	}
	e := AppendEmpty(nil, &h)
	got, _ := ParseHeader(e)
	if got.LastOffset() != 503 || got.ProducerID != 7 || got.BaseSequence != 40 || got.LastSequence() != 43 || !got.IsTransactional() {
		t.Fatalf("empty batch %+v", got)
	}
}
