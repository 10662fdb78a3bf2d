// Package kbatch builds valid Kafka RecordBatch v2 byte strings, encoded with franz-go's
// kmsg so the bytes are exactly what a real producer sends. It imports nothing of Strata,
// so every layer's tests can use it (package testutil re-exports it as testutil.Batch).
package kbatch

import (
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
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
	Attributes    int16 // batch attributes (codec bits are not honoured: records stay raw)
	LeaderEpoch   int32
	Seed          byte // varies the value pattern so batches differ
}

// Batch returns one valid RecordBatch v2 (magic 2, CRC-32C over bytes from offset 21) with
// the records described by o. Records are uncompressed whatever o.Attributes says.
func Batch(o BatchOptions) []byte {
	n := o.Records
	if n <= 0 {
		n = 1
	}
	vs := o.ValueSize
	if vs <= 0 {
		vs = 10
	}
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{
			TimestampDelta64: int64(i) * o.TimestampStep,
			OffsetDelta:      int32(i),
			Value:            make([]byte, vs),
		}
		for j := range r.Value {
			r.Value[j] = byte(i+j) ^ o.Seed
		}
		if o.KeySize > 0 {
			r.Key = []byte(fmt.Sprintf("%0*d", o.KeySize, i%1000000))[:o.KeySize]
		}
		body := r.AppendTo(nil) // Length 0 encodes as one varint byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	pid, seq := int64(-1), int32(-1)
	if o.ProducerID > 0 {
		pid, seq = o.ProducerID, o.BaseSequence
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          o.BaseOffset,
		PartitionLeaderEpoch: o.LeaderEpoch,
		Magic:                2,
		Attributes:           o.Attributes,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       o.Timestamp,
		MaxTimestamp:         o.Timestamp + int64(n-1)*o.TimestampStep,
		ProducerID:           pid,
		ProducerEpoch:        o.ProducerEpoch,
		FirstSequence:        seq,
		NumRecords:           int32(n),
		Records:              recs,
	}
	if o.TimestampStep < 0 {
		rb.MaxTimestamp = o.Timestamp
	}
	b := rb.AppendTo(nil)
	// Length counts the bytes after the length field (offset 12).
	l := len(b) - 12
	b[8], b[9], b[10], b[11] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	c := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	b[17], b[18], b[19], b[20] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	return b
}

// Batches concatenates count batches built from o, advancing Timestamp by the records'
// span and BaseSequence by the record count between batches, and Seed by one.
func Batches(count int, o BatchOptions) []byte {
	var out []byte
	for i := 0; i < count; i++ {
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
