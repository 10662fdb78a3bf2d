package txn

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a transaction's state, with Kafka's numbering (TransactionState, the State
// field of __transaction_state records).
type State int8

// The states: Empty → Ongoing (AddPartitionsToTxn) → PrepareCommit or PrepareAbort
// (EndTxn, or a timeout or a new producer aborting) → CompleteCommit or CompleteAbort
// (every marker written) → Ongoing again, or Empty (InitProducerId). Dead is an expired
// id (its record is a tombstone); PrepareEpochFence is never stored by Strata (Kafka keeps
// it in memory while it fences an epoch).
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is Kafka's name of the state (DescribeTransactions, ListTransactions).
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// ParseState returns the state named s (Kafka's names, as in ListTransactions filters).
func ParseState(s string) (State, bool) {
	i := slices.Index(stateNames[:], s)
	return State(i), i >= 0
}

// TopicPartition is a partition taking part in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// Txn is the state of one transactional id, as stored in its __transaction_state record
// (Kafka's TransactionLogValue) and described to operators.
type Txn struct {
	ID             string
	ProducerID     int64
	PrevProducerID int64 // the id before an epoch exhaustion gave a new one; -1
	// NextProducerID is the producer id a transaction ended with EndTxnV2 at an exhausted
	// epoch continues with once its markers are written (Kafka's nextProducerId); -1.
	NextProducerID int64
	ProducerEpoch  int16
	TimeoutMs      int32
	State          State
	// Partitions of the transaction (Ongoing, Prepare*), sorted; none otherwise.
	Partitions []TopicPartition
	StartMs    int64 // when the transaction started (first AddPartitions); -1 if none
	UpdateMs   int64 // the last state change
}

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the epoch cannot be
// bumped any more (a new producer id is needed).
func epochExhausted(e int16) bool { return e >= math.MaxInt16-1 }

// keyOf is the record key of transactional id id (Kafka's TransactionLogKey, version 0).
func keyOf(id string) []byte {
	return (&kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}).AppendTo(nil)
}

// valueOf is the record value of t (Kafka's TransactionLogValue, version 1: the flexible
// version Kafka 3.5+ writes; Kafka 4 adds tagged fields Strata leaves at their defaults).
func valueOf(t *Txn) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = 1
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = t.ProducerID, t.ProducerEpoch, t.TimeoutMs
	v.State = kmsg.TransactionState(t.State)
	v.LastUpdateTimestamp, v.StartTimestamp = t.UpdateMs, t.StartMs
	v.PreviousProducerID = t.PrevProducerID
	v.NextProducerID = t.NextProducerID
	for i := 0; i < len(t.Partitions); {
		j := i
		topic := kmsg.TxnMetadataValueTopic{Topic: t.Partitions[i].Topic}
		for ; j < len(t.Partitions) && t.Partitions[j].Topic == topic.Topic; j++ {
			topic.Partitions = append(topic.Partitions, t.Partitions[j].Partition)
		}
		v.Topics = append(v.Topics, topic)
		i = j
	}
	return v.AppendTo(nil)
}

// decodeKey returns the transactional id of a __transaction_state key. Keys of other
// versions are an error (the caller skips the record, as Kafka skips unknown versions).
func decodeKey(b []byte) (string, error) {
	if len(b) < 2 {
		return "", fmt.Errorf("txn: record key of %d bytes", len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b)); v != 0 {
		return "", fmt.Errorf("txn: record key version %d", v)
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(b); err != nil {
		return "", fmt.Errorf("txn: record key: %w", err)
	}
	return k.TransactionalID, nil
}

// decodeValue decodes a __transaction_state value (TransactionLogValue versions 0 and 1)
// for id. It never panics, and its work is bounded by the input's size (kmsg's decoder
// loops over a tag count it does not bound, which a few corrupt bytes make 2^32); a value
// that does not decode, or has a state or epoch out of range, is an error.
func decodeValue(id string, b []byte) (Txn, error) {
	r := kbin.Reader{Src: b}
	version := r.Int16()
	if version < 0 || version > 1 {
		return Txn{}, fmt.Errorf("txn: record value version %d", version)
	}
	flexible := version >= 1
	t := Txn{ID: id, PrevProducerID: -1, NextProducerID: -1}
	t.ProducerID, t.ProducerEpoch, t.TimeoutMs, t.State = r.Int64(), r.Int16(), r.Int32(), State(r.Int8())
	arrayLen := func() int {
		if flexible {
			return int(r.CompactArrayLen())
		}
		return int(r.ArrayLen())
	}
	for range max(arrayLen(), 0) {
		var topic string
		if flexible {
			topic = r.CompactString()
		} else {
			topic = r.String()
		}
		for range max(arrayLen(), 0) {
			t.Partitions = append(t.Partitions, TopicPartition{Topic: topic, Partition: r.Int32()})
		}
		if flexible {
			skipTags(&r, nil)
		}
		if !r.Ok() {
			break
		}
	}
	t.UpdateMs, t.StartMs = r.Int64(), r.Int64()
	if flexible {
		skipTags(&r, func(tag uint32, v *kbin.Reader) {
			switch tag {
			case 0:
				t.PrevProducerID = v.Int64()
			case 1:
				t.NextProducerID = v.Int64()
			}
		})
	}
	if err := r.Complete(); err != nil || len(r.Src) != 0 {
		return Txn{}, fmt.Errorf("txn: record value: %d bytes left, %v", len(r.Src), err)
	}
	if t.State < Empty || t.State > PrepareEpochFence || t.ProducerID < 0 || t.ProducerEpoch < 0 {
		return Txn{}, fmt.Errorf("txn: record value: state %d, producer %d epoch %d", t.State, t.ProducerID, t.ProducerEpoch)
	}
	slices.SortFunc(t.Partitions, compareTP)
	t.Partitions = slices.Compact(t.Partitions)
	return t, nil
}

// skipTags reads a tagged-field section, calling fn (if not nil) with each field's tag
// and a reader of its bytes. Every field takes at least two bytes, so a count above the
// bytes left is bad input, refused before looping.
func skipTags(r *kbin.Reader, fn func(tag uint32, v *kbin.Reader)) {
	n := r.Uvarint()
	if int64(n)*2 > int64(len(r.Src)) {
		r.Span(len(r.Src) + 1) // marks the reader bad
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
