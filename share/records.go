package share

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// The records of __share_group_state, in the formats of Kafka's share coordinator
// (share-coordinator's ShareSnapshot*/ShareUpdate* schemas) so that Kafka's tools read
// them. kmsg (v1.15) has no such types: they are encoded here with kbin. Keys are not
// flexible: int16 record type, then the share-partition (int16-length group id, topic id,
// partition). Values are int16 version 0, then a flexible body.
//
//	type  key               value
//	0     ShareSnapshotKey  ShareSnapshotValue: the whole state of the share-partition
//	                        SnapshotEpoch, StateEpoch, LeaderEpoch int32; StartOffset
//	                        int64; CreateTimestamp, WriteTimestamp int64 (ms); StateBatches;
//	                        tag 0: DeliveryCompleteCount int32 (KIP-1226; -1 unknown)
//	1     ShareUpdateKey    ShareUpdateValue: what changed since the snapshot
//	                        SnapshotEpoch, LeaderEpoch int32; StartOffset int64 (-1: not
//	                        moved); StateBatches; tag 0: DeliveryCompleteCount int32
//
// A state batch is FirstOffset int64, LastOffset int64, DeliveryState int8 (0 Available,
// 2 Acknowledged, 4 Archived), DeliveryCount int16, tags. An update belongs to the snapshot
// of its SnapshotEpoch: one of another epoch is stale (compaction kept it after a newer
// snapshot) and is ignored on replay. A nil value is a tombstone (the state deleted).
const (
	snapshotType int16 = 0
	updateType   int16 = 1
)

// errBadRecord marks a record of __share_group_state that cannot be decoded.
var errBadRecord = errors.New("share: undecodable __share_group_state record")

// Key names a share-partition: a share group's view of one topic partition.
type Key struct {
	Group     string
	TopicID   [16]byte
	Partition int32
}

func (k Key) String() string {
	return fmt.Sprintf("%s:%x:%d", k.Group, k.TopicID, k.Partition)
}

// snapshotValue is a ShareSnapshotValue.
type snapshotValue struct {
	SnapshotEpoch, StateEpoch, LeaderEpoch int32
	StartOffset                            int64
	CreateTimestamp, WriteTimestamp        int64
	DeliveryCompleteCount                  int32 // -1: unknown
	Batches                                []StateBatch
}

// updateValue is a ShareUpdateValue.
type updateValue struct {
	SnapshotEpoch, LeaderEpoch int32
	StartOffset                int64 // -1: not moved
	DeliveryCompleteCount      int32 // -1: unknown
	Batches                    []StateBatch
}

func appendKey(dst []byte, typ int16, k Key) []byte {
	dst = kbin.AppendInt16(dst, typ)
	dst = kbin.AppendString(dst, k.Group)
	dst = kbin.AppendUuid(dst, k.TopicID)
	return kbin.AppendInt32(dst, k.Partition)
}

// decodeKey reads a key of __share_group_state; the group id is copied.
func decodeKey(b []byte) (typ int16, k Key, err error) {
	r := kbin.Reader{Src: b}
	typ = r.Int16()
	if typ != snapshotType && typ != updateType {
		return 0, Key{}, fmt.Errorf("%w: key type %d", errBadRecord, typ)
	}
	k = Key{Group: r.String(), TopicID: r.Uuid(), Partition: r.Int32()}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return 0, Key{}, fmt.Errorf("%w: key type %d: %d bytes left, %v", errBadRecord, typ, len(r.Src), err)
	}
	return typ, k, nil
}

// appendCompleteCount appends the tagged-field section holding DeliveryCompleteCount
// unless it is unknown (-1, the default).
func appendCompleteCount(dst []byte, n int32) []byte {
	if n == -1 {
		return kbin.AppendUvarint(dst, 0)
	}
	dst = kbin.AppendUvarint(dst, 1)
	dst = kbin.AppendUvarint(dst, 0)
	dst = kbin.AppendUvarint(dst, 4)
	return kbin.AppendInt32(dst, n)
}

func appendBatches(dst []byte, bs []StateBatch) []byte {
	dst = kbin.AppendCompactArrayLen(dst, len(bs))
	for _, b := range bs {
		dst = kbin.AppendInt64(dst, b.First)
		dst = kbin.AppendInt64(dst, b.Last)
		dst = kbin.AppendInt8(dst, int8(b.State))
		dst = kbin.AppendInt16(dst, b.DeliveryCount)
		dst = kbin.AppendUvarint(dst, 0) // no tags
	}
	return dst
}

func (v *snapshotValue) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.SnapshotEpoch)
	dst = kbin.AppendInt32(dst, v.StateEpoch)
	dst = kbin.AppendInt32(dst, v.LeaderEpoch)
	dst = kbin.AppendInt64(dst, v.StartOffset)
	dst = kbin.AppendInt64(dst, v.CreateTimestamp)
	dst = kbin.AppendInt64(dst, v.WriteTimestamp)
	dst = appendBatches(dst, v.Batches)
	return appendCompleteCount(dst, v.DeliveryCompleteCount)
}

func (v *updateValue) appendTo(dst []byte) []byte {
	dst = kbin.AppendInt16(dst, 0)
	dst = kbin.AppendInt32(dst, v.SnapshotEpoch)
	dst = kbin.AppendInt32(dst, v.LeaderEpoch)
	dst = kbin.AppendInt64(dst, v.StartOffset)
	dst = appendBatches(dst, v.Batches)
	return appendCompleteCount(dst, v.DeliveryCompleteCount)
}

// Decoders. They never panic, bound their work by the input's size (an array length is
// checked against the bytes left before anything is allocated), and refuse a value with
// bytes left over or a version other than 0.

// batchMinSize is the encoded size of a state batch: two int64, int8, int16, empty tags.
const batchMinSize = 8 + 8 + 1 + 2 + 1

// bad marks r as having failed (a short read).
func bad(r *kbin.Reader) { r.Span(len(r.Src) + 1) }

func readBatches(r *kbin.Reader) []StateBatch {
	n := int(r.CompactArrayLen())
	if n < 0 || n*batchMinSize > len(r.Src) {
		bad(r)
		return nil
	}
	out := make([]StateBatch, 0, n)
	for range n {
		b := StateBatch{First: r.Int64(), Last: r.Int64(), State: RecordState(r.Int8()), DeliveryCount: r.Int16()}
		skipTags(r, nil)
		if !r.Ok() {
			return nil
		}
		out = append(out, b)
	}
	return out
}

// skipTags reads a tagged-field section, calling fn (if not nil) with each field's tag
// and a reader of its bytes. Every field takes at least two bytes, so a count above the
// bytes left is bad input, refused before looping.
func skipTags(r *kbin.Reader, fn func(tag uint32, v *kbin.Reader)) {
	n := r.Uvarint()
	if int64(n)*2 > int64(len(r.Src)) {
		bad(r)
		return
	}
	for range n {
		tag, size := r.Uvarint(), r.Uvarint()
		v := kbin.Reader{Src: r.Span(int(size))}
		if fn != nil && r.Ok() {
			fn(tag, &v)
		}
	}
}

// readCompleteCount reads the tagged-field section of a value: tag 0 is
// DeliveryCompleteCount, others are skipped.
func readCompleteCount(r *kbin.Reader) int32 {
	n := int32(-1)
	skipTags(r, func(tag uint32, v *kbin.Reader) {
		if tag != 0 {
			return
		}
		n = v.Int32()
		if v.Complete() != nil || len(v.Src) != 0 {
			bad(r)
		}
	})
	return n
}

func valueReader(b []byte) (kbin.Reader, error) {
	r := kbin.Reader{Src: b}
	if v := r.Int16(); v != 0 || !r.Ok() {
		return r, fmt.Errorf("%w: value version %d", errBadRecord, v)
	}
	return r, nil
}

func finish(r *kbin.Reader, what string) error {
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return fmt.Errorf("%w: %s: %d bytes left, %v", errBadRecord, what, len(r.Src), err)
	}
	return nil
}

func decodeSnapshotValue(b []byte) (snapshotValue, error) {
	r, err := valueReader(b)
	if err != nil {
		return snapshotValue{}, err
	}
	v := snapshotValue{SnapshotEpoch: r.Int32(), StateEpoch: r.Int32(), LeaderEpoch: r.Int32(), StartOffset: r.Int64()}
	v.CreateTimestamp, v.WriteTimestamp = r.Int64(), r.Int64()
	v.Batches = readBatches(&r)
	v.DeliveryCompleteCount = readCompleteCount(&r)
	if err := finish(&r, "share snapshot"); err != nil {
		return snapshotValue{}, err
	}
	return v, nil
}

func decodeUpdateValue(b []byte) (updateValue, error) {
	r, err := valueReader(b)
	if err != nil {
		return updateValue{}, err
	}
	v := updateValue{SnapshotEpoch: r.Int32(), LeaderEpoch: r.Int32(), StartOffset: r.Int64()}
	v.Batches = readBatches(&r)
	v.DeliveryCompleteCount = readCompleteCount(&r)
	if err := finish(&r, "share update"); err != nil {
		return updateValue{}, err
	}
	return v, nil
}
