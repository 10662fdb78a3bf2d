package share

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTopics is a Topics whose partition counts tests change.
type fakeTopics struct {
	mu    sync.Mutex
	parts map[string]int32
}

func topicID(name string) [16]byte {
	var id [16]byte
	copy(id[:], name)
	return id
}

func (f *fakeTopics) Topic(name string) ([16]byte, int32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.parts[name]
	return topicID(name), n, ok
}

func (f *fakeTopics) set(name string, n int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts[name] = n
}

func (f *fakeTopics) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, name)
}

func newTestGroups(t *testing.T, topics map[string]int32, onLeave func(group, member string)) (*Groups, *fakeTopics) {
	t.Helper()
	ft := &fakeTopics{parts: topics}
	g := NewGroups(GroupsOptions{Topics: ft, MaxSize: 5, OnLeave: onLeave})
	t.Cleanup(g.Close)
	return g, ft
}

func join(t *testing.T, g *Groups, group, member string, topics ...string) HeartbeatResult {
	t.Helper()
	res, err := g.Heartbeat(HeartbeatRequest{Group: group, MemberID: member, Topics: topics})
	if err != nil {
		t.Fatalf("%s joins %s: %v", member, group, err)
	}
	return res
}

func beat(t *testing.T, g *Groups, group, member string, epoch int32) HeartbeatResult {
	t.Helper()
	res, err := g.Heartbeat(HeartbeatRequest{Group: group, MemberID: member, MemberEpoch: epoch})
	if err != nil {
		t.Fatalf("%s heartbeats %s at %d: %v", member, group, epoch, err)
	}
	return res
}

func TestShareGroupJoinAssign(t *testing.T) {
	g, _ := newTestGroups(t, map[string]int32{"t": 3}, nil)
	a := join(t, g, "g", "a", "t")
	if want := (Assignment{topicID("t"): {0, 1, 2}}); a.MemberEpoch != 1 || !reflect.DeepEqual(a.Assignment, want) {
		t.Fatalf("first member: epoch %d assignment %v", a.MemberEpoch, a.Assignment)
	}
	if a.HeartbeatInterval != 5*time.Second {
		t.Fatalf("heartbeat interval %v, want Kafka's 5s", a.HeartbeatInterval)
	}
	b := join(t, g, "g", "b", "t")
	if b.MemberEpoch != 2 || len(b.Assignment[topicID("t")]) != 1 {
		t.Fatalf("second member: epoch %d assignment %v", b.MemberEpoch, b.Assignment)
	}
	// a learns of its new assignment and epoch on its next heartbeat, once.
	a = beat(t, g, "g", "a", 1)
	if a.MemberEpoch != 2 || !reflect.DeepEqual(a.Assignment, Assignment{topicID("t"): {0, 2}}) {
		t.Fatalf("a after b joined: epoch %d assignment %v", a.MemberEpoch, a.Assignment)
	}
	if a = beat(t, g, "g", "a", 2); a.Assignment != nil || a.MemberEpoch != 2 {
		t.Fatalf("unchanged heartbeat: epoch %d assignment %v", a.MemberEpoch, a.Assignment)
	}
}

// TestShareGroupMoreMembersThanPartitions: with 5 members on 2 partitions every member
// gets a partition, and each partition is shared by ceil(5/2) = 3 or fewer members.
func TestShareGroupMoreMembersThanPartitions(t *testing.T) {
	g, _ := newTestGroups(t, map[string]int32{"t": 2}, nil)
	for i := range 5 {
		join(t, g, "g", fmt.Sprintf("m%d", i), "t")
	}
	d, ok := g.Describe("g")
	if !ok || d.State != GroupStable || len(d.Members) != 5 {
		t.Fatalf("described %+v %v", d, ok)
	}
	holders := map[int32]int{}
	for _, m := range d.Members {
		ps := m.Assignment[topicID("t")]
		if len(ps) == 0 {
			t.Fatalf("member %s has no partition", m.MemberID)
		}
		for _, p := range ps {
			holders[p]++
		}
	}
	if holders[0] < 2 || holders[1] < 2 || holders[0] > 3 || holders[1] > 3 {
		t.Fatalf("partition holders %v", holders)
	}
}

func TestShareGroupPartitionsAdded(t *testing.T) {
	g, ft := newTestGroups(t, map[string]int32{"t": 1}, nil)
	join(t, g, "g", "a", "t", "later")
	ft.set("t", 2)
	ft.set("later", 1)
	res := beat(t, g, "g", "a", 1)
	want := Assignment{topicID("t"): {0, 1}, topicID("later"): {0}}
	if res.MemberEpoch != 2 || !reflect.DeepEqual(res.Assignment, want) {
		t.Fatalf("after partitions were added: epoch %d assignment %v", res.MemberEpoch, res.Assignment)
	}
}

func TestShareGroupBadHeartbeats(t *testing.T) {
	g, _ := newTestGroups(t, map[string]int32{"t": 1}, nil)
	join(t, g, "g", "a", "t")
	for _, tc := range []struct {
		name string
		req  HeartbeatRequest
		want error
	}{
		{"no group", HeartbeatRequest{MemberID: "a", Topics: []string{"t"}}, ErrInvalidRequest},
		{"no member id", HeartbeatRequest{Group: "g", Topics: []string{"t"}}, ErrInvalidRequest},
		{"join without topics", HeartbeatRequest{Group: "g", MemberID: "b"}, ErrInvalidRequest},
		{"epoch -2", HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: -2}, ErrInvalidRequest},
		{"unknown member", HeartbeatRequest{Group: "g", MemberID: "zz", MemberEpoch: 1}, ErrUnknownMemberID},
		{"unknown group", HeartbeatRequest{Group: "h", MemberID: "a", MemberEpoch: 1}, ErrUnknownMemberID},
		{"leave unknown", HeartbeatRequest{Group: "g", MemberID: "zz", MemberEpoch: -1}, ErrUnknownMemberID},
		{"stale epoch", HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: 7}, ErrFencedMemberEpoch},
	} {
		if _, err := g.Heartbeat(tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// None of them changed the group.
	if d, _ := g.Describe("g"); d.GroupEpoch != 1 || len(d.Members) != 1 {
		t.Fatalf("refused heartbeats changed the group: %+v", d)
	}
	for i := range 4 {
		join(t, g, "g", fmt.Sprintf("m%d", i), "t")
	}
	if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "one-too-many", Topics: []string{"t"}}); !errors.Is(err, ErrGroupMaxSize) {
		t.Fatalf("joining a full group: %v", err)
	}
}

func TestShareGroupLeaveAndDelete(t *testing.T) {
	var left []string
	g, _ := newTestGroups(t, map[string]int32{"t": 1}, func(group, member string) { left = append(left, group+"/"+member) })
	join(t, g, "g", "a", "t")
	if err := g.Delete("g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete of a group with members: %v", err)
	}
	if res, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: -1}); err != nil || res.MemberEpoch != -1 {
		t.Fatalf("leave: %v %v", res, err)
	}
	if !slices.Equal(left, []string{"g/a"}) {
		t.Fatalf("OnLeave calls %v", left)
	}
	if l := g.List(); len(l) != 1 || l[0].State != GroupEmpty {
		t.Fatalf("listed %+v", l)
	}
	if err := g.Delete("g"); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete("g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestShareGroupSessionTimeout runs on virtual time: a member that stops heartbeating is
// removed after share.session.timeout.ms (45 s), its records released (OnLeave), and the
// others move on to a new epoch.
func TestShareGroupSessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var left []string
		g, _ := newTestGroups(t, map[string]int32{"t": 2}, func(_, member string) {
			mu.Lock()
			left = append(left, member)
			mu.Unlock()
		})
		join(t, g, "g", "a", "t")
		b := join(t, g, "g", "b", "t")
		for range 3 { // b heartbeats every 30 s; a is silent
			time.Sleep(30 * time.Second)
			b = beat(t, g, "g", "b", b.MemberEpoch)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(left, []string{"a"}) {
			t.Fatalf("expired members %v, want [a]", left)
		}
		if _, _, ok := g.Member("g", "a"); ok {
			t.Fatal("a is still a member")
		}
		if _, a, _ := g.Member("g", "b"); !reflect.DeepEqual(a, Assignment{topicID("t"): {0, 1}}) {
			t.Fatalf("b's assignment %v after a expired", a)
		}
		if _, err := g.Heartbeat(HeartbeatRequest{Group: "g", MemberID: "a", MemberEpoch: 2}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("expired member's heartbeat: %v", err)
		}
	})
}
