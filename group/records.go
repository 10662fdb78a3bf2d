package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// Record formats in __consumer_offsets are Kafka's, so Kafka tools can read them:
//
//	key version 0/1  kmsg.OffsetCommitKey    value kmsg.OffsetCommitValue (written as v3)
//	key version 2    kmsg.GroupMetadataKey   value kmsg.GroupMetadataValue (written as v3)
//
// A nil value is a tombstone (offset deleted, group deleted). Records travel in
// uncompressed RecordBatch v2 batches, one batch per Append.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

// errBadRecord marks a record in __consumer_offsets that cannot be decoded.
var errBadRecord = errors.New("group: undecodable __consumer_offsets record")

type kv struct {
	key, value []byte
}

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetValue(o committed) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime.UnixMilli()
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// encodeBatch builds an uncompressed RecordBatch v2 holding recs (base offset 0).
func encodeBatch(now time.Time, recs []kv) []byte {
	ts := now.UnixMilli()
	var records []byte
	for i, r := range recs {
		var body []byte
		body = kbin.AppendInt8(body, 0)    // attributes
		body = kbin.AppendVarlong(body, 0) // timestamp delta
		body = kbin.AppendVarint(body, int32(i))
		body = kbin.AppendVarintBytes(body, r.key)
		body = kbin.AppendVarintBytes(body, r.value) // nil: tombstone (length -1)
		body = kbin.AppendVarint(body, 0)            // no headers
		records = kbin.AppendVarint(records, int32(len(body)))
		records = append(records, body...)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	b.Length = int32(batch.HeaderSize - batch.LogOverhead + len(records))
	out := b.AppendTo(nil)
	batch.SetCRC(out)
	return out
}

// decodeBatches calls fn for every record of the batches in b (one or more whole
// batches, back to back). Control and compressed batches are skipped: the coordinator
// never writes them.
func decodeBatches(b []byte, fn func(key, value []byte) error) error {
	for len(b) > 0 {
		n, err := batch.Next(b)
		if err != nil {
			return err
		}
		if err := decodeBatch(b[:n], fn); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func decodeBatch(b []byte, fn func(key, value []byte) error) error {
	h, err := batch.Validate(b)
	if err != nil {
		return err
	}
	if h.IsControl() || h.Codec() != batch.CodecNone {
		return nil
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		return fmt.Errorf("%w: %v", errBadRecord, err)
	}
	src := rb.Records
	for i := int32(0); i < rb.NumRecords; i++ {
		l, n := kbin.Varint(src)
		if n <= 0 || l < 0 || int(l) > len(src)-n {
			return fmt.Errorf("%w: record %d length", errBadRecord, i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(src[:n+int(l)]); err != nil {
			return fmt.Errorf("%w: record %d: %v", errBadRecord, i, err)
		}
		src = src[n+int(l):]
		if err := fn(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}
