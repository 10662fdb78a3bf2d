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
