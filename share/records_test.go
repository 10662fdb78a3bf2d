package share

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stratalog/strata/coord"
)

func recordSeeds() (keys, values [][]byte) {
	k := Key{Group: "g", TopicID: [16]byte{1, 2, 3, 15: 9}, Partition: 7}
	sv := snapshotValue{
		SnapshotEpoch: 3, StateEpoch: 1, LeaderEpoch: 5, StartOffset: 100,
		CreateTimestamp: 1_700_000_000_000, WriteTimestamp: 1_700_000_000_500, DeliveryCompleteCount: -1,
		Batches: []StateBatch{{100, 104, Acknowledged, 1}, {105, 105, Available, 2}, {107, 110, Archived, 5}},
	}
	uv := updateValue{SnapshotEpoch: 3, LeaderEpoch: 5, StartOffset: -1, DeliveryCompleteCount: 12,
		Batches: []StateBatch{{111, 111, Acknowledged, 1}}}
	empty := updateValue{StartOffset: 4, DeliveryCompleteCount: -1}
	return [][]byte{appendKey(nil, snapshotType, k), appendKey(nil, updateType, k), appendKey(nil, updateType, Key{})},
		[][]byte{sv.appendTo(nil), uv.appendTo(nil), empty.appendTo(nil)}
}

func TestShareRecordsRoundTrip(t *testing.T) {
	k := Key{Group: "orders", TopicID: [16]byte{0xff, 15: 1}, Partition: 3}
	for _, typ := range []int16{snapshotType, updateType} {
		gt, gk, err := decodeKey(appendKey(nil, typ, k))
		if err != nil || gt != typ || gk != k {
			t.Fatalf("key type %d: decoded %d %v %v", typ, gt, gk, err)
		}
	}
	sv := snapshotValue{SnapshotEpoch: 2, StateEpoch: 1, LeaderEpoch: 9, StartOffset: 42, CreateTimestamp: 1, WriteTimestamp: 2,
		DeliveryCompleteCount: 3, Batches: []StateBatch{{42, 50, Archived, 5}, {52, 52, Available, 1}}}
	if got, err := decodeSnapshotValue(sv.appendTo(nil)); err != nil || !reflect.DeepEqual(got, sv) {
		t.Fatalf("snapshot decoded %+v %v, want %+v", got, err, sv)
	}
	uv := updateValue{SnapshotEpoch: 2, LeaderEpoch: 9, StartOffset: -1, DeliveryCompleteCount: -1,
		Batches: []StateBatch{{60, 61, Acknowledged, 2}}}
	if got, err := decodeUpdateValue(uv.appendTo(nil)); err != nil || !reflect.DeepEqual(got, uv) {
		t.Fatalf("update decoded %+v %v, want %+v", got, err, uv)
	}
}

// TestShareRecordsBytes pins the layout of a ShareUpdateValue byte by byte (Kafka's
// generated code writes the same: version, fields, the compact array, tags last).
func TestShareRecordsBytes(t *testing.T) {
	uv := updateValue{SnapshotEpoch: 1, LeaderEpoch: 2, StartOffset: 3, DeliveryCompleteCount: 4,
		Batches: []StateBatch{{5, 6, Acknowledged, 7}}}
	want := []byte{
		0, 0, // version 0
		0, 0, 0, 1, // SnapshotEpoch
		0, 0, 0, 2, // LeaderEpoch
		0, 0, 0, 0, 0, 0, 0, 3, // StartOffset
		2,                      // one state batch (compact: n+1)
		0, 0, 0, 0, 0, 0, 0, 5, // FirstOffset
		0, 0, 0, 0, 0, 0, 0, 6, // LastOffset
		2,    // DeliveryState
		0, 7, // DeliveryCount
		0,                   // the batch's tags
		1, 0, 4, 0, 0, 0, 4, // one tag: 0, 4 bytes, DeliveryCompleteCount
	}
	if got := uv.appendTo(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("encoded\n%v\nwant\n%v", got, want)
	}
	key := []byte{
		0, 1, // type: ShareUpdateKey
		0, 1, 'g', // GroupId
		0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // TopicId
		0, 0, 0, 2, // Partition
	}
	if got := appendKey(nil, updateType, Key{Group: "g", TopicID: [16]byte{0xaa}, Partition: 2}); !reflect.DeepEqual(got, key) {
		t.Fatalf("key encoded\n%v\nwant\n%v", got, key)
	}
}

func TestShareRecordsRefused(t *testing.T) {
	keys, values := recordSeeds()
	for name, b := range map[string][]byte{
		"key type 2":     append([]byte{0, 2}, keys[0][2:]...),
		"key trailing":   append(append([]byte{}, keys[0]...), 0),
		"key short":      keys[0][:len(keys[0])-1],
		"value version":  append([]byte{0, 1}, values[0][2:]...),
		"value short":    values[0][:len(values[0])-1],
		"value trailing": append(append([]byte{}, values[1]...), 0),
		"huge array":     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		_, _, kerr := decodeKey(b)
		_, serr := decodeSnapshotValue(b)
		_, uerr := decodeUpdateValue(b)
		if !errors.Is(kerr, errBadRecord) || !errors.Is(serr, errBadRecord) || !errors.Is(uerr, errBadRecord) {
			t.Errorf("%s: decoded (%v, %v, %v), want errBadRecord from each", name, kerr, serr, uerr)
		}
	}
}

// FuzzShareRecords decodes arbitrary bytes as a key and as both values. Invariants: no
// panic; what decodes re-encodes to bytes that decode to the same value (re-parsing is
// stable), and a decoded array is never longer than the input allows.
func FuzzShareRecords(f *testing.F) {
	keys, values := recordSeeds()
	for i := range keys {
		f.Add(keys[i], values[i])
	}
	f.Add([]byte{0, 0}, []byte{0, 0, 0xff})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if typ, k, err := decodeKey(key); err == nil {
			if typ2, k2, err := decodeKey(appendKey(nil, typ, k)); err != nil || typ2 != typ || k2 != k {
				t.Fatalf("key %v re-decoded %d %v %v", k, typ2, k2, err)
			}
		}
		if v, err := decodeSnapshotValue(value); err == nil {
			if len(v.Batches)*batchMinSize > len(value) {
				t.Fatalf("%d batches from %d bytes", len(v.Batches), len(value))
			}
			if v2, err := decodeSnapshotValue(v.appendTo(nil)); err != nil || !reflect.DeepEqual(v2, v) {
				t.Fatalf("snapshot %+v re-decoded %+v %v", v, v2, err)
			}
		}
		if v, err := decodeUpdateValue(value); err == nil {
			if len(v.Batches)*batchMinSize > len(value) {
				t.Fatalf("%d batches from %d bytes", len(v.Batches), len(value))
			}
			if v2, err := decodeUpdateValue(v.appendTo(nil)); err != nil || !reflect.DeepEqual(v2, v) {
				t.Fatalf("update %+v re-decoded %+v %v", v, v2, err)
			}
		}
	})
}

// FuzzShareReplay replays two arbitrary records of __share_group_state, then a
// well-formed snapshot of another share-partition, into a shard. Invariants: no panic, no
// unbounded work (a state's window stays within maxReplayWindow), a record that cannot be
// read is refused with errBadRecord, and the well-formed snapshot takes effect.
func FuzzShareReplay(f *testing.F) {
	keys, values := recordSeeds()
	for i := range keys {
		f.Add(keys[i], values[i], keys[(i+1)%len(keys)], values[(i+1)%len(values)])
	}
	huge := snapshotValue{SnapshotEpoch: 0, StartOffset: -1 << 62, DeliveryCompleteCount: -1, Batches: []StateBatch{{0, 1 << 62, Acknowledged, 1}}}
	f.Add(keys[0], huge.appendTo(nil), keys[1], values[1])
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte) {
		s := &Store{opts: StoreOptions{SnapshotEvery: 10}}
		sh := s.newShard(nil)
		for _, r := range []coord.Record{{Key: k1, Value: v1}, {Key: k2, Value: v2}} {
			if len(r.Value) == 0 {
				r.Value = nil
			}
			if err := sh.Replay(coord.Meta{}, r); err != nil && !errors.Is(err, errBadRecord) {
				t.Fatalf("replay: %v", err)
			}
		}
		for k, e := range sh.mu.states {
			if n := e.state.End() - e.state.Start(); n < 0 || n > maxReplayWindow {
				t.Fatalf("%v: window %d-%d", k, e.state.Start(), e.state.End())
			}
		}
		good := Key{Group: "\x00fuzz", Partition: 1}
		v := snapshotValue{SnapshotEpoch: 3, StartOffset: 7, DeliveryCompleteCount: -1, Batches: []StateBatch{{8, 8, Archived, 2}}}
		if err := sh.Replay(coord.Meta{}, coord.Record{Key: appendKey(nil, snapshotType, good), Value: v.appendTo(nil)}); err != nil {
			t.Fatal(err)
		}
		if st, c := sh.mu.states[good].state.State(8); st != Archived || c != 2 || sh.mu.states[good].state.Start() != 7 {
			t.Fatalf("the well-formed snapshot replayed as %s %d", st, c)
		}
	})
}
