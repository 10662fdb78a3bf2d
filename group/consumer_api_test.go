package group

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/group/assign"
)

// testTopics is a TopicResolver over topics that tests create as they go.
type testTopics struct {
	mu     sync.Mutex
	topics map[string]int32 // name → partitions; the id is the name's first byte
}

func topicID(name string) assign.TopicID { return assign.TopicID{name[0], byte(len(name))} }

func (tt *testTopics) set(name string, partitions int32) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.topics == nil {
		tt.topics = map[string]int32{}
	}
	tt.topics[name] = partitions
}

func (tt *testTopics) Topic(name string) (assign.TopicID, int32, bool) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	n, ok := tt.topics[name]
	return topicID(name), n, ok
}

func (tt *testTopics) TopicName(id assign.TopicID) (string, bool) {
	for _, n := range tt.Names() {
		if topicID(n) == id {
			return n, true
		}
	}
	return "", false
}

func (tt *testTopics) Names() []string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	var out []string
	for n := range tt.topics {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func join(group, member string, topics ...string) *ConsumerHeartbeatRequest {
	return &ConsumerHeartbeatRequest{Group: group, MemberID: member, RebalanceTimeout: time.Minute, Topics: topics,
		Owned: map[assign.TopicID][]int32{}}
}

// TestConsumerHeartbeatChecks: requests Kafka refuses are refused the same way, before
// anything changes.
func TestConsumerHeartbeatChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 2)
		e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerAssignors = []string{"range"} })
		uniform, bad, empty := "uniform", "(", ""
		none := map[assign.TopicID][]int32{}
		for _, c := range []struct {
			name string
			req  ConsumerHeartbeatRequest
			want error
		}{
			{"no group", ConsumerHeartbeatRequest{MemberID: "m", RebalanceTimeout: time.Second, Topics: []string{"a"}}, ErrInvalidGroupID},
			{"join without owned partitions", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, Topics: []string{"a"}}, ErrInvalidRequest},
			{"no member id", ConsumerHeartbeatRequest{Group: "g", RebalanceTimeout: time.Second, Topics: []string{"a"}}, ErrInvalidRequest},
			{"join without rebalance timeout", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", Topics: []string{"a"}}, ErrInvalidRequest},
			{"join without subscription", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, Owned: none}, ErrInvalidRequest},
			{"join owning partitions", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, Topics: []string{"a"},
				Owned: map[assign.TopicID][]int32{topicID("a"): {0}}}, ErrInvalidRequest},
			{"static leave without instance id", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: -2}, ErrInvalidRequest},
			{"epoch below -2", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: -3}, ErrInvalidRequest},
			{"empty instance id", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", InstanceID: &empty, RebalanceTimeout: time.Second, Topics: []string{"a"}}, ErrInvalidRequest},
			{"assignor not configured", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, Topics: []string{"a"}, ServerAssignor: &uniform, Owned: none}, ErrUnsupportedAssignor},
			{"bad regex", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", RebalanceTimeout: time.Second, Regex: &bad, Owned: none}, ErrInvalidRegularExpression},
			{"unknown member", ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 3}, ErrUnknownMemberID},
		} {
			if _, err := e.c.ConsumerHeartbeat(&c.req); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		if d := e.c.DescribeConsumerGroups([]string{"g"}); !errors.Is(d[0].Err, ErrGroupIDNotFound) {
			t.Fatalf("refused requests created the group: %+v", d[0])
		}
	})
}

// TestConsumerHeartbeatAnswers: the assignment comes with a full request and when it
// changed, not with a plain heartbeat; the heartbeat interval is the configured one;
// ConsumerGroupDescribe shows the group's epochs, state and members; a full group
// refuses a new member (group.consumer.max.size) but not a known one.
func TestConsumerHeartbeatAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 4)
		e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerHeartbeatInterval = 7 * time.Second; o.ConsumerMaxSize = 2 })
		r, err := e.c.ConsumerHeartbeat(join("g", "m1", "a"))
		all := map[assign.TopicID][]int32{topicID("a"): {0, 1, 2, 3}}
		if err != nil || r.MemberEpoch != 1 || r.HeartbeatInterval != 7*time.Second || !reflect.DeepEqual(r.Assignment, all) {
			t.Fatalf("join: %+v %v", r, err)
		}
		r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m1", MemberEpoch: 1})
		if err != nil || r.MemberEpoch != 1 || r.Assignment != nil {
			t.Fatalf("plain heartbeat: %+v %v", r, err)
		}
		full := join("g", "m1", "a")
		full.MemberEpoch, full.Owned = 1, all
		if r, err = e.c.ConsumerHeartbeat(full); err != nil || !reflect.DeepEqual(r.Assignment, all) {
			t.Fatalf("full heartbeat: %+v %v", r, err)
		}
		if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; d.Err != nil || d.State != "Stable" || d.Epoch != 1 ||
			d.AssignmentEpoch != 1 || d.Assignor != "uniform" || len(d.Members) != 1 || !reflect.DeepEqual(d.Members[0].Assignment, all) {
			t.Fatalf("describe: %+v", d)
		}

		if _, err := e.c.ConsumerHeartbeat(join("g", "m2", "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.ConsumerHeartbeat(join("g", "m3", "a")); !errors.Is(err, ErrGroupMaxSizeReached) {
			t.Fatalf("third member of a group of at most 2: %v", err)
		}
		if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; d.State != "Reconciling" || d.Epoch != 2 {
			t.Fatalf("describe while m1 revokes: %+v", d)
		}
		// m1 must revoke half: the changed assignment comes with a plain heartbeat.
		r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m1", MemberEpoch: 1})
		if err != nil || len(r.Assignment[topicID("a")]) != 2 {
			t.Fatalf("m1 told to revoke: %+v %v", r, err)
		}
		if _, err := e.c.ConsumerHeartbeat(join("g", "m1", "a")); err != nil {
			t.Fatalf("m1 rejoins a full group it is a member of: %v", err)
		}
	})
}

// TestConsumerTopicChanges: the group epoch moves on, and the assignment follows, when a
// subscribed topic appears, grows or a new topic matches a member's regular expression.
func TestConsumerTopicChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("t1", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		re := "t[0-9]"
		beat := func(epoch int32, owned map[assign.TopicID][]int32) ConsumerHeartbeatResult {
			t.Helper()
			r, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: epoch,
				RebalanceTimeout: time.Minute, Regex: &re, Topics: []string{"named"}, Owned: owned})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := beat(0, map[assign.TopicID][]int32{})
		if r.MemberEpoch != 1 || !reflect.DeepEqual(r.Assignment, map[assign.TopicID][]int32{topicID("t1"): {0}}) {
			t.Fatalf("join: %+v", r)
		}
		tt.set("t2", 2)    // matches the regex
		tt.set("x1", 1)    // does not
		tt.set("t10", 1)   // neither: the whole name must match
		tt.set("named", 1) // named, created after the member joined
		r = beat(r.MemberEpoch, r.Assignment)
		want := map[assign.TopicID][]int32{topicID("t1"): {0}, topicID("t2"): {0, 1}, topicID("named"): {0}}
		if r.MemberEpoch != 2 || !reflect.DeepEqual(r.Assignment, want) {
			t.Fatalf("after new topics: %+v, want epoch 2 and %v", r, want)
		}
		tt.set("t2", 3)
		r = beat(r.MemberEpoch, r.Assignment)
		if want[topicID("t2")] = []int32{0, 1, 2}; r.MemberEpoch != 3 || !reflect.DeepEqual(r.Assignment, want) {
			t.Fatalf("after t2 grew: %+v", r)
		}
		if r = beat(r.MemberEpoch, r.Assignment); r.MemberEpoch != 3 {
			t.Fatalf("nothing changed, yet epoch %d", r.MemberEpoch)
		}
	})
}

// TestConsumerConvertsEmptyClassicGroup: a classic group without members becomes a
// consumer group when a KIP-848 member joins, keeping its committed offsets, and the
// conversion survives a restart; a classic group with members whose assignments are not
// the consumer protocol's refuses KIP-848 members (GROUP_ID_NOT_FOUND, as Kafka).
func TestConsumerConvertsEmptyClassicGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		ctx := context.Background()
		ids, gen := e.stableGroup(ctx, "g", 1)
		if _, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); !errors.Is(err, ErrGroupIDNotFound) {
			t.Fatalf("KIP-848 member joining a classic group whose assignments do not decode: %v", err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: ids[0],
			Offsets: []CommitOffset{{Topic: "a", Offset: 7, LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Leave("g", []LeaveMember{{MemberID: ids[0]}}); err != nil {
			t.Fatal(err)
		}
		if r, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); err != nil || r.MemberEpoch != 1 {
			t.Fatalf("KIP-848 member joining the empty classic group: %+v %v", r, err)
		}
		check := func(when string) {
			t.Helper()
			if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; d.Err != nil || len(d.Members) != 1 {
				t.Fatalf("%s: %+v", when, d)
			}
			if d := e.c.DescribeGroups([]string{"g"})[0]; d.ProtocolType != "consumer" || d.StateName != "Stable" || len(d.Members) != 1 {
				t.Fatalf("%s: DescribeGroups %+v", when, d)
			}
			if o, err := e.c.Fetch("g", map[string][]int32{"a": {0}}); err != nil || o[0].Offset != 7 {
				t.Fatalf("%s: offsets %+v %v", when, o, err)
			}
		}
		check("converted")
		e.reopen()
		check("after restart")
	})
}

// TestConsumerGroupLifecycle: ListGroups tells consumer groups by type and state;
// DeleteGroups refuses a consumer group with members and deletes an empty one for good; a
// classic member joins a consumer group with members (it stays a consumer group), and
// turns an empty one classic; an empty consumer group without offsets is removed by the
// retention check.
func TestConsumerGroupLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		ctx := context.Background()
		e.stableGroup(ctx, "classic", 1)
		for _, g := range []string{"c1", "c2", "c3"} {
			if _, err := e.c.ConsumerHeartbeat(join(g, "m", "a")); err != nil {
				t.Fatal(err)
			}
		}
		if l := e.list(nil, []string{"CONSUMER"}); len(l) != 3 || l[0].Type != "consumer" || l[0].State != "Stable" || l[0].ProtocolType != "consumer" {
			t.Fatalf("consumer groups: %+v", l)
		}
		if l := e.list([]string{"stable"}, []string{"classic"}); len(l) != 1 || l[0].Group != "classic" {
			t.Fatalf("classic groups: %+v", l)
		}
		if errs := e.c.DeleteGroups([]string{"c1"}); !errors.Is(errs[0], ErrNonEmptyGroup) {
			t.Fatalf("delete a consumer group with members: %v", errs[0])
		}
		res, err := e.c.Join(ctx, jreq("c1", ""))
		if err != nil {
			t.Fatalf("classic member joining a consumer group with members: %v", err)
		}
		if l := e.list(nil, []string{"consumer"}); len(l) != 3 {
			t.Fatalf("consumer groups with a classic member: %+v", l)
		}
		if errs, err := e.c.Leave("c1", []LeaveMember{{MemberID: res.MemberID}}); err != nil || errs[0] != nil {
			t.Fatalf("classic member leaving the consumer group: %v %v", errs, err)
		}
		for _, g := range []string{"c1", "c2", "c3"} {
			if _, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: g, MemberID: "m", MemberEpoch: -1}); err != nil {
				t.Fatal(err)
			}
		}
		if l := e.list([]string{"Empty"}, []string{"consumer"}); len(l) != 3 {
			t.Fatalf("empty consumer groups: %+v", l)
		}
		if errs := e.c.DeleteGroups([]string{"c1"}); errs[0] != nil {
			t.Fatalf("delete the empty consumer group: %v", errs[0])
		}
		e.stableGroup(ctx, "c2", 1) // a classic member turns the empty consumer group classic
		e.reopen()
		e.c.ExpireOffsets(time.Now()) // c3: empty, no offsets
		l := e.list(nil, nil)
		if len(l) != 2 || l[0].Group != "c2" || l[0].Type != "classic" || l[1].Group != "classic" {
			t.Fatalf("after delete, classic join, restart and expiry: %+v", l)
		}
		e.reopen()
		if l := e.list(nil, nil); len(l) != 2 {
			t.Fatalf("after another restart: %+v", l)
		}
	})
}

// TestConsumerMigrationPolicy: without upgrades an empty classic group refuses KIP-848
// members, without downgrades an empty consumer group refuses classic members, both with
// GROUP_ID_NOT_FOUND as Kafka answers.
func TestConsumerMigrationPolicy(t *testing.T) {
	for _, c := range []struct {
		policy             MigrationPolicy
		upgrade, downgrade bool
	}{
		{MigrationBidirectional, true, true},
		{MigrationDisabled, false, false},
		{MigrationUpgrade, true, false},
		{MigrationDowngrade, false, true},
	} {
		synctest.Test(t, func(t *testing.T) {
			tt := &testTopics{}
			tt.set("a", 1)
			e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerMigration = c.policy })
			ctx := context.Background()
			ids, _ := e.stableGroup(ctx, "classic", 1)
			if _, err := e.c.Leave("classic", []LeaveMember{{MemberID: ids[0]}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.ConsumerHeartbeat(join("classic", "m", "a")); (err == nil) != c.upgrade || err != nil && !errors.Is(err, ErrGroupIDNotFound) {
				t.Errorf("policy %d: upgrade: %v", c.policy, err)
			}
			if _, err := e.c.ConsumerHeartbeat(join("consumer", "m", "a")); err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "consumer", MemberID: "m", MemberEpoch: -1}); err != nil {
				t.Fatal(err)
			}
			_, err := e.c.Join(ctx, jreq("consumer", "x"))
			if c.downgrade != !errors.Is(err, ErrGroupIDNotFound) {
				t.Errorf("policy %d: downgrade: %v", c.policy, err)
			}
		})
	}
}

// TestConsumerFetchMember: OffsetFetch v9 checks the member of a consumer group (unknown
// member, stale epoch), accepts a request without member, and never checks classic groups.
func TestConsumerFetchMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		r, err := e.c.ConsumerHeartbeat(join("g", "m", "a"))
		if err != nil {
			t.Fatal(err)
		}
		e.stableGroup(context.Background(), "classic", 1)
		m, x := "m", "x"
		for _, c := range []struct {
			group  string
			member *string
			epoch  int32
			want   error
		}{
			{"g", &m, r.MemberEpoch, nil},
			{"g", nil, -1, nil},
			{"g", &m, r.MemberEpoch + 1, ErrStaleMemberEpoch},
			{"g", &x, r.MemberEpoch, ErrUnknownMemberID},
			{"g", nil, 3, ErrUnknownMemberID},
			{"classic", &x, 7, nil},
			{"missing", &x, 7, nil},
		} {
			if err := e.c.CheckFetchMember(c.group, c.member, c.epoch); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("%s %v %d: %v, want %v", c.group, c.member, c.epoch, err, c.want)
			}
		}
	})
}

// TestConsumerTxnCommit: TxnOffsetCommit to a consumer group checks the member epoch as
// OffsetCommit does, a stale epoch answered ILLEGAL_GENERATION as Kafka's (TxnOffsetCommit
// has no STALE_MEMBER_EPOCH), UNKNOWN_MEMBER_ID, and a request without member information
// is accepted (KIP-447: the member fields are optional).
func TestConsumerTxnCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		r, err := e.c.ConsumerHeartbeat(join("g", "m", "a"))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range []struct {
			member string
			epoch  int32
			want   error
		}{
			{"m", r.MemberEpoch, nil},
			{"m", r.MemberEpoch + 1, ErrIllegalGeneration}, // Kafka's answer for a stale epoch
			{"x", r.MemberEpoch, ErrUnknownMemberID},
			{"", -1, nil},
		} {
			_, err := e.c.TxnCommit(&TxnCommitRequest{ProducerID: int64(i + 1), ProducerEpoch: 1,
				CommitRequest: CommitRequest{Group: "g", MemberID: c.member, Generation: c.epoch,
					Offsets: []CommitOffset{{Topic: "a", Offset: 1, LeaderEpoch: -1}}}})
			if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("%q epoch %d: %v, want %v", c.member, c.epoch, err, c.want)
			}
		}
	})
}

// TestConsumerAssignorVote: the group uses the assignor most members name, the default
// (the first of group.consumer.assignors) when none names one.
func TestConsumerAssignorVote(t *testing.T) {
	uniform, rng := "uniform", "range"
	cg := newConsumerGroup()
	if a := cg.assignor("range"); a != "range" {
		t.Fatalf("no members: %s", a)
	}
	for id, a := range map[string]*string{"a": &rng, "b": &uniform, "c": &uniform, "d": nil} {
		cg.member(id).meta.ServerAssignor = a
	}
	if a := cg.assignor("range"); a != "uniform" {
		t.Fatalf("two members name uniform, one range: %s", a)
	}
	cg.member("e").meta.ServerAssignor = &rng
	if a := cg.assignor("uniform"); a != "range" {
		t.Fatalf("a tie goes to the first name: %s", a)
	}
}

// TestConsumerGroupSummaryAndOffsetDelete: the metrics' summary counts a consumer
// group's members and subscribed topics (regular expressions resolved); OffsetDelete
// refuses the topics they subscribe to and deletes the others.
func TestConsumerGroupSummaryAndOffsetDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 1)
		tt.set("b", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		re := "a"
		req := join("g", "m", "x")
		req.Regex = &re
		r, err := e.c.ConsumerHeartbeat(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Commit(&CommitRequest{Group: "g", MemberID: "m", Generation: r.MemberEpoch,
			Offsets: []CommitOffset{{Topic: "a", Offset: 1, LeaderEpoch: -1}, {Topic: "b", Offset: 1, LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
		s, err := e.c.Summaries()
		if err != nil || len(s) != 1 || s[0].State != "Stable" || s[0].Members != 1 || s[0].ProtocolType != "consumer" ||
			!slices.Equal(s[0].Subscribed, []string{"a", "x"}) {
			t.Fatalf("summaries: %+v %v", s, err)
		}
		errs, err := e.c.DeleteOffsets("g", []TopicPartition{{Topic: "a"}, {Topic: "b"}})
		if err != nil || !errors.Is(errs[0], ErrGroupSubscribedToTopic) || errs[1] != nil {
			t.Fatalf("offset delete: %v %v", errs, err)
		}
	})
}
