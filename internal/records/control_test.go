package records

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// TestRecordsMarker: a marker batch has Kafka's shape (checked with kmsg as the oracle)
// and parses back; other control records and data batches are told apart.
func TestRecordsMarker(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := AppendMarker(nil, 42, 3, Marker{Commit: commit, CoordinatorEpoch: 7}, 1234)
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != -1 ||
			h.RecordCount != 1 || h.Codec() != batch.CodecNone || h.BaseTimestamp != 1234 {
			t.Fatalf("header %+v", h)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		recs, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		var key kmsg.ControlRecordKey
		var val kmsg.EndTxnMarker
		if err := key.ReadFrom(recs.Records[0].Key); err != nil || key.Version != 0 || (key.Type == 1) != commit {
			t.Fatalf("key %+v %v", key, err)
		}
		if err := val.ReadFrom(recs.Records[0].Value); err != nil || val.Version != 0 || val.CoordinatorEpoch != 7 {
			t.Fatalf("value %+v %v", val, err)
		}
		m, ok, err := ParseMarker(b)
		if err != nil || !ok || m.Commit != commit || m.CoordinatorEpoch != 7 {
			t.Fatalf("parse: %+v %v %v", m, ok, err)
		}
	}
	// Another control record type: not a marker, not an error.
	other := NewBatch(0, []Record{{Key: (&kmsg.ControlRecordKey{Type: 3}).AppendTo(nil), Value: []byte{0}}})
	other.Header.Attributes = batch.ControlBit
	ob, _ := Encode(nil, other, batch.CodecNone)
	if _, ok, err := ParseMarker(ob); ok || err != nil {
		t.Fatalf("snapshot header record: ok %v err %v", ok, err)
	}
	data, _ := Encode(nil, NewBatch(0, []Record{{Value: []byte("v")}}), batch.CodecNone)
	if _, _, err := ParseMarker(data); !errors.Is(err, batch.ErrInvalid) {
		t.Fatalf("data batch: %v", err)
	}
	short := NewBatch(0, []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0}}})
	short.Header.Attributes = batch.ControlBit
	sb, _ := Encode(nil, short, batch.CodecNone)
	if _, _, err := ParseMarker(sb); !errors.Is(err, batch.ErrInvalid) {
		t.Fatalf("short value: %v", err)
	}
}

// FuzzParseMarker parses arbitrary bytes as a marker batch. Invariants: no panic; every
// error wraps batch.ErrCorrupt or batch.ErrInvalid; a parsed marker re-encodes (with the
// batch's producer fields) into a batch that parses to the same marker.
func FuzzParseMarker(f *testing.F) {
	f.Add(AppendMarker(nil, 1, 0, Marker{Commit: true, CoordinatorEpoch: 5}, 10))
	f.Add(AppendMarker(nil, 9, 2, Marker{}, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok, err := ParseMarker(b)
		if err != nil {
			if !errors.Is(err, batch.ErrCorrupt) && !errors.Is(err, batch.ErrInvalid) {
				t.Fatalf("foreign error %v", err)
			}
			return
		}
		if !ok {
			return
		}
		h, _ := batch.ParseHeader(b)
		m2, ok2, err := ParseMarker(AppendMarker(nil, h.ProducerID, h.ProducerEpoch, m, h.BaseTimestamp))
		if err != nil || !ok2 || m2 != m {
			t.Fatalf("re-encoded marker %+v %v %v, want %+v", m2, ok2, err, m)
		}
	})
}
