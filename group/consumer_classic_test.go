package group

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group/assign"
)

// classicJoin is a classic consumer's JoinGroup subscribing to topics, owning owned.
func classicJoin(g, member string, owned map[string][]int32, topics ...string) *JoinRequest {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = topics
	for t, ps := range owned {
		m.OwnedPartitions = append(m.OwnedPartitions, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: t, Partitions: ps})
	}
	return &JoinRequest{Group: g, MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1", ProtocolType: "consumer",
		Protocols:      []Protocol{{Name: "cooperative-sticky", Metadata: m.AppendTo(nil)}},
		SessionTimeout: testSession, RebalanceTimeout: testRebalance, RequireKnownMemberID: true}
}

// classicAssignment decodes a SyncGroup assignment.
func classicAssignment(t *testing.T, b []byte) map[string][]int32 {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("assignment %x: %v", b, err)
	}
	out := map[string][]int32{}
	for _, tp := range a.Topics {
		out[tp.Topic] = tp.Partitions
	}
	return out
}

// TestClassicMemberInConsumerGroup: a classic member joins a consumer group with a KIP-848
// member (MEMBER_ID_REQUIRED first), gets its generation as its member epoch and, in
// SyncGroup, the partitions the other member released to it (REBALANCE_IN_PROGRESS on
// its heartbeat once they are free), commits with its generation, survives a restart,
// and leaves; requests Kafka refuses are refused with Kafka's errors.
func TestClassicMemberInConsumerGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 4)
		e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerAssignors = []string{"range"} })
		ctx := context.Background()
		a := topicID("a")
		r, err := e.c.ConsumerHeartbeat(join("g", "m", "a"))
		if err != nil || r.MemberEpoch != 1 || len(r.Assignment[a]) != 4 {
			t.Fatalf("KIP-848 member: %+v %v", r, err)
		}
		res, err := e.c.Join(ctx, classicJoin("g", "", nil, "a"))
		if !errors.Is(err, ErrMemberIDRequired) || res.MemberID == "" {
			t.Fatalf("first classic join: %+v %v", res, err)
		}
		id := res.MemberID
		if res, err = e.c.Join(ctx, classicJoin("g", id, nil, "a")); err != nil || res.Generation != 2 || res.MemberID != id ||
			res.LeaderID != "" || res.Protocol != "cooperative-sticky" || res.ProtocolType != "consumer" {
			t.Fatalf("classic join: %+v %v", res, err)
		}
		sync := func(gen int32) (map[string][]int32, error) {
			s, err := e.c.Sync(ctx, &SyncRequest{Group: "g", MemberID: id, Generation: gen})
			if err != nil {
				return nil, err
			}
			return classicAssignment(t, s.Assignment), nil
		}
		hb := func(gen int32) error {
			return e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: id, Generation: gen})
		}
		if got, err := sync(2); err != nil || len(got) != 0 {
			t.Fatalf("sync while the partitions are still owned: %v %v", got, err)
		}
		if err := hb(2); err != nil {
			t.Fatalf("heartbeat while waiting: %v", err)
		}
		// The KIP-848 member revokes two partitions.
		r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 1,
			Owned: map[assign.TopicID][]int32{a: {0, 1, 2, 3}}})
		if err != nil || r.MemberEpoch != 1 || !reflect.DeepEqual(r.Assignment[a], []int32{0, 1}) {
			t.Fatalf("KIP-848 member told to revoke: %+v %v", r, err)
		}
		if r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 1,
			Owned: map[assign.TopicID][]int32{a: {0, 1}}}); err != nil || r.MemberEpoch != 2 {
			t.Fatalf("KIP-848 member after revoking: %+v %v", r, err)
		}
		if err := hb(2); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat once the partitions are free: %v", err)
		}
		if res, err = e.c.Join(ctx, classicJoin("g", id, nil, "a")); err != nil || res.Generation != 2 {
			t.Fatalf("classic rejoin: %+v %v", res, err)
		}
		if got, err := sync(2); err != nil || !reflect.DeepEqual(got, map[string][]int32{"a": {2, 3}}) {
			t.Fatalf("sync after rejoin: %v %v", got, err)
		}
		if err := hb(2); err != nil {
			t.Fatalf("heartbeat when stable: %v", err)
		}
		commit := func(gen int32) error {
			_, err := e.c.Commit(&CommitRequest{Group: "g", Generation: gen, MemberID: id,
				Offsets: []CommitOffset{{Topic: "a", Partition: 2, Offset: 5, LeaderEpoch: -1}}})
			return err
		}
		if err := commit(1); !errors.Is(err, ErrIllegalGeneration) {
			t.Fatalf("commit with an old generation: %v", err)
		}
		if err := commit(2); err != nil {
			t.Fatalf("commit: %v", err)
		}

		// Refusals.
		other := "roundrobin"
		bad := classicJoin("g", "", nil, "a")
		bad.Protocols[0].Name = other
		for _, c := range []struct {
			name string
			err  error
			want error
		}{
			{"heartbeat, old generation", hb(1), ErrIllegalGeneration},
			{"heartbeat, unknown member", e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "x", Generation: 2}), ErrUnknownMemberID},
			{"heartbeat from the KIP-848 member", e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "m", Generation: 2}), ErrUnknownMemberID},
			{"sync, other protocol", func() error {
				_, err := e.c.Sync(ctx, &SyncRequest{Group: "g", MemberID: id, Generation: 2, Protocol: &other})
				return err
			}(), ErrInconsistentGroupProtocol},
			{"join, protocol no classic member supports", func() error { _, err := e.c.Join(ctx, bad); return err }(), ErrInconsistentGroupProtocol},
			{"join, other protocol type", func() error {
				j := classicJoin("g", "", nil, "a")
				j.ProtocolType = "connect"
				_, err := e.c.Join(ctx, j)
				return err
			}(), ErrInconsistentGroupProtocol},
		} {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
			}
		}

		e.reopen()
		if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; len(d.Members) != 2 || d.Members[0].Classic == (d.Members[0].MemberID == "m") ||
			d.Members[1].Classic == (d.Members[1].MemberID == "m") {
			t.Fatalf("described after restart: %+v", d.Members)
		}
		if got, err := sync(2); err != nil || !reflect.DeepEqual(got, map[string][]int32{"a": {2, 3}}) {
			t.Fatalf("sync after restart: %v %v", got, err)
		}
		if o, err := e.c.Fetch("g", map[string][]int32{"a": {2}}); err != nil || o[0].Offset != 5 {
			t.Fatalf("offsets after restart: %+v %v", o, err)
		}
		errs, err := e.c.Leave("g", []LeaveMember{{MemberID: id}, {MemberID: "m"}})
		if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
			t.Fatalf("leave: %v %v", errs, err)
		}
		if r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 2,
			Owned: map[assign.TopicID][]int32{a: {0, 1}}}); err != nil || r.MemberEpoch != 3 || len(r.Assignment[a]) != 4 {
			t.Fatalf("KIP-848 member after the classic one left: %+v %v", r, err)
		}
	})
}

// TestClassicMemberSessionInConsumerGroup: a classic member of a consumer group expires
// after its own session timeout (not group.consumer.session.timeout.ms), also after a
// restart, and a group at group.consumer.max.size refuses another classic member.
func TestClassicMemberSessionInConsumerGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 2)
		e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerMaxSize = 2 })
		ctx := context.Background()
		if _, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); err != nil {
			t.Fatal(err)
		}
		res, err := e.c.Join(ctx, classicJoin("g", "c1", nil, "a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Join(ctx, classicJoin("g", "c2", nil, "a")); !errors.Is(err, ErrGroupMaxSizeReached) {
			t.Fatalf("third member of a group of at most 2: %v", err)
		}
		e.reopen()
		time.Sleep(testSession / 2)
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "c1", Generation: res.Generation}); err != nil && !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat within the session: %v", err)
		}
		time.Sleep(testSession + time.Second)
		if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "c1", Generation: res.Generation}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("heartbeat after the session expired: %v", err)
		}
		if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; len(d.Members) != 1 || d.Members[0].MemberID != "m" {
			t.Fatalf("members after the classic one expired: %+v", d.Members)
		}
	})
}

// classicSim is a classic consumer (cooperative, it reports what it owns) of a test.
type classicSim struct {
	id    string
	gen   int32
	owned map[string][]int32
}

// classicStableGroup forms classic group g of two classic consumers of topic a (4
// partitions), the leader giving each two.
func (e *testEnv) classicStableGroup(ctx context.Context, g string) []*classicSim {
	e.t.Helper()
	ch1, ch2 := e.joinNew(ctx, classicJoin(g, "", nil, "a")), e.joinNew(ctx, classicJoin(g, "", nil, "a"))
	r1, r2 := recv(e.t, ch1), recv(e.t, ch2)
	if r1.err != nil || r2.err != nil {
		e.t.Fatalf("classic joins: %v %v", r1.err, r2.err)
	}
	leader, other := r1.res, r2.res
	if other.MemberID == other.LeaderID {
		leader, other = other, leader
	}
	enc := func(ps ...int32) []byte {
		a := kmsg.NewConsumerMemberAssignment()
		a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "a", Partitions: ps}}
		return a.AppendTo(nil)
	}
	sch := e.syncAsync(ctx, &SyncRequest{Group: g, Generation: other.Generation, MemberID: other.MemberID})
	if _, err := e.c.Sync(ctx, &SyncRequest{Group: g, Generation: leader.Generation, MemberID: leader.MemberID,
		Assignments: map[string][]byte{leader.MemberID: enc(0, 1), other.MemberID: enc(2, 3)}}); err != nil {
		e.t.Fatal(err)
	}
	if r := recv(e.t, sch); r.err != nil {
		e.t.Fatal(r.err)
	}
	return []*classicSim{{leader.MemberID, leader.Generation, map[string][]int32{"a": {0, 1}}},
		{other.MemberID, other.Generation, map[string][]int32{"a": {2, 3}}}}
}

// step runs one heartbeat of classic member s, rejoining and syncing when told to
// (REBALANCE_IN_PROGRESS), and gives up what SyncGroup no longer assigns it.
func (e *testEnv) step(ctx context.Context, g string, s *classicSim) {
	e.t.Helper()
	err := e.c.Heartbeat(&HeartbeatRequest{Group: g, MemberID: s.id, Generation: s.gen})
	if err == nil {
		return
	}
	if !errors.Is(err, ErrRebalanceInProgress) {
		e.t.Fatalf("heartbeat of %s: %v", s.id, err)
	}
	res, err := e.c.Join(ctx, classicJoin(g, s.id, s.owned, "a"))
	if err != nil {
		e.t.Fatalf("rejoin of %s: %v", s.id, err)
	}
	sr, err := e.c.Sync(ctx, &SyncRequest{Group: g, MemberID: s.id, Generation: res.Generation})
	if err != nil {
		e.t.Fatalf("sync of %s: %v", s.id, err)
	}
	s.gen, s.owned = res.Generation, classicAssignment(e.t, sr.Assignment)
}

// TestConsumerUpgradesClassicGroupOnline: a KIP-848 member joining a classic group of
// consumers converts it online (Kafka's convertToConsumerGroup): the classic members keep
// their generation as member epoch and their partitions, are told to rejoin, and the three
// converge on a balanced assignment without any partition owned by two members at once;
// the conversion survives a restart. Without upgrades in the migration policy the
// KIP-848 member gets GROUP_ID_NOT_FOUND.
func TestConsumerUpgradesClassicGroupOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 4)
		e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerMigration = MigrationDowngrade })
		ctx := context.Background()
		e.classicStableGroup(ctx, "g")
		if _, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); !errors.Is(err, ErrGroupIDNotFound) {
			t.Fatalf("upgrade without the policy: %v", err)
		}

		e = newEnv(t, func(o *Options) { o.Topics = tt })
		sims := e.classicStableGroup(ctx, "g")
		gen := sims[0].gen
		r, err := e.c.ConsumerHeartbeat(join("g", "m", "a"))
		if err != nil || r.MemberEpoch != gen+1 || len(r.Assignment[topicID("a")]) != 0 {
			t.Fatalf("KIP-848 member joining the classic group: %+v %v", r, err)
		}
		d := e.c.DescribeConsumerGroups([]string{"g"})[0]
		if d.Err != nil || d.Epoch != gen+1 || len(d.Members) != 3 {
			t.Fatalf("after the upgrade: %+v", d)
		}
		for _, m := range d.Members {
			if m.MemberID != "m" && (!m.Classic || m.MemberEpoch != gen || len(m.Assignment[topicID("a")]) != 2) {
				t.Fatalf("classic member after the upgrade: %+v", m)
			}
		}
		owned848 := r.Assignment[topicID("a")]
		check := func(when string) {
			t.Helper()
			seen := map[int32]string{}
			owners := map[string][]int32{"m": owned848}
			for _, s := range sims {
				owners[s.id] = s.owned["a"]
			}
			for id, ps := range owners {
				for _, p := range ps {
					if o, ok := seen[p]; ok {
						t.Fatalf("%s: partition %d owned by %s and %s", when, p, o, id)
					}
					seen[p] = id
				}
			}
		}
		for round := 0; round < 6; round++ {
			for _, s := range sims {
				e.step(ctx, "g", s)
				check("classic step")
			}
			r, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: r.MemberEpoch,
				Owned: map[assign.TopicID][]int32{topicID("a"): owned848}})
			if err != nil {
				t.Fatal(err)
			}
			if r.Assignment != nil {
				owned848 = r.Assignment[topicID("a")]
			}
			check("KIP-848 heartbeat")
		}
		d = e.c.DescribeConsumerGroups([]string{"g"})[0]
		total := 0
		for _, m := range d.Members {
			n := len(m.Assignment[topicID("a")])
			if m.MemberEpoch != d.Epoch || n < 1 || n > 2 {
				t.Fatalf("not converged: %+v", d)
			}
			total += n
		}
		if d.State != "Stable" || total != 4 || len(owned848) == 0 {
			t.Fatalf("converged to %+v (KIP-848 member owns %v)", d, owned848)
		}
		e.reopen()
		for _, s := range sims {
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: s.id, Generation: s.gen}); err != nil {
				t.Fatalf("classic member after restart: %v", err)
			}
		}
	})
}

// TestConsumerDowngradesOnline: when the last KIP-848 member leaves a consumer group whose
// other members are classic, it becomes a classic group (Kafka's convertToClassicGroup):
// generation the group epoch, the classic member's assignment kept, a rebalance begun that
// the classic member completes by rejoining; the classic group survives a restart.
// Without downgrades in the migration policy the group stays a consumer group.
func TestConsumerDowngradesOnline(t *testing.T) {
	for _, policy := range []MigrationPolicy{MigrationBidirectional, MigrationUpgrade} {
		synctest.Test(t, func(t *testing.T) {
			tt := &testTopics{}
			tt.set("a", 2)
			e := newEnv(t, func(o *Options) { o.Topics = tt; o.ConsumerMigration = policy })
			ctx := context.Background()
			if _, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.Join(ctx, classicJoin("g", "c", nil, "a")); err != nil {
				t.Fatal(err)
			}
			// m gives up a partition, which c gets when it rejoins.
			r, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 1,
				Owned: map[assign.TopicID][]int32{topicID("a"): {0, 1}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err = e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 1, Owned: r.Assignment}); err != nil {
				t.Fatal(err)
			}
			res, err := e.c.Join(ctx, classicJoin("g", "c", nil, "a"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.ConsumerHeartbeat(&ConsumerHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: -1}); err != nil {
				t.Fatal(err)
			}
			if policy == MigrationUpgrade {
				if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; d.Err != nil || len(d.Members) != 1 {
					t.Fatalf("without downgrades: %+v", d)
				}
				return
			}
			if l := e.list(nil, []string{"classic"}); len(l) != 1 || l[0].State != "PreparingRebalance" {
				t.Fatalf("after the downgrade: %+v", l)
			}
			sh, _ := e.c.shardOf("g")
			g := sh.lookup("g")
			g.mu.Lock()
			kept := classicAssignment(t, g.members["c"].assignment)
			g.mu.Unlock()
			if len(kept["a"]) != 1 {
				t.Fatalf("the classic member's assignment after the downgrade: %v", kept)
			}
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "c", Generation: res.Generation}); !errors.Is(err, ErrIllegalGeneration) {
				t.Fatalf("heartbeat with the member epoch before the leave: %v", err)
			}
			jr, err := e.c.Join(ctx, classicJoin("g", "c", map[string][]int32{"a": {0, 1}}, "a"))
			if err != nil || jr.LeaderID != "c" || len(jr.Members) != 1 || jr.Generation <= res.Generation {
				t.Fatalf("classic rejoin after the downgrade: %+v %v", jr, err)
			}
			if _, err := e.c.Sync(ctx, &SyncRequest{Group: "g", MemberID: "c", Generation: jr.Generation,
				Assignments: map[string][]byte{"c": []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			e.reopen()
			if err := e.c.Heartbeat(&HeartbeatRequest{Group: "g", MemberID: "c", Generation: jr.Generation}); err != nil {
				t.Fatalf("classic member after restart: %v", err)
			}
			if l := e.list(nil, []string{"classic"}); len(l) != 1 || l[0].State != "Stable" {
				t.Fatalf("after restart: %+v", l)
			}
		})
	}
}

// TestConsumerUpgradeAnswersPendingJoin: a classic member waiting in JoinGroup (its group
// rebalancing) gets REBALANCE_IN_PROGRESS when a KIP-848 member upgrades the group, and
// its rejoin makes it a classic member of the consumer group.
func TestConsumerUpgradeAnswersPendingJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := &testTopics{}
		tt.set("a", 4)
		tt.set("b", 1)
		e := newEnv(t, func(o *Options) { o.Topics = tt })
		ctx := context.Background()
		sims := e.classicStableGroup(ctx, "g")
		ch := e.joinAsync(ctx, classicJoin("g", sims[0].id, sims[0].owned, "a", "b")) // new subscription: a rebalance
		synctest.Wait()
		mustNotBeReady(t, ch)
		if _, err := e.c.ConsumerHeartbeat(join("g", "m", "a")); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, ch); !errors.Is(r.err, ErrRebalanceInProgress) {
			t.Fatalf("pending join after the upgrade: %+v", r)
		}
		if res, err := e.c.Join(ctx, classicJoin("g", sims[0].id, sims[0].owned, "a", "b")); err != nil || res.LeaderID != "" {
			t.Fatalf("rejoin as a classic member of the consumer group: %+v %v", res, err)
		}
		if d := e.c.DescribeConsumerGroups([]string{"g"})[0]; len(d.Members) != 3 {
			t.Fatalf("members: %+v", d.Members)
		}
	})
}
