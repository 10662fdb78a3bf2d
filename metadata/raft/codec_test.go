package raft

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

func TestRaftParseVoters(t *testing.T) {
	got, err := ParseVoters(" 3@h3:9293, 1@127.0.0.1:9093,2@[::1]:9193")
	if err != nil {
		t.Fatal(err)
	}
	want := []Voter{{1, "127.0.0.1:9093"}, {2, "[::1]:9193"}, {3, "h3:9293"}}
	if !slices.Equal(got, want) || got[0].String() != "1@127.0.0.1:9093" {
		t.Fatalf("voters %v", got)
	}
	for _, bad := range []string{"", " , ", "1", "x@h:1", "-1@h:1", "1@h", "1@:9093", "1@h:0", "1@h:99999", "1@h:1,1@g:2", "1@h:1,2@h:1"} {
		if _, err := ParseVoters(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

// TestRaftRemoteError: an error carried from the leader keeps its text and the metadata
// sentinel it wraps.
func TestRaftRemoteError(t *testing.T) {
	src := errors.Join(errors.New("context"), metadata.ErrTopicExists)
	resp, err := decodeResponse(encodeMessage(&response{Err: newRemoteError(src)}))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(resp.Err, metadata.ErrTopicExists) || resp.Err.Error() != src.Error() {
		t.Fatalf("remote error %v", resp.Err)
	}
	if plain := newRemoteError(errors.New("other")); errors.Unwrap(plain) != nil || plain.Error() != "other" {
		t.Fatalf("plain remote error %+v", plain)
	}
}

func seedRequests() [][]byte {
	v := "1"
	id := metadata.TopicID{1}
	var out [][]byte
	for _, r := range []*request{
		{RegisterBroker: &metadata.Broker{ID: 1, Endpoints: []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "h", Port: 1}}}},
		{CreateTopic: &metadata.CreateTopic{Name: "t", Partitions: 2, ReplicationFactor: -1, Assignments: [][]int32{{1}, {2}}, Configs: map[string]*string{"a": &v, "b": nil}}},
		{DeleteTopic: &id},
		{CreatePartitions: &metadata.CreatePartitions{Topic: "t", Total: 3}},
		{AlterTopicConfigs: &metadata.AlterTopicConfigs{Topic: "t", Alters: []config.Alter{{Name: "a", Op: config.OpAppend, Value: "x"}}}},
		{AllocateProducerIDs: &metadata.AllocateProducerIDs{Broker: 1, Above: 7}},
		{AlterGroupConfigs: &metadata.AlterGroupConfigs{Group: "g", Alters: []config.Alter{{Name: "share.delivery.count.limit", Value: "3"}}, Replace: true}},
		{AlterReassignments: &metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{"t": {0: {2, 3}, 1: nil}}}},
	} {
		out = append(out, encodeMessage(r))
	}
	return out
}

// FuzzRaftRequest fuzzes the decoder of forwarded commands. Invariants: no panic; a
// request that decodes holds exactly one command and re-encodes to bytes that decode to
// the same encoding.
func FuzzRaftRequest(f *testing.F) {
	for _, s := range seedRequests() {
		f.Add(s)
	}
	f.Add([]byte{1, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRequest(data)
		if err != nil {
			return
		}
		again, err := decodeRequest(encodeMessage(r))
		if err != nil || !bytes.Equal(encodeMessage(again), encodeMessage(r)) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzRaftRecord fuzzes the decoder of metadata log entries. Invariants: no panic; a
// record that decodes applies to an image without panic, its topics valid (a name, an
// id, partitions with replicas), and re-encodes stably.
func FuzzRaftRecord(f *testing.F) {
	one := int32(1)
	f.Add(encodeRecord(topicRec(0, "a", 1, 2)))
	f.Add(encodeRecord(&record{ClusterID: "c", Controller: &one, Brokers: []metadata.Broker{{ID: 1}}, Removed: []metadata.TopicID{{2}}, NextProducerID: 9}))
	f.Add([]byte{1, '{', '"', 't', 'o', 'p', 'i', 'c', 's', '"', ':', '[', 'n', 'u', 'l', 'l', ']', '}'})
	f.Add(encodeRecord(&record{GroupConfigs: []metadata.GroupConfig{{Group: "g", Configs: map[string]string{"consumer.session.timeout.ms": "50000"}}, {Group: "h"}}}))
	f.Add(encodeRecord(&record{Topics: []*metadata.Topic{{Name: "m", ID: metadata.TopicID{3}, Partitions: []metadata.PartitionState{
		{Replicas: []int32{2, 3, 1}, ISR: []int32{1, 2}, Leader: 1, Adding: []int32{3}, Removing: []int32{1}}}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		im := r.apply(metadata.NewImage("", -1))
		for _, tp := range im.Topics() {
			if tp.ID.IsZero() || tp.NumPartitions() == 0 || tp.Configs == nil {
				t.Fatalf("applied topic %+v", tp)
			}
		}
		again, err := decodeRecord(encodeRecord(r))
		if err != nil || !bytes.Equal(encodeRecord(again), encodeRecord(r)) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzRaftSnapshot fuzzes the snapshot decoder. Invariants: no panic; a snapshot that
// decodes rebuilds an image with its version and topics, which snapshots again to the
// same bytes.
func FuzzRaftSnapshot(f *testing.F) {
	s := bareStore()
	one := int32(1)
	s.image.Store((&record{ClusterID: "c", Controller: &one, Brokers: []metadata.Broker{{ID: 1}}}).apply(s.Image()))
	s.image.Store(topicRec(1, "a", 1, 2).apply(s.Image()))
	s.image.Store((&record{GroupConfigs: []metadata.GroupConfig{{Group: "g", Configs: map[string]string{"share.isolation.level": "read_committed"}}}}).apply(s.Image()))
	f.Add(encodeVersioned(snapshotVersion, newSnapshot(s.Image(), 5)))
	f.Add([]byte(strings.Replace(string(encodeVersioned(snapshotVersion, newSnapshot(s.Image(), 5))), `"a"`, `"b"`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := decodeSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		im := snap.image()
		if im.Version() != snap.Version || len(im.Topics()) != len(snap.Topics) {
			t.Fatalf("image version %d topics %d from snapshot version %d topics %d", im.Version(), len(im.Topics()), snap.Version, len(snap.Topics))
		}
		again := encodeVersioned(snapshotVersion, newSnapshot(im, snap.Applied))
		snap2, err := decodeSnapshot(bytes.NewReader(again))
		if err != nil || !bytes.Equal(encodeVersioned(snapshotVersion, newSnapshot(snap2.image(), snap2.Applied)), again) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
