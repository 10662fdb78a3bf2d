package group

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// TestConsumerHeartbeatFlow runs two members through the consumer group state machine:
// join, a second member taking half the partitions only after the first revoked them,
// epoch fencing, leaving; and the records it emits rebuild the same state on replay.
func TestConsumerHeartbeatFlow(t *testing.T) {
	topics := func(name string) (assign.TopicID, int32, bool) {
		if name == "a" {
			return rtA, 4, true
		}
		return assign.TopicID{}, 0, false
	}
	cg := newConsumerGroup()
	var log []coord.Record
	hb := func(h consumerHeartbeat) (int32, assign.Assignment, error) {
		t.Helper()
		e, a, recs, err := cg.heartbeatLocked("cg", h, topicFunc(topics), "uniform")
		if err != nil && len(recs) > 0 {
			t.Fatalf("records with an error: %v", err)
		}
		log = append(log, recs...)
		return e, a, err
	}
	all := assign.Assignment{rtA: {0, 1, 2, 3}}
	owns := func(ps ...int32) assign.Assignment { return assign.Assignment{rtA: ps} }

	e, a, err := hb(consumerHeartbeat{memberID: "m1", topics: []string{"a", "missing"}, rebalanceTimeoutMs: 1000})
	if err != nil || e != 1 || !sameAssignment(a, all) {
		t.Fatalf("m1 join: %d %v %v", e, a, err)
	}
	e, a, err = hb(consumerHeartbeat{memberID: "m2", topics: []string{"a"}})
	if err != nil || e != 2 || len(a[rtA]) != 0 {
		t.Fatalf("m2 join: epoch %d, assigned %v (m1 still owns everything), %v", e, a, err)
	}
	if s := cg.members["m2"].current.State; s != memberUnreleasedPartitions {
		t.Fatalf("m2 state %d, want unreleased", s)
	}
	e, a, err = hb(consumerHeartbeat{memberID: "m1", memberEpoch: 1, owned: all})
	if err != nil || e != 1 || len(a[rtA]) != 2 {
		t.Fatalf("m1 must revoke: epoch %d assigned %v %v", e, a, err)
	}
	kept := a
	// m2 still gets nothing: m1 has not revoked yet.
	if e, a, err = hb(consumerHeartbeat{memberID: "m2", memberEpoch: 2, owned: owns()}); err != nil || len(a[rtA]) != 0 {
		t.Fatalf("m2 before the revocation: %d %v %v", e, a, err)
	}
	if e, a, err = hb(consumerHeartbeat{memberID: "m1", memberEpoch: 1, owned: kept}); err != nil || e != 2 || !sameAssignment(a, kept) {
		t.Fatalf("m1 after revoking: %d %v %v", e, a, err)
	}
	e, a, err = hb(consumerHeartbeat{memberID: "m2", memberEpoch: 2, owned: owns()})
	if err != nil || e != 2 || len(a[rtA]) != 2 || cg.members["m2"].current.State != memberStable {
		t.Fatalf("m2 after m1 revoked: %d %v %v", e, a, err)
	}
	for _, p := range a[rtA] {
		for _, q := range kept[rtA] {
			if p == q {
				t.Fatalf("m1 kept %v and m2 got %v", kept, a)
			}
		}
	}

	// Fencing and errors change nothing.
	for _, c := range []struct {
		h   consumerHeartbeat
		err error
	}{
		{consumerHeartbeat{memberID: "m1", memberEpoch: 9, owned: kept}, ErrFencedMemberEpoch},
		{consumerHeartbeat{memberID: "nobody", memberEpoch: 3}, ErrUnknownMemberID},
		{consumerHeartbeat{memberID: "nobody", memberEpoch: -1}, ErrUnknownMemberID},
		{consumerHeartbeat{memberID: "m3"}, ErrInvalidRequest},
		{consumerHeartbeat{memberID: "m3", topics: []string{"a"}, serverAssignor: strp("sticky")}, ErrUnsupportedAssignor},
		{consumerHeartbeat{memberID: "m1", topics: []string{"a"}, serverAssignor: strp("sticky")}, ErrUnsupportedAssignor}, // a rejoin
	} {
		if _, _, err := hb(c.h); !errors.Is(err, c.err) {
			t.Errorf("%+v: %v, want %v", c.h, err, c.err)
		}
	}

	// m2 leaves: m1 gets everything back at the next epoch.
	if e, _, err = hb(consumerHeartbeat{memberID: "m2", memberEpoch: -1}); err != nil || e != -1 || cg.members["m2"] != nil {
		t.Fatalf("m2 leave: %d %v", e, err)
	}
	if e, a, err = hb(consumerHeartbeat{memberID: "m1", memberEpoch: 2, owned: kept}); err != nil || e != 3 || !sameAssignment(a, all) {
		t.Fatalf("m1 after m2 left: %d %v %v", e, a, err)
	}

	// Replaying what was emitted rebuilds the same group.
	_, sh := loadRecords(t, log...)
	if got := sh.lookup("cg").consumer; !reflect.DeepEqual(got, cg) {
		t.Fatalf("replay differs:\n%+v\n%+v", got, cg)
	}
}

// TestConsumerSessionExpiry (virtual time): a KIP-848 member that stops heartbeating is
// removed after group.consumer.session.timeout.ms and the group epoch moves on, while one
// that heartbeats stays; the group survives a restart (replay), and the reloaded members
// get fresh session timers.
func TestConsumerSessionExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.ConsumerSessionTimeout = 10 * time.Second; o.Topics = topicA4 })
		join := func(id string) int32 {
			epoch, _, _, err := e.c.consumerHeartbeat("cg", consumerHeartbeat{memberID: id, topics: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			return epoch
		}
		join("m1")
		epoch := join("m2")
		cg := func() *consumerGroup {
			g := e.c.shardMust(t, "cg").lookup("cg")
			g.mu.Lock()
			defer g.mu.Unlock()
			return g.consumer
		}
		beat := func(id string, epoch int32) int32 {
			got, _, _, err := e.c.consumerHeartbeat("cg", consumerHeartbeat{memberID: id, memberEpoch: epoch,
				owned: toAssignment(cg().members[id].current.AssignedPartitions)})
			if err != nil {
				t.Fatalf("%s heartbeat: %v", id, err)
			}
			return got
		}
		for range 3 { // m2 heartbeats, m1 is silent
			time.Sleep(4 * time.Second)
			epoch = beat("m2", epoch)
		}
		if g := cg(); g.members["m1"] != nil || g.members["m2"] == nil || g.epoch != 3 {
			t.Fatalf("after m1's session expired: epoch %d, members %v", g.epoch, slices.Collect(maps.Keys(g.members)))
		}

		before := cg()
		e.reopen()
		if got := cg(); !reflect.DeepEqual(got, before) {
			t.Fatalf("after restart:\n%+v\nwant\n%+v", got, before)
		}
		time.Sleep(11 * time.Second)
		if g := cg(); len(g.members) != 0 || g.epoch != 4 {
			t.Fatalf("reloaded member did not expire: epoch %d, %d members", g.epoch, len(g.members))
		}
	})
}

func (c *Coordinator) shardMust(t *testing.T, group string) *shard {
	t.Helper()
	sh, err := c.shardOf(group)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestConsumerStaticMember: a static member leaving with epoch -2 keeps its partitions
// (nobody else gets them, the group epoch stays); the member coming back with the same
// instance id under a new member id gets them back at once; an instance id still in use
// is refused with UNRELEASED_INSTANCE_ID.
func TestConsumerStaticMember(t *testing.T) {
	topics := func(name string) (assign.TopicID, int32, bool) { return rtA, 4, name == "a" }
	cg := newConsumerGroup()
	hb := func(h consumerHeartbeat) (int32, assign.Assignment, error) {
		t.Helper()
		e, a, _, err := cg.heartbeatLocked("cg", h, topicFunc(topics), "uniform")
		return e, a, err
	}
	i1 := strp("i1")
	hb(consumerHeartbeat{memberID: "s1", instanceID: i1, topics: []string{"a"}})
	e, _, _ := hb(consumerHeartbeat{memberID: "m2", topics: []string{"a"}})
	_, mine, _ := hb(consumerHeartbeat{memberID: "s1", instanceID: i1, memberEpoch: 1, owned: assign.Assignment{rtA: {0, 1, 2, 3}}})
	_, mine, _ = hb(consumerHeartbeat{memberID: "s1", instanceID: i1, memberEpoch: 1, owned: mine})
	_, theirs, _ := hb(consumerHeartbeat{memberID: "m2", memberEpoch: e, owned: assign.Assignment{}})
	if len(mine[rtA]) != 2 || len(theirs[rtA]) != 2 {
		t.Fatalf("before: s1 %v m2 %v", mine, theirs)
	}

	if _, _, err := hb(consumerHeartbeat{memberID: "s1", memberEpoch: -2}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("-2 without instance id: %v", err)
	}
	if got, _, err := hb(consumerHeartbeat{memberID: "s1", instanceID: i1, memberEpoch: -2}); err != nil || got != -2 {
		t.Fatalf("static leave: %d %v", got, err)
	}
	groupEpoch := cg.epoch
	if _, a, _ := hb(consumerHeartbeat{memberID: "m2", memberEpoch: e, owned: theirs}); !sameAssignment(a, theirs) {
		t.Fatalf("m2 took the static member's partitions while it was away: %v", a)
	}
	got, a, err := hb(consumerHeartbeat{memberID: "s1b", instanceID: i1, topics: []string{"a"}})
	if err != nil || got != groupEpoch || cg.epoch != groupEpoch || !sameAssignment(a, mine) || cg.members["s1"] != nil {
		t.Fatalf("static rejoin: epoch %d (group %d->%d), %v, want %v: %v", got, groupEpoch, cg.epoch, a, mine, err)
	}
	if _, _, err := hb(consumerHeartbeat{memberID: "s1c", instanceID: i1, topics: []string{"a"}}); !errors.Is(err, ErrUnreleasedInstanceID) {
		t.Fatalf("instance id in use: %v", err)
	}
}

// TestConsumerCommit (virtual time): offset commits to a consumer group carry the member
// epoch in place of the generation: the current epoch commits, another is
// STALE_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID, and a commit without epoch
// only succeeds once the group has no members.
func TestConsumerCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Topics = topicA4 })
		epoch, _, _, err := e.c.consumerHeartbeat("cg", consumerHeartbeat{memberID: "m1", topics: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		commit := func(member string, epoch int32) error {
			_, err := e.c.Commit(&CommitRequest{Group: "cg", Generation: epoch, MemberID: member,
				Offsets: []CommitOffset{{Topic: "a", Offset: 5, LeaderEpoch: -1}}})
			return err
		}
		for _, c := range []struct {
			member string
			epoch  int32
			want   error
		}{
			{"m1", epoch, nil},
			{"m1", epoch + 1, ErrStaleMemberEpoch},
			{"m1", epoch - 1, ErrStaleMemberEpoch},
			{"m9", epoch, ErrUnknownMemberID},
			{"", -1, ErrUnknownMemberID},
		} {
			if err := commit(c.member, c.epoch); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("commit %s epoch %d: %v, want %v", c.member, c.epoch, err, c.want)
			}
		}
		if _, _, _, err := e.c.consumerHeartbeat("cg", consumerHeartbeat{memberID: "m1", memberEpoch: -1}); err != nil {
			t.Fatal(err)
		}
		if err := commit("", -1); err != nil {
			t.Fatalf("commit without epoch to the empty group: %v", err)
		}
	})
}

// TestConsumerCommitAssignmentEpochs (virtual time): KIP-1251. A member may commit at
// an epoch below its current one the partitions it held at that epoch: assignment epoch
// ≤ commit epoch ≤ member epoch. A partition given to it at a later epoch, or no longer
// its own, is STALE_MEMBER_EPOCH; so is an epoch above the member's. OffsetCommit and
// TxnOffsetCommit alike, and the assignment epochs survive a restart.
func TestConsumerCommitAssignmentEpochs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Topics = topicA4 })
		hb := func(h consumerHeartbeat) (int32, assign.Assignment) {
			t.Helper()
			epoch, a, _, err := e.c.consumerHeartbeat("cg", h)
			if err != nil {
				t.Fatal(err)
			}
			return epoch, a
		}
		pid := int64(0)
		check := func(what, member string, epoch int32, p int32, want error) {
			t.Helper()
			offsets := []CommitOffset{{Topic: "a", Partition: p, Offset: 5, LeaderEpoch: -1}}
			_, err := e.c.Commit(&CommitRequest{Group: "cg", Generation: epoch, MemberID: member, Offsets: offsets})
			pid++
			_, terr := e.c.TxnCommit(&TxnCommitRequest{ProducerID: pid, ProducerEpoch: 1,
				CommitRequest: CommitRequest{Group: "cg", Generation: epoch, MemberID: member, Offsets: offsets}})
			twant := want
			if want == ErrStaleMemberEpoch { // TxnOffsetCommit has no STALE_MEMBER_EPOCH (Kafka's)
				twant = ErrIllegalGeneration
			}
			for i, err := range []error{err, terr} {
				if w := []error{want, twant}[i]; !errors.Is(err, w) || (err == nil) != (w == nil) {
					t.Errorf("%s: %s commits a/%d at epoch %d: %v, want %v", what, member, p, epoch, err, w)
				}
			}
		}

		e1, _ := hb(consumerHeartbeat{memberID: "m1", topics: []string{"a"}})
		hb(consumerHeartbeat{memberID: "m1", memberEpoch: e1, owned: assign.Assignment{rtA: {0, 1, 2, 3}}})
		hb(consumerHeartbeat{memberID: "m2", topics: []string{"a"}})
		// m1 gives up half of its partitions at once: it moves to the new epoch keeping the
		// others, assigned at e1.
		e2, kept := hb(consumerHeartbeat{memberID: "m1", memberEpoch: e1, owned: assign.Assignment{rtA: {0, 1, 2, 3}}})
		if e2 != e1 {
			t.Fatalf("m1 moved to epoch %d before revoking", e2)
		}
		e2, kept = hb(consumerHeartbeat{memberID: "m1", memberEpoch: e1, owned: kept})
		if e2 <= e1 || len(kept[rtA]) != 2 {
			t.Fatalf("m1 after revoking: epoch %d, %v", e2, kept)
		}
		var gone int32
		for p := range int32(4) {
			if !slices.Contains(kept[rtA], p) {
				gone = p
			}
		}
		mine := kept[rtA][0]
		check("still owned", "m1", e1, mine, nil)
		check("current epoch", "m1", e2, gone, nil) // as Kafka: the current epoch checks no partition
		check("revoked", "m1", e1, gone, ErrStaleMemberEpoch)
		check("above the member's", "m1", e2+1, mine, ErrStaleMemberEpoch)
		check("below the assignment", "m1", e1-1, mine, ErrStaleMemberEpoch)

		// m2 leaves: m1 gets its partitions at a later epoch e3.
		e2b, _ := hb(consumerHeartbeat{memberID: "m2", memberEpoch: e2, owned: assign.Assignment{}})
		hb(consumerHeartbeat{memberID: "m2", memberEpoch: e2b, owned: assign.Assignment{}})
		if _, _, _, err := e.c.consumerHeartbeat("cg", consumerHeartbeat{memberID: "m2", memberEpoch: -1}); err != nil {
			t.Fatal(err)
		}
		e3, all := hb(consumerHeartbeat{memberID: "m1", memberEpoch: e2, owned: kept})
		if e3 <= e2 || len(all[rtA]) != 4 {
			t.Fatalf("m1 after m2 left: epoch %d, %v", e3, all)
		}
		for _, when := range []string{"before restart", "after restart"} {
			check(when+", kept since e1", "m1", e2, mine, nil)
			check(when+", kept since e1, at e1", "m1", e1, mine, nil)
			check(when+", assigned at e3", "m1", e2, gone, ErrStaleMemberEpoch)
			check(when+", assigned at e3, at e3", "m1", e3, gone, nil)
			e.reopen()
		}
	})
}

// TestConsumerRevocationTimeout (virtual time): a member that keeps heartbeating but does
// not revoke what it must within its rebalance timeout is removed, and the partitions go
// to the member waiting for them; one that revokes in time stays.
func TestConsumerRevocationTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.ConsumerSessionTimeout = 10 * time.Second; o.Topics = topicA4 })
		hb := func(h consumerHeartbeat) (int32, assign.Assignment, error) {
			t.Helper()
			epoch, a, _, err := e.c.consumerHeartbeat("cg", h)
			return epoch, a, err
		}
		all := assign.Assignment{rtA: {0, 1, 2, 3}}
		hb(consumerHeartbeat{memberID: "m1", topics: []string{"a"}, rebalanceTimeoutMs: 5000})
		e2, _, _ := hb(consumerHeartbeat{memberID: "m2", topics: []string{"a"}})
		for range 3 { // m1 keeps everything past its rebalance timeout
			hb(consumerHeartbeat{memberID: "m1", memberEpoch: 1, owned: all})
			hb(consumerHeartbeat{memberID: "m2", memberEpoch: e2, owned: assign.Assignment{}})
			time.Sleep(2 * time.Second)
		}
		if _, _, err := hb(consumerHeartbeat{memberID: "m1", memberEpoch: 1, owned: all}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("m1 after its rebalance timeout: %v", err)
		}
		e3, a, err := hb(consumerHeartbeat{memberID: "m2", memberEpoch: e2, owned: assign.Assignment{}})
		if err != nil || !sameAssignment(a, all) {
			t.Fatalf("m2 after m1 was removed: %d %v %v", e3, a, err)
		}

		// m3 joins; m2 revokes in time and stays past the timeout.
		e4, _, _ := hb(consumerHeartbeat{memberID: "m3", topics: []string{"a"}})
		_, kept, _ := hb(consumerHeartbeat{memberID: "m2", memberEpoch: e3, owned: all})
		for range 4 {
			time.Sleep(2 * time.Second)
			e3, kept, err = hb(consumerHeartbeat{memberID: "m2", memberEpoch: e3, owned: kept})
			if err != nil {
				t.Fatalf("m2 revoked in time but: %v", err)
			}
			hb(consumerHeartbeat{memberID: "m3", memberEpoch: e4, owned: assign.Assignment{}})
		}
		if len(kept[rtA]) != 2 {
			t.Fatalf("m2 keeps %v", kept)
		}
	})
}

// TestConsumerGroupSettings (virtual time): a group's own consumer.session.timeout.ms and
// consumer.heartbeat.interval.ms (Options.GroupSettings) take the place of the broker's,
// within the broker's bounds, read at each heartbeat; other groups keep the broker's.
func TestConsumerGroupSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		own := map[string]GroupSettings{"slow": {SessionTimeout: 30 * time.Second, HeartbeatInterval: 8 * time.Second}}
		e := newEnv(t, func(o *Options) {
			o.ConsumerSessionTimeout, o.ConsumerMaxSessionTimeout = 10*time.Second, time.Minute
			o.Topics = topicA4
			o.GroupSettings = func(g string) GroupSettings { mu.Lock(); defer mu.Unlock(); return own[g] }
		})
		join := func(g string) time.Duration {
			r, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: g, MemberID: "m1", RebalanceTimeout: time.Minute,
				Topics: []string{"a"}, Owned: map[assign.TopicID][]int32{}})
			if err != nil {
				t.Fatal(err)
			}
			return r.HeartbeatInterval
		}
		if got := join("slow"); got != 8*time.Second {
			t.Fatalf("the group's heartbeat interval: %v", got)
		}
		if got := join("plain"); got != DefaultConsumerHeartbeatInterval {
			t.Fatalf("the broker's heartbeat interval: %v", got)
		}
		members := func(g string) int {
			grp := e.c.shardMust(t, g).lookup(g)
			grp.mu.Lock()
			defer grp.mu.Unlock()
			return len(grp.consumer.members)
		}
		time.Sleep(20 * time.Second)
		if members("slow") != 1 || members("plain") != 0 {
			t.Fatalf("after 20s: slow %d, plain %d members", members("slow"), members("plain"))
		}
		time.Sleep(11 * time.Second)
		if members("slow") != 0 {
			t.Fatal("the group's 30s session timeout did not expire its member")
		}
		// A value beyond the broker's bounds is brought within them.
		mu.Lock()
		own["slow"] = GroupSettings{SessionTimeout: time.Hour}
		mu.Unlock()
		join("slow")
		time.Sleep(59 * time.Second)
		if members("slow") != 1 {
			t.Fatal("expired before the broker's 60s maximum")
		}
		time.Sleep(2 * time.Second)
		if members("slow") != 0 {
			t.Fatal("an hour's session timeout was not capped at the broker's 60s maximum")
		}
	})
}
