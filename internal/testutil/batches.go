package testutil

import (
	"fmt"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// BatchOptions describes a batch for Batch. The zero value is one record with a 10-byte
// value, timestamp 0, no producer id.
type BatchOptions struct {
	Records       int   // number of records; 0 means 1
	ValueSize     int   // bytes of each record value (filled with a pattern); 0 means 10
	KeySize       int   // bytes of each record key; 0 means no key (null)
	BaseOffset    int64 // FirstOffset field (producers send 0; the broker stamps it)
	Timestamp     int64 // FirstTimestamp (ms); record i gets Timestamp + i*TimestampStep
	TimestampStep int64
	ProducerID    int64 // 0 means -1 (no idempotence)
	ProducerEpoch int16
	BaseSequence  int32 // used only when ProducerID > 0; else -1
	Attributes    int16 // batch attributes but the codec bits: records are never compressed
	LeaderEpoch   int32
	Seed          byte // varies the value pattern so batches differ
}

// Batch returns one valid RecordBatch v2 (magic 2, CRC-32C over bytes from offset 21) with
// the records described by o, uncompressed.
func Batch(o BatchOptions) []byte {
	n := max(o.Records, 1)
	vs := o.ValueSize
	if vs <= 0 {
		vs = 10
	}
	recs := make([]records.Record, n)
	for i := range recs {
		r := &recs[i]
		r.TimestampDelta = int64(i) * o.TimestampStep
		r.Value = make([]byte, vs)
		for j := range r.Value {
			r.Value[j] = byte(i+j) ^ o.Seed
		}
		if o.KeySize > 0 {
			r.Key = []byte(fmt.Sprintf("%0*d", o.KeySize, i%1000000))[:o.KeySize]
		}
	}
	bt := records.NewBatch(o.Timestamp, recs)
	h := &bt.Header
	h.BaseOffset, h.LeaderEpoch, h.ProducerEpoch = o.BaseOffset, o.LeaderEpoch, o.ProducerEpoch
	h.Attributes = o.Attributes &^ batch.CodecMask
	if o.ProducerID > 0 {
		h.ProducerID, h.BaseSequence = o.ProducerID, o.BaseSequence
	}
	b, err := records.Encode(nil, bt, batch.CodecNone)
	if err != nil {
		panic(fmt.Sprintf("testutil: encode %+v: %v", o, err))
	}
	return b
}

// Batches concatenates count batches built from o, advancing Timestamp by the records'
// span and BaseSequence by the record count between batches, and Seed by one.
func Batches(count int, o BatchOptions) []byte {
	var out []byte
	for range count {
		out = append(out, Batch(o)...)
		n := max(o.Records, 1)
		o.Timestamp += int64(n) * max(o.TimestampStep, 1)
		if o.ProducerID > 0 {
			o.BaseSequence += int32(n)
		}
		o.Seed++
	}
	return out
}

// SizedBatch returns one batch of about size bytes holding records of recordSize bytes
// each (at least one record).
func SizedBatch(size, recordSize int, ts int64) []byte {
	per := recordSize + 8 // approximate per-record overhead of the v2 encoding
	n := max((size-61)/per, 1)
	return Batch(BatchOptions{Records: n, ValueSize: recordSize, Timestamp: ts, TimestampStep: 1})
}
