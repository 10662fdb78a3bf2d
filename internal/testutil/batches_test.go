package testutil

import (
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBatchValid(t *testing.T) {
	for _, o := range []BatchOptions{{}, {Records: 5, ValueSize: 100, KeySize: 4, Timestamp: 1000, TimestampStep: 3}, {ProducerID: 7, BaseSequence: 10, Records: 3}} {
		b := Batch(o)
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if int(h.RecordCount) != max(o.Records, 1) || h.LastOffsetDelta != int32(max(o.Records, 1)-1) {
			t.Fatalf("header %+v", h)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		recs := rb.Records
		for i := 0; i < int(rb.NumRecords); i++ {
			var r kmsg.Record
			if err := r.ReadFrom(recs); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if len(r.Value) != max(o.ValueSize, 10) {
				t.Fatalf("value len %d", len(r.Value))
			}
			n := len(r.AppendTo(nil))
			recs = recs[n:]
		}
		if len(recs) != 0 {
			t.Fatalf("%d trailing", len(recs))
		}
	}
	b := Batches(3, BatchOptions{Records: 2})
	for len(b) > 0 {
		n, err := batch.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := batch.Validate(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
}
