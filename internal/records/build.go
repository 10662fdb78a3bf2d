package records

import "github.com/stratalog/strata/internal/batch"

// NewBatch returns a Batch holding recs as a producer without idempotence writes them:
// base offset 0, offset deltas 0…n-1 (NewBatch sets them in recs), first timestamp ts and
// the largest timestamp of the records as max timestamp, no producer (id, epoch and base
// sequence -1), leader epoch -1 (the broker stamps both offset and epoch on append),
// attributes 0. Encode turns it into bytes; set other header fields (ProducerID,
// BaseSequence, Attributes, LeaderEpoch …) on the result first where needed.
//
// It is how the broker's own writers (the coordinators) build their batches, and how tests
// build valid batches of any shape with exactly the bytes a Kafka producer sends.
func NewBatch(ts int64, recs []Record) *Batch {
	maxTS := ts
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
		maxTS = max(maxTS, ts+recs[i].TimestampDelta)
	}
	return &Batch{
		Header: batch.Header{
			LeaderEpoch:     -1,
			Magic:           batch.CurrentMagic,
			LastOffsetDelta: int32(len(recs) - 1),
			BaseTimestamp:   ts,
			MaxTimestamp:    maxTS,
			ProducerID:      -1,
			ProducerEpoch:   -1,
			BaseSequence:    -1,
			RecordCount:     int32(len(recs)),
		},
		Records: recs,
	}
}
