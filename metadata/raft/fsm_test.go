package raft

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/metadata"
)

// bareStore is a Store with only what its FSM needs: no Raft.
func bareStore() *Store {
	s := &Store{log: quietLogger()}
	s.applied.ch = make(chan struct{})
	s.image.Store(metadata.NewImage("", metadata.NoLeader))
	return s
}

func topicRec(base int64, name string, id byte, partitions int) *record {
	t := &metadata.Topic{Name: name, ID: metadata.TopicID{id}, Configs: map[string]string{"retention.ms": "1"}}
	for range partitions {
		t.Partitions = append(t.Partitions, metadata.PartitionState{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
	}
	return &record{Base: base, Topics: []*metadata.Topic{t}}
}

func applyAt(f *fsm, index uint64, data []byte) error {
	return f.Apply(&hraft.Log{Index: index, Type: hraft.LogCommand, Data: data}).(applyResult).err
}

// TestRaftFSMApply: records apply in order on their base version; a record computed on
// another version (a deposed leader's) or one that does not decode changes nothing but
// still counts as applied, the same way on every node.
func TestRaftFSMApply(t *testing.T) {
	s := bareStore()
	f := &fsm{s: s}
	var deltas []*metadata.Delta
	s.mu.watchers = append(s.mu.watchers, &watcher{fn: func(d *metadata.Delta) error { deltas = append(deltas, d); return errors.New("ignored") }})
	one := int32(1)
	if err := applyAt(f, 3, encodeRecord(&record{Base: 0, ClusterID: "c", Controller: &one, Brokers: []metadata.Broker{{ID: 1}}})); err != nil {
		t.Fatal(err)
	}
	if err := applyAt(f, 4, encodeRecord(topicRec(1, "a", 1, 2))); err != nil {
		t.Fatal(err)
	}
	im := s.Image()
	if im.ClusterID() != "c" || im.Controller() != 1 || im.Version() != 2 || len(im.Topics()) != 1 || len(deltas) != 2 || len(deltas[1].Created) != 1 {
		t.Fatalf("image: cluster %q controller %d version %d topics %d, %d deltas", im.ClusterID(), im.Controller(), im.Version(), len(im.Topics()), len(deltas))
	}
	if err := applyAt(f, 5, encodeRecord(topicRec(1, "stale", 2, 1))); !errors.Is(err, errConflict) {
		t.Fatalf("stale record: %v", err)
	}
	if err := applyAt(f, 6, []byte{9, '{', '}'}); !errors.Is(err, errCorrupt) {
		t.Fatalf("record of an unknown version: %v", err)
	}
	if s.Image() != im || len(deltas) != 2 {
		t.Fatal("a refused record changed the image")
	}
	if s.appliedIndex() != 6 {
		t.Fatalf("applied index %d, want 6", s.appliedIndex())
	}
	// Producer ids only grow; a removal goes.
	if err := applyAt(f, 7, encodeRecord(&record{Base: 2, NextProducerID: 5000, Removed: []metadata.TopicID{{1}}})); err != nil {
		t.Fatal(err)
	}
	if err := applyAt(f, 8, encodeRecord(&record{Base: 3, NextProducerID: 10})); err != nil {
		t.Fatal(err)
	}
	if im := s.Image(); im.NextProducerID() != 5000 || len(im.Topics()) != 0 {
		t.Fatalf("next producer id %d, %d topics", im.NextProducerID(), len(im.Topics()))
	}
}

type bufSink struct {
	bytes.Buffer
	cancelled bool
}

func (b *bufSink) ID() string    { return "test" }
func (b *bufSink) Cancel() error { b.cancelled = true; return nil }
func (b *bufSink) Close() error  { return nil }

// TestRaftFSMSnapshotRestore: a snapshot restores the same image (version included) and
// applied index; the watchers of the restoring node see one delta from their image to
// the snapshot's; a snapshot that does not decode is refused and changes nothing.
func TestRaftFSMSnapshotRestore(t *testing.T) {
	src := bareStore()
	f := &fsm{s: src}
	one := int32(1)
	for i, rec := range []*record{
		{ClusterID: "c", Controller: &one, Brokers: []metadata.Broker{{ID: 1, Rack: "r", Endpoints: []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "h", Port: 1}}}}},
		topicRec(1, "a", 1, 3), topicRec(2, "b", 2, 1), {Base: 3, NextProducerID: 2000},
	} {
		if err := applyAt(f, uint64(10+i), encodeRecord(rec)); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}

	dst := bareStore()
	gone := topicRec(0, "gone", 9, 1)
	dst.image.Store(gone.apply(dst.Image()))
	var deltas []*metadata.Delta
	dst.mu.watchers = append(dst.mu.watchers, &watcher{fn: func(d *metadata.Delta) error { deltas = append(deltas, d); return nil }})
	if err := (&fsm{s: dst}).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digest(dst.Image()), digest(src.Image())) || dst.Image().Version() != src.Image().Version() {
		t.Fatalf("restored image differs:\n%s\n%s", digest(dst.Image()), digest(src.Image()))
	}
	if dst.appliedIndex() != 13 {
		t.Fatalf("restored applied index %d", dst.appliedIndex())
	}
	if len(deltas) != 1 || len(deltas[0].Created) != 2 || len(deltas[0].Deleted) != 1 || !deltas[0].BrokersChanged {
		t.Fatalf("restore deltas %+v", deltas)
	}
	before := dst.Image()
	bad := slices.Clone(sink.Bytes()[:sink.Len()/2]) // torn
	if err := (&fsm{s: dst}).Restore(io.NopCloser(bytes.NewReader(bad))); !errors.Is(err, errCorrupt) {
		t.Fatalf("corrupt snapshot: %v", err)
	}
	if dst.Image() != before {
		t.Fatal("a corrupt snapshot changed the image")
	}
}

// TestRaftFSMOutcome: a node tells, from its applied log, whether the record a deposed
// leader had in flight at an index committed (its nonce is there), did not (another
// entry, a conflicting record, or Raft's own entry is there), or it cannot tell (not
// applied yet, trimmed, or under a restored snapshot).
func TestRaftFSMOutcome(t *testing.T) {
	s := bareStore()
	f := &fsm{s: s}
	one := int32(1)
	rec := &record{Base: 0, Nonce: 7, ClusterID: "c", Controller: &one}
	if err := applyAt(f, 5, encodeRecord(rec)); err != nil {
		t.Fatal(err)
	}
	stale := &record{Base: 0, Nonce: 9} // meets version 1: applies nothing
	if err := applyAt(f, 6, encodeRecord(stale)); !errors.Is(err, errConflict) {
		t.Fatal(err)
	}
	if err := applyAt(f, 8, encodeRecord(&record{Base: 1, Nonce: 11})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		index, nonce uint64
		mine, known  bool
	}{
		{5, 7, true, true}, {5, 8, false, true}, {6, 9, false, true}, {7, 7, false, true}, {8, 11, true, true}, {9, 11, false, false},
	} {
		if mine, known := s.outcome(tc.index, tc.nonce); mine != tc.mine || known != tc.known {
			t.Errorf("index %d nonce %d: mine %v known %v, want %v %v", tc.index, tc.nonce, mine, known, tc.mine, tc.known)
		}
	}
	for i := uint64(0); i < recentRecords; i++ {
		s.noteApplied(100+i, 1)
	}
	if _, known := s.outcome(8, 11); known {
		t.Error("a trimmed index is known")
	}
	if mine, known := s.outcome(100+recentRecords-1, 1); !mine || !known {
		t.Error("the last applied record is not known")
	}
	s.restored(10_000)
	if _, known := s.outcome(100+recentRecords-1, 1); known || s.appliedIndex() != 10_000 {
		t.Errorf("an index under a restored snapshot is known (applied %d)", s.appliedIndex())
	}
}
