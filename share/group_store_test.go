package share

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// storedGroups is a Groups storing its membership in a one-partition __consumer_offsets
// on log, as the server's group coordinator hosts it.
type storedGroups struct {
	*Groups
	rt *coord.Runtime[coord.Shard]

	mu   sync.Mutex
	left []string
}

func openStored(t *testing.T, log *coord.MemLog, topics map[string]int32) *storedGroups {
	t.Helper()
	return openStoredInit(t, log, &fakeTopics{parts: topics}, nil)
}

// openStoredInit is openStored with GroupsOptions.Initialize and, when rec is set,
// GroupsOptions.Delete.
func openStoredInit(t *testing.T, log *coord.MemLog, topics Topics, rec *initRecorder) *storedGroups {
	t.Helper()
	sg := &storedGroups{}
	opts := GroupsOptions{Topics: topics, MaxSize: 5,
		Partition: func(string) int32 { return 0 },
		OnLeave: func(group, member string) {
			sg.mu.Lock()
			sg.left = append(sg.left, group+"/"+member)
			sg.mu.Unlock()
		}}
	if rec != nil {
		opts.Initialize, opts.Delete = rec.initialize, rec.delete
	}
	sg.Groups = NewGroups(opts)
	rt, err := coord.New(&coord.Options{Topic: "__consumer_offsets", NumPartitions: 1,
		OpenLog: func(int32) (coord.Log, error) { return log, nil }}, sg.OpenPartition)
	if err != nil {
		t.Fatal(err)
	}
	sg.rt = rt
	if err := rt.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sg.close() })
	return sg
}

func (sg *storedGroups) close() {
	sg.Close()
	sg.rt.Close()
}

func (sg *storedGroups) leftMembers() []string {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return append([]string(nil), sg.left...)
}

// TestShareGroupStoredRestart: a group's epoch, members, subscriptions, assignments and
// member epochs come back from __consumer_offsets on another Groups (a restart, a new
// coordinator); members keep heartbeating at their epochs; one that stops expires
// share.session.timeout.ms (45 s) after the load, and the others' assignments follow.
func TestShareGroupStoredRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := coord.NewMemLog()
		topics := map[string]int32{"t": 2, "u": 1}
		first := openStored(t, log, topics)
		rack := "r1"
		if _, err := first.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", Topics: []string{"t", "u"}, RackID: &rack, ClientID: "ca", ClientHost: "/h"}); err != nil {
			t.Fatal(err)
		}
		b := join(t, first.Groups, "g", "b", "t")
		a := beat(t, first.Groups, "g", "a", 1)
		before, _ := first.Describe("g")
		first.close()

		second := openStored(t, log, topics)
		after, ok := second.Describe("g")
		if !ok || !reflect.DeepEqual(after, before) {
			t.Fatalf("after the restart:\n%+v, before:\n%+v", after, before)
		}
		if a.MemberEpoch != 2 || b.MemberEpoch != 2 {
			t.Fatalf("epochs a %d b %d", a.MemberEpoch, b.MemberEpoch)
		}
		if res := beat(t, second.Groups, "g", "b", 2); res.MemberEpoch != 2 || res.Assignment != nil {
			t.Fatalf("b after the restart: %+v", res)
		}
		for range 2 {
			time.Sleep(20 * time.Second)
			if res := beat(t, second.Groups, "g", "a", 2); res.MemberEpoch != 2 {
				t.Fatalf("a after the restart: %+v", res)
			}
		}
		time.Sleep(10 * time.Second) // 50 s after the load
		synctest.Wait()
		if left := second.leftMembers(); !reflect.DeepEqual(left, []string{"g/b"}) {
			t.Fatalf("left %v, want b expired", left)
		}
		res := beat(t, second.Groups, "g", "a", 2)
		if want := (Assignment{topicID("t"): {0, 1}, topicID("u"): {0}}); res.MemberEpoch != 3 || !reflect.DeepEqual(res.Assignment, want) {
			t.Fatalf("a once b expired: %+v", res)
		}
		second.close()
		third := openStored(t, log, topics)
		if d, _ := third.Describe("g"); d.GroupEpoch != 3 || len(d.Members) != 1 || d.Members[0].MemberID != "a" {
			t.Fatalf("after b's expiry was stored: %+v", d)
		}
	})
}

// TestShareGroupStoredUnload: unloading the partition drops its groups (no OnLeave, no
// timer fires); heartbeats get ErrNotCoordinator until it is loaded again, which brings
// the group back.
func TestShareGroupStoredUnload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := openStored(t, coord.NewMemLog(), map[string]int32{"t": 1})
		a := join(t, g.Groups, "g", "a", "t")
		g.rt.Unload(0, 1)
		if _, ok := g.Describe("g"); ok {
			t.Fatal("an unloaded group is still described")
		}
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: a.MemberEpoch}); !errors.Is(err, coord.ErrNotCoordinator) {
			t.Fatalf("heartbeat once unloaded: %v", err)
		}
		if err := g.CreateEmpty("other"); !errors.Is(err, coord.ErrNotCoordinator) {
			t.Fatalf("CreateEmpty once unloaded: %v", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if left := g.leftMembers(); len(left) != 0 {
			t.Fatalf("OnLeave called for %v", left)
		}
		if err := g.rt.Load(0, 2); err != nil {
			t.Fatal(err)
		}
		if res := beat(t, g.Groups, "g", "a", a.MemberEpoch); res.MemberEpoch != a.MemberEpoch {
			t.Fatalf("heartbeat once loaded again: %+v", res)
		}
	})
}

// TestShareGroupStoredDelete: a deleted group's records are tombstoned, so it does not
// come back; an empty group made by CreateEmpty does.
func TestShareGroupStoredDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := coord.NewMemLog()
		g := openStored(t, log, map[string]int32{"t": 1})
		a := join(t, g.Groups, "g", "a", "t")
		if err := g.Delete("g"); !errors.Is(err, ErrNonEmptyGroup) {
			t.Fatalf("delete with a member: %v", err)
		}
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: -1}); err != nil {
			t.Fatal(err)
		}
		_ = a
		if err := g.CreateEmpty("empty"); err != nil {
			t.Fatal(err)
		}
		if err := g.Delete("g"); err != nil {
			t.Fatal(err)
		}
		if err := g.Delete("g"); !errors.Is(err, ErrGroupNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		g.close()
		g = openStored(t, log, map[string]int32{"t": 1})
		if _, ok := g.Describe("g"); ok {
			t.Fatal("a deleted group came back")
		}
		if d, ok := g.Describe("empty"); !ok || d.State != GroupEmpty {
			t.Fatalf("the empty group after a restart: %+v %v", d, ok)
		}
	})
}

// TestShareGroupStoredWriteFails: a heartbeat whose write fails gets the error; the
// change stays and is written with the group's next one, so a restart finds it.
func TestShareGroupStoredWriteFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := coord.NewMemLog()
		g := openStored(t, log, map[string]int32{"t": 2})
		join(t, g.Groups, "g", "a", "t")
		log.FailAppends(coord.ErrStorage)
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "b", Topics: []string{"t"}}); !errors.Is(err, coord.ErrStorage) {
			t.Fatalf("join with a failing log: %v", err)
		}
		log.FailAppends(nil)
		// b retries its join, a hears of the new epoch: both written.
		join(t, g.Groups, "g", "b", "t")
		res := beat(t, g.Groups, "g", "a", 1)
		want, _ := g.Describe("g")
		g.close()
		g = openStored(t, log, map[string]int32{"t": 2})
		if got, _ := g.Describe("g"); !reflect.DeepEqual(got, want) || res.MemberEpoch != 2 {
			t.Fatalf("after a restart %+v, want %+v (a at %d)", got, want, res.MemberEpoch)
		}
	})
}

// TestShareGroupPreviousEpoch: a member heartbeating at its previous epoch (the answer
// that moved it on was lost) gets its epoch and assignment again; an older epoch is
// fenced.
func TestShareGroupPreviousEpoch(t *testing.T) {
	g, _ := newTestGroups(t, map[string]int32{"t": 2}, nil)
	join(t, g, "g", "a", "t")
	join(t, g, "g", "b", "t")
	beat(t, g, "g", "a", 1) // a moves to 2
	res := beat(t, g, "g", "a", 1)
	if res.MemberEpoch != 2 || res.Assignment == nil {
		t.Fatalf("a at its previous epoch: %+v", res)
	}
	join(t, g, "g", "c", "t")
	beat(t, g, "g", "a", 2) // a moves to 3, previous 2
	if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: 1}); !errors.Is(err, ErrFencedMemberEpoch) {
		t.Fatalf("a at an older epoch: %v", err)
	}
}

// TestShareGroupRecordsRoundTrip: each value decodes to what was encoded, keys too.
func TestShareGroupRecordsRoundTrip(t *testing.T) {
	rack := "r"
	mv := memberValue{RackID: &rack, ClientID: "c", ClientHost: "/h", Topics: []string{"a", "b"}}
	if got, err := decodeMemberValue(mv.appendTo(nil)); err != nil || !reflect.DeepEqual(got, mv) {
		t.Fatalf("member metadata %+v %v", got, err)
	}
	a := Assignment{topicID("x"): {0, 2}, topicID("y"): {1}}
	cv := currentValue{MemberEpoch: 5, PreviousMemberEpoch: 4, State: memberStable, Assigned: a}
	if got, err := decodeCurrentValue(cv.appendTo(nil)); err != nil || !reflect.DeepEqual(got, cv) {
		t.Fatalf("current assignment %+v %v", got, err)
	}
	if got, err := decodeTargetValue(appendTargetValue(nil, a)); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("target assignment %+v %v", got, err)
	}
	if got, err := decodeEpochValue(appendEpochValue(nil, 7)); err != nil || got != 7 {
		t.Fatalf("epoch %d %v", got, err)
	}
	spv := statePartitionsValue{Initializing: map[[16]byte]initTopic{topicID("z"): {name: "z", parts: []int32{3}}},
		Initialized: map[[16]byte]initTopic{topicID("x"): {name: "x", parts: []int32{0, 1}}, topicID("y"): {name: "y", parts: []int32{}}},
		Deleting:    map[[16]byte]string{topicID("w"): "w"}}
	if got, err := decodeStatePartitionsValue(spv.appendTo(nil)); err != nil || !reflect.DeepEqual(got, spv) {
		t.Fatalf("state partition metadata %+v %v", got, err)
	}
	for _, k := range []groupKey{{version: sgMetadataKey, group: "g"}, {version: sgCurrentAssignmentKey, group: "g", member: "m"}} {
		if got, err := decodeGroupKey(k.appendTo(nil)); err != nil || got != k {
			t.Fatalf("key %+v: %+v %v", k, got, err)
		}
	}
	// Kafka's layout: ShareGroupMetadataKey is version 11 then the group id.
	if got := (groupKey{version: sgMetadataKey, group: "g"}).appendTo(nil); !bytes.Equal(got, []byte{0, 11, 0, 1, 'g'}) {
		t.Fatalf("metadata key % x", got)
	}
}

// storedRecords are the records of group with member m joined on topic t.
func storedRecords(t *testing.T, group string) []records.Record {
	t.Helper()
	log := coord.NewMemLog()
	g := openStored(t, log, map[string]int32{"t": 1})
	join(t, g.Groups, group, "m", "t")
	g.close()
	return logRecords(t, log)
}

// logRecords are the records of log, in order.
func logRecords(t *testing.T, log *coord.MemLog) []records.Record {
	t.Helper()
	var out []records.Record
	err := log.Replay(func(b []byte) error {
		rd, err := records.NewReader(b)
		if err != nil {
			return err
		}
		defer rd.Close()
		for rd.Next() {
			r := rd.Record()
			out = append(out, records.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)})
		}
		return rd.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzShareGroupRecords decodes arbitrary bytes as a key and as every value, and replays
// them into a loading partition. Invariants: no panic; a value that decodes encodes back
// to the same bytes when it has no tagged fields (what Strata writes).
func FuzzShareGroupRecords(f *testing.F) {
	cv := currentValue{MemberEpoch: 1, State: memberStable, Assigned: Assignment{topicID("t"): {0}}}
	mv := memberValue{ClientID: "c", Topics: []string{"t"}}
	f.Add(groupKey{version: sgCurrentAssignmentKey, group: "g", member: "m"}.appendTo(nil), cv.appendTo(nil))
	f.Add(groupKey{version: sgMemberKey, group: "g", member: "m"}.appendTo(nil), mv.appendTo(nil))
	f.Add(groupKey{version: sgMetadataKey, group: "g"}.appendTo(nil), appendEpochValue(nil, 3))
	spv := statePartitionsValue{Initialized: map[[16]byte]initTopic{topicID("t"): {name: "t", parts: []int32{0}}}, Deleting: map[[16]byte]string{topicID("u"): "u"}}
	f.Add(groupKey{version: sgStatePartitionMetadataKey, group: "g"}.appendTo(nil), spv.appendTo(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		_, _ = decodeGroupKey(key)
		if v, err := decodeMemberValue(value); err == nil && !bytes.Equal(v.appendTo(nil), value) && value[len(value)-1] == 0 {
			t.Fatalf("member metadata does not round-trip: % x", value)
		}
		if v, err := decodeCurrentValue(value); err == nil && len(v.Assigned) == 0 {
			_ = v.appendTo(nil)
		}
		_, _ = decodeTargetValue(value)
		if v, err := decodeStatePartitionsValue(value); err == nil {
			if again, err := decodeStatePartitionsValue(v.appendTo(nil)); err != nil || !reflect.DeepEqual(again, v) {
				t.Fatalf("state partition metadata does not round-trip: %+v, again %+v %v", v, again, err)
			}
		}
		_, _ = decodeEpochValue(value)
		if len(value) == 0 {
			value = nil
		}
		// Replayed before a well-formed group: no panic, and the group comes back.
		good := storedRecords(t, "\x00fuzz")
		recs := append([]records.Record{{Key: key, Value: value}}, good...)
		log := memLogOf(t, recs)
		g := openStored(t, log, map[string]int32{"t": 1})
		if d, ok := g.Describe("\x00fuzz"); !ok || len(d.Members) != 1 || d.GroupEpoch != 1 {
			t.Fatalf("the well-formed group replayed as %+v %v", d, ok)
		}
		for _, d := range g.List() {
			g.Describe(d.Group)
		}
		g.close()
	})
}

// TestShareGroupStoredCompacted: what compaction keeps of __consumer_offsets (the last
// record of each key, tombstones gone) rebuilds the same groups: every record of a group
// has a key of its own (version, group, member).
func TestShareGroupStoredCompacted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := coord.NewMemLog()
		topics := map[string]int32{"t": 3}
		g := openStored(t, log, topics)
		for _, m := range []string{"a", "b", "c"} {
			join(t, g.Groups, "g", m, "t")
			join(t, g.Groups, "gone", m, "t")
		}
		beat(t, g.Groups, "g", "a", 1)
		beat(t, g.Groups, "g", "b", 2)
		for _, m := range []string{"a", "b", "c"} {
			if _, err := g.Heartbeat(HeartbeatRequest{Group: "gone", MemberID: m, MemberEpoch: -1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.Delete("gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "b", MemberEpoch: -1}); err != nil {
			t.Fatal(err)
		}
		want := []GroupDescription{}
		for _, d := range g.List() {
			full, _ := g.Describe(d.Group)
			want = append(want, full)
		}
		g.close()

		last := map[string][]byte{}
		var order []string
		for _, r := range logRecords(t, log) {
			if _, ok := last[string(r.Key)]; !ok {
				order = append(order, string(r.Key))
			}
			last[string(r.Key)] = r.Value
		}
		var kept []records.Record
		for _, k := range order {
			if last[k] != nil {
				kept = append(kept, records.Record{Key: []byte(k), Value: last[k]})
			}
		}
		compacted := memLogOf(t, kept)
		g = openStored(t, compacted, topics)
		got := []GroupDescription{}
		for _, d := range g.List() {
			full, _ := g.Describe(d.Group)
			got = append(got, full)
		}
		if !reflect.DeepEqual(got, want) || len(want) != 1 {
			t.Fatalf("from the compacted log %+v, want %+v", got, want)
		}
	})
}

// TestShareGroupStoredHalfWritten: what a log left half written is dropped at the load: a
// member with assignment records but no metadata record, a group with neither its metadata
// record nor members; a member with its metadata is kept, at its epoch.
func TestShareGroupStoredHalfWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := func(v int16, group, member string) []byte {
			return groupKey{version: v, group: group, member: member}.appendTo(nil)
		}
		cv := currentValue{MemberEpoch: 4, State: memberStable, Assigned: Assignment{topicID("t"): {0}}}
		mv := memberValue{ClientID: "c", Topics: []string{"t"}}
		recs := []records.Record{
			{Key: key(sgMetadataKey, "g", ""), Value: appendEpochValue(nil, 4)},
			{Key: key(sgMemberKey, "g", "kept"), Value: mv.appendTo(nil)},
			{Key: key(sgCurrentAssignmentKey, "g", "kept"), Value: cv.appendTo(nil)},
			{Key: key(sgCurrentAssignmentKey, "g", "half"), Value: cv.appendTo(nil)},
			{Key: key(sgTargetMemberKey, "orphan", "x"), Value: appendTargetValue(nil, cv.Assigned)},
		}
		log := memLogOf(t, recs)
		g := openStored(t, log, map[string]int32{"t": 1})
		if _, ok := g.Describe("orphan"); ok {
			t.Fatal("a group without records of its own or members is described")
		}
		d, ok := g.Describe("g")
		if !ok || d.GroupEpoch != 4 || len(d.Members) != 1 || d.Members[0].MemberID != "kept" || d.Members[0].MemberEpoch != 4 {
			t.Fatalf("described %+v %v", d, ok)
		}
		// Its target assignment was not stored: it gets one, at the next group epoch.
		if res := beat(t, g.Groups, "g", "kept", 4); res.MemberEpoch != 5 || !reflect.DeepEqual(res.Assignment, cv.Assigned) {
			t.Fatalf("the kept member's heartbeat: %+v", res)
		}
	})
}

// memLogOf is a log holding recs, in one batch.
func memLogOf(t *testing.T, recs []records.Record) *coord.MemLog {
	t.Helper()
	b, err := records.Encode(nil, records.NewBatch(0, recs), batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	log := coord.NewMemLog()
	if _, err := log.Append(b); err != nil {
		t.Fatal(err)
	}
	return log
}
