package txn

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnRecordFormat: records are Kafka's TransactionLogKey (version 0) and
// TransactionLogValue (version 1), checked with kmsg as the oracle, and decode back; a
// version 0 value (older Kafka) decodes too.
func TestTxnRecordFormat(t *testing.T) {
	tx := Txn{ID: "tid", ProducerID: 77, PrevProducerID: -1, ProducerEpoch: 3, TimeoutMs: 60000, State: Ongoing,
		Partitions: []TopicPartition{{"a", 0}, {"a", 3}, {"b", 1}}, StartMs: 1000, UpdateMs: 2000}
	key := keyOf(tx.ID)
	if !bytes.Equal(key[:2], []byte{0, 0}) {
		t.Fatalf("key version %x", key[:2])
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil || k.TransactionalID != "tid" {
		t.Fatalf("key %+v %v", k, err)
	}
	val := valueOf(&tx)
	v := kmsg.NewTxnMetadataValue()
	if err := v.ReadFrom(val); err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.ProducerID != 77 || v.ProducerEpoch != 3 || v.TimeoutMillis != 60000 || v.State != 1 ||
		len(v.Topics) != 2 || v.Topics[0].Topic != "a" || !slices.Equal(v.Topics[0].Partitions, []int32{0, 3}) ||
		v.StartTimestamp != 1000 || v.LastUpdateTimestamp != 2000 || v.PreviousProducerID != -1 {
		t.Fatalf("value %+v", v)
	}
	id, err := decodeKey(key)
	if err != nil || id != "tid" {
		t.Fatalf("decode key %q %v", id, err)
	}
	got, err := decodeValue(id, val)
	if err != nil || got.ID != tx.ID || got.ProducerID != tx.ProducerID || got.State != tx.State || !slices.Equal(got.Partitions, tx.Partitions) || got.StartMs != tx.StartMs {
		t.Fatalf("decode value %+v %v", got, err)
	}
	v.Version = 0
	if got, err := decodeValue(id, v.AppendTo(nil)); err != nil || got.ProducerEpoch != 3 || len(got.Partitions) != 3 {
		t.Fatalf("version 0: %+v %v", got, err)
	}
	if _, err := decodeKey(binary.BigEndian.AppendUint16(nil, 1)); err == nil {
		t.Fatal("key version 1 accepted")
	}
	// A previous producer id (tagged field 0) is read; a tag count beyond the bytes is not
	// looped over.
	v = kmsg.NewTxnMetadataValue()
	v.Version, v.ProducerID, v.PreviousProducerID, v.NextProducerID = 1, 5, 4, 9
	if got, err := decodeValue("x", v.AppendTo(nil)); err != nil || got.PrevProducerID != 4 || got.NextProducerID != 9 {
		t.Fatalf("previous and next producer ids: %+v %v", got, err)
	}
	bad := []byte("\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00.\x00\x00\x00\x01\x02\x02\x02\x00\x00\xe3\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00")
	if _, err := decodeValue("x", bad); err == nil {
		t.Fatal("huge tag count accepted")
	}
}

// FuzzTxnRecord decodes arbitrary __transaction_state keys and values.
//
// Invariants: no panic; a decoded value re-encodes (valueOf) to bytes that decode to the
// same Txn; a decoded key re-encodes to a key that decodes to the same id.
func FuzzTxnRecord(f *testing.F) {
	tx := Txn{ID: "x", ProducerID: 1, PrevProducerID: -1, ProducerEpoch: 0, TimeoutMs: 1, State: PrepareCommit,
		Partitions: []TopicPartition{{"t", 0}}, StartMs: 5, UpdateMs: 6}
	f.Add(keyOf("x"), valueOf(&tx))
	tx.State, tx.Partitions = Empty, nil
	f.Add(keyOf(""), valueOf(&tx))
	f.Add([]byte{0, 0, 0}, []byte{0, 1})
	f.Fuzz(func(t *testing.T, key, val []byte) {
		id, err := decodeKey(key)
		if err != nil {
			return
		}
		if id2, err := decodeKey(keyOf(id)); err != nil || id2 != id {
			t.Fatalf("key re-decode %q %v", id2, err)
		}
		got, err := decodeValue(id, val)
		if err != nil {
			return
		}
		// kmsg (the oracle; its work is bounded on input decodeValue accepts) agrees.
		v := kmsg.NewTxnMetadataValue()
		if err := v.ReadFrom(val); err != nil || v.ProducerID != got.ProducerID || State(v.State) != got.State || v.PreviousProducerID != got.PrevProducerID {
			t.Fatalf("kmsg reads %+v (%v), decodeValue %+v", v, err, got)
		}
		again, err := decodeValue(id, valueOf(&got))
		if err != nil || again.ProducerID != got.ProducerID || again.ProducerEpoch != got.ProducerEpoch || again.State != got.State ||
			again.TimeoutMs != got.TimeoutMs || again.StartMs != got.StartMs || again.UpdateMs != got.UpdateMs ||
			again.PrevProducerID != got.PrevProducerID || again.NextProducerID != got.NextProducerID || !slices.Equal(again.Partitions, got.Partitions) {
			t.Fatalf("value re-decode %+v %v, want %+v", again, err, got)
		}
	})
}
