package records

import (
	"bytes"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// TestRecordsNewBatch: NewBatch + Encode gives, byte for byte, the batch a Kafka producer
// builds with kmsg (the builder tests used before internal/records had one), for plain,
// idempotent and transactional shapes, and every codec round-trips it.
func TestRecordsNewBatch(t *testing.T) {
	const ts = 1_700_000_000_000
	for _, tc := range []struct {
		name  string
		tweak func(h *batch.Header)
	}{
		{"plain", func(*batch.Header) {}},
		{"idempotent", func(h *batch.Header) { h.ProducerID, h.ProducerEpoch, h.BaseSequence = 7, 2, 40 }},
		{"transactional", func(h *batch.Header) {
			h.ProducerID, h.ProducerEpoch, h.BaseSequence = 9, 0, 0
			h.Attributes = batch.TransactionalBit
		}},
		{"leader epoch", func(h *batch.Header) { h.LeaderEpoch, h.BaseOffset = 3, 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := testRecords(6, 1, 30)
			for i := range recs {
				recs[i].OffsetDelta = 99 // NewBatch numbers them
			}
			bt := NewBatch(ts, recs)
			tc.tweak(&bt.Header)
			got := mustEncode(t, bt, batch.CodecNone)

			var body []byte
			maxTS := int64(ts)
			for i, r := range recs {
				if r.OffsetDelta != int32(i) {
					t.Fatalf("record %d: offset delta %d", i, r.OffsetDelta)
				}
				maxTS = max(maxTS, ts+r.TimestampDelta)
				kr := kmsg.Record{Attributes: r.Attributes, TimestampDelta64: r.TimestampDelta,
					OffsetDelta: int32(i), Key: r.Key, Value: r.Value, Headers: r.Headers}
				enc := kr.AppendTo(nil) // Length 0: one varint byte
				kr.Length = int32(len(enc) - 1)
				body = kr.AppendTo(body)
			}
			h := bt.Header
			rb := kmsg.RecordBatch{
				FirstOffset: h.BaseOffset, PartitionLeaderEpoch: h.LeaderEpoch, Magic: 2,
				Attributes: h.Attributes, LastOffsetDelta: int32(len(recs) - 1),
				FirstTimestamp: ts, MaxTimestamp: maxTS,
				ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, FirstSequence: h.BaseSequence,
				NumRecords: int32(len(recs)), Records: body,
			}
			want := rb.AppendTo(nil)
			l := len(want) - batch.LogOverhead
			want[8], want[9], want[10], want[11] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
			c := crc32.Checksum(want[21:], crc32.MakeTable(crc32.Castagnoli))
			want[17], want[18], want[19], want[20] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
			if !bytes.Equal(got, want) {
				t.Fatalf("NewBatch+Encode differs from the producer's bytes:\n got %x\nwant %x", got, want)
			}
			if d, err := Decode(got); err != nil || d.Header.MaxTimestamp != maxTS || d.Header.ProducerID != h.ProducerID {
				t.Fatalf("decode: %v %+v", err, d)
			}
			for _, codec := range allCodecs {
				b := mustEncode(t, bt, codec)
				d, err := Decode(b)
				if err != nil {
					t.Fatalf("%s: %v", CodecName(codec), err)
				}
				sameHeader(t, bt.Header, d.Header)
				sameRecords(t, recs, d.Records)
			}
		})
	}
	// The defaults are a producer's without idempotence; the max timestamp is the largest
	// record's, never below the first timestamp.
	bt := NewBatch(ts, []Record{{TimestampDelta: -5}, {TimestampDelta: 3}, {TimestampDelta: 1}})
	want := batch.Header{LeaderEpoch: -1, Magic: 2, LastOffsetDelta: 2, BaseTimestamp: ts, MaxTimestamp: ts + 3,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 3}
	if bt.Header != want {
		t.Fatalf("header %+v, want %+v", bt.Header, want)
	}
}
