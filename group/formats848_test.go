package group

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"reflect"
	"slices"
	"testing"

	"github.com/stratalog/strata/coord"
)

var (
	testTopicA = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testTopicB = [16]byte{0xb}
)

// consumerRecordSeeds are one record of each KIP-848 type (group "cg").
func consumerRecordSeeds() []coord.Record {
	member := consumerMemberMetadata{InstanceID: strp("i1"), ClientID: "c", ClientHost: "/h",
		SubscribedTopicNames: []string{"a", "b"}, SubscribedTopicRegex: strp("t.*"), RebalanceTimeoutMs: 30000,
		ServerAssignor: strp("uniform")}
	classic := consumerMemberMetadata{ClientID: "c2", ClientHost: "/h2", SubscribedTopicNames: []string{"a"},
		RebalanceTimeoutMs: -1, Classic: &classicMemberMetadata{SessionTimeoutMs: 45000,
			SupportedProtocols: []classicProtocol{{Name: "range", Metadata: []byte{0, 1, 2}}}}}
	return []coord.Record{
		{Key: cgKey{version: cgMetadataKeyVersion, group: "cg"}.appendTo(nil),
			Value: (&consumerGroupMetadata{Epoch: 7, MetadataHash: 99, CreationTimeMs: 1234}).appendTo(nil)},
		{Key: cgKey{version: cgMemberKeyVersion, group: "cg", sub: "m1"}.appendTo(nil), Value: member.appendTo(nil)},
		{Key: cgKey{version: cgMemberKeyVersion, group: "cg", sub: "m2"}.appendTo(nil), Value: classic.appendTo(nil)},
		{Key: cgKey{version: cgTargetMetadataKeyVersion, group: "cg"}.appendTo(nil),
			Value: (&consumerTargetMetadata{AssignmentEpoch: 7}).appendTo(nil)},
		{Key: cgKey{version: cgTargetMemberKeyVersion, group: "cg", sub: "m1"}.appendTo(nil),
			Value: (&consumerTargetMember{TopicPartitions: []topicPartitions{{testTopicA, []int32{0, 1}, nil}}}).appendTo(nil)},
		{Key: cgKey{version: cgCurrentAssignmentKeyVersion, group: "cg", sub: "m1"}.appendTo(nil),
			Value: (&consumerCurrentAssignment{MemberEpoch: 7, PreviousMemberEpoch: 6, State: 2,
				AssignedPartitions:          []topicPartitions{{testTopicA, []int32{0}, []int32{5}}},
				PartitionsPendingRevocation: []topicPartitions{{testTopicB, []int32{3}, []int32{2}}}}).appendTo(nil)},
		{Key: cgKey{version: cgRegexKeyVersion, group: "cg", sub: "t.*"}.appendTo(nil),
			Value: (&consumerRegex{Topics: []string{"t1", "t2"}, Version: 3, Timestamp: 5}).appendTo(nil)},
	}
}

// TestConsumerRecordBytes pins the byte layout of two records against what Kafka's
// generated serializers write for the same values (schemas ConsumerGroupMetadataKey v3,
// ConsumerGroupCurrentMemberAssignmentValue v0).
func TestConsumerRecordBytes(t *testing.T) {
	key := cgKey{version: cgMetadataKeyVersion, group: "cg"}.appendTo(nil)
	if got, want := hex.EncodeToString(key), "000300026367"; got != want {
		t.Errorf("group metadata key: %s, want %s", got, want)
	}
	v := (&consumerCurrentAssignment{MemberEpoch: 7, PreviousMemberEpoch: 6, State: 1,
		AssignedPartitions: []topicPartitions{{testTopicA, []int32{2}, nil}}}).appendTo(nil)
	// version 0 | epoch 7 | previous 6 | state 1 | 1 topic: uuid, 1 partition: 2, no tags |
	// no pending revocation | no tags
	want := "0000" + "00000007" + "00000006" + "01" + "02" + hex.EncodeToString(testTopicA[:]) + "02" + "00000002" + "00" +
		"01" + "00"
	if got := hex.EncodeToString(v); got != want {
		t.Errorf("current assignment value:\n%s\nwant\n%s", got, want)
	}
	gm := (&consumerGroupMetadata{Epoch: 1, CreationTimeMs: -1}).appendTo(nil)
	if got, want := hex.EncodeToString(gm), "00000000000100"; got != want {
		t.Errorf("group metadata value without tags: %s, want %s", got, want)
	}
}

// loadRecords replays recs as one partition of __consumer_offsets and returns its shard.
func loadRecords(t *testing.T, recs ...coord.Record) (*Coordinator, *shard) {
	t.Helper()
	l := coord.NewMemLog()
	if _, err := l.Append(encodeBatch(t, recs...)); err != nil {
		t.Fatal(err)
	}
	c, err := New(&Options{NumPartitions: 1, Logger: slog.New(slog.DiscardHandler), Clock: idleClock{},
		OpenLog: func(int32) (coord.Log, error) { return l, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	sh, err := c.rt.Shard(0)
	if err != nil {
		t.Fatal(err)
	}
	return c, sh
}

// TestConsumerGroupReplay: a partition holding the records of a KIP-848 group loads it
// back (group and assignment epochs, members with subscriptions, target and current
// assignments, resolved regular expressions), and tombstones apply Kafka's rules.
func TestConsumerGroupReplay(t *testing.T) {
	seeds := consumerRecordSeeds()
	_, sh := loadRecords(t, seeds...)
	g := sh.lookup("cg")
	if g == nil || g.consumer == nil {
		t.Fatal("consumer group not loaded")
	}
	cg := g.consumer
	if cg.epoch != 7 || cg.metadataHash != 99 || cg.creationTimeMs != 1234 || cg.assignmentEpoch != 7 || len(cg.members) != 2 {
		t.Fatalf("group: %+v", cg)
	}
	m1 := cg.members["m1"]
	if *m1.meta.InstanceID != "i1" || *m1.meta.ServerAssignor != "uniform" || !reflect.DeepEqual(m1.meta.SubscribedTopicNames, []string{"a", "b"}) ||
		*m1.meta.SubscribedTopicRegex != "t.*" || m1.meta.RebalanceTimeoutMs != 30000 || m1.meta.Classic != nil {
		t.Fatalf("member m1 metadata: %+v", m1.meta)
	}
	if !reflect.DeepEqual(m1.target, []topicPartitions{{testTopicA, []int32{0, 1}, nil}}) {
		t.Fatalf("m1 target: %+v", m1.target)
	}
	if c := m1.current; c.MemberEpoch != 7 || c.PreviousMemberEpoch != 6 || c.State != 2 ||
		!reflect.DeepEqual(c.AssignedPartitions, []topicPartitions{{testTopicA, []int32{0}, []int32{5}}}) ||
		!reflect.DeepEqual(c.PartitionsPendingRevocation, []topicPartitions{{testTopicB, []int32{3}, []int32{2}}}) {
		t.Fatalf("m1 current: %+v", c)
	}
	m2 := cg.members["m2"].meta.Classic
	if m2 == nil || m2.SessionTimeoutMs != 45000 || len(m2.SupportedProtocols) != 1 || m2.SupportedProtocols[0].Name != "range" ||
		!bytes.Equal(m2.SupportedProtocols[0].Metadata, []byte{0, 1, 2}) {
		t.Fatalf("classic member m2: %+v", m2)
	}
	if r := cg.regexes["t.*"]; !reflect.DeepEqual(r, consumerRegex{Topics: []string{"t1", "t2"}, Version: 3, Timestamp: 5}) {
		t.Fatalf("regex: %+v", r)
	}

	tomb := func(r coord.Record) coord.Record { return coord.Record{Key: r.Key} }
	_, sh = loadRecords(t, append(slices.Clone(seeds), tomb(seeds[4]), tomb(seeds[5]), tomb(seeds[2]), tomb(seeds[6]))...)
	cg = sh.lookup("cg").consumer
	if m := cg.members["m1"]; len(cg.members) != 1 || m.target != nil || m.current.MemberEpoch != 0 || m.meta.ClientID != "c" || len(cg.regexes) != 0 {
		t.Fatalf("after tombstones: %+v %+v", cg, m)
	}
	_, sh = loadRecords(t, append(slices.Clone(seeds), tomb(seeds[0]))...)
	if g := sh.lookup("cg"); g != nil {
		t.Fatalf("group metadata tombstone left %+v", g.consumer)
	}
	// A tombstone of an unknown group, and the deprecated partition metadata record, are
	// nothing; a consumer record for a classic group with members is refused (skipped).
	pm := coord.Record{Key: cgKey{version: cgPartitionMetadataKeyVersion, group: "x"}.appendTo(nil), Value: []byte{0, 0, 0}}
	_, sh = loadRecords(t, tomb(seeds[1]), pm)
	if len(sh.groupsSnapshot()) != 0 {
		t.Fatal("tombstone or partition metadata created a group")
	}
}

// FuzzConsumerRecordDecode decodes arbitrary bytes as each KIP-848 value (and key).
// Invariants: no panic; what decodes re-encodes to bytes that decode to the same value
// (unknown tagged fields are dropped, so encode(decode(x)) may be shorter than x); and a
// value decoded from a buffer does not alias it.
func FuzzConsumerRecordDecode(f *testing.F) {
	for _, r := range consumerRecordSeeds() {
		f.Add(r.Key)
		f.Add(r.Value)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 1, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 2}) // two tags
	type codec struct {
		decode func([]byte) (any, error)
		encode func(any) []byte
	}
	wrap := func(d func([]byte) (any, error), e func(any) []byte) codec { return codec{d, e} }
	codecs := map[string]codec{
		"key": wrap(func(b []byte) (any, error) { return decodeCGKey(b) },
			func(v any) []byte { return v.(cgKey).appendTo(nil) }),
		"group": wrap(func(b []byte) (any, error) { return decodeConsumerGroupMetadata(b) },
			func(v any) []byte { x := v.(consumerGroupMetadata); return x.appendTo(nil) }),
		"member": wrap(func(b []byte) (any, error) { return decodeConsumerMemberMetadata(b) },
			func(v any) []byte { x := v.(consumerMemberMetadata); return x.appendTo(nil) }),
		"target metadata": wrap(func(b []byte) (any, error) { return decodeConsumerTargetMetadata(b) },
			func(v any) []byte { x := v.(consumerTargetMetadata); return x.appendTo(nil) }),
		"target member": wrap(func(b []byte) (any, error) { return decodeConsumerTargetMember(b) },
			func(v any) []byte { x := v.(consumerTargetMember); return x.appendTo(nil) }),
		"current": wrap(func(b []byte) (any, error) { return decodeConsumerCurrentAssignment(b) },
			func(v any) []byte { x := v.(consumerCurrentAssignment); return x.appendTo(nil) }),
		"regex": wrap(func(b []byte) (any, error) { return decodeConsumerRegex(b) },
			func(v any) []byte { x := v.(consumerRegex); return x.appendTo(nil) }),
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for name, c := range codecs {
			buf := bytes.Clone(in)
			v, err := c.decode(buf)
			if err != nil {
				continue
			}
			enc := c.encode(v)
			v2, err := c.decode(enc)
			if err != nil {
				t.Fatalf("%s: %+v re-encodes to undecodable %x: %v", name, v, enc, err)
			}
			if !reflect.DeepEqual(v, v2) {
				t.Fatalf("%s: not stable:\n%+v\n%+v", name, v, v2)
			}
			for i := range buf {
				buf[i] ^= 0x55
			}
			if !bytes.Equal(c.encode(v), enc) {
				t.Fatalf("%s: the decoded value aliases its input", name)
			}
		}
	})
}
