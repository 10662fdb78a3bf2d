package server_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// describeShareOffset returns the start offset and lag kadm reports for group on
// topic's partition 0 (every partition the group has state for: Topics null).
func describeShareOffset(t *testing.T, adm *kadm.Client, group, topic string) (start, lag int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := adm.DescribeShareGroupOffsets(ctx, group)
	if err != nil || d[group].Err != nil {
		t.Fatalf("describe share group offsets: %v %v", err, d[group].Err)
	}
	o, ok := d[group].Offsets[topic][0]
	if !ok {
		return -1, -1
	}
	if o.Err != nil {
		t.Fatalf("describe %s/0: %v", topic, o.Err)
	}
	return o.StartOffset, o.Lag
}

// TestShareGroupOffsetsAdmin: DescribeShareGroupOffsets, AlterShareGroupOffsets and
// DeleteShareGroupOffsets through kadm with franz-go's share consumer: the start offset
// and lag of a group in use; alter and delete refused while it has a member; an altered
// start offset survives a restart and the next member starts there (in-flight state and
// delivery counts cleared); after a delete it starts from share.auto.offset.reset.
func TestShareGroupOffsetsAdmin(t *testing.T) {
	dir := t.TempDir()
	opts := &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(30 * time.Second),
		Logger: slog.New(slog.DiscardHandler)}
	s, err := server.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, s, "ao", 1, nil)
	produceTo(t, newClient(t, s), "ao", 0, 20)
	adm := kadm.NewClient(newClient(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Accept 0-9, reject 12-13, keep 10-11 and 14-19 acquired.
	cl := shareConsumer(t, s, "sg", "ao")
	consumeShare(t, cl, 20, 5*time.Second, func(r *kgo.Record) {
		switch i, _ := strconv.Atoi(string(r.Value)); {
		case i < 10:
			r.Ack(kgo.AckAccept)
		case i == 12 || i == 13:
			r.Ack(kgo.AckReject)
		default:
			r.Ack(kgo.AckRenew)
		}
	})
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	if start, lag := describeShareOffset(t, adm, "sg", "ao"); start != 10 || lag != 8 {
		t.Fatalf("in use: start offset %d lag %d, want 10 and 8 (20 - 10 - 2 rejected above the start)", start, lag)
	}
	to := kadm.Offsets{}
	to.AddOffset("ao", 0, 5, -1)
	if _, err := adm.AlterShareGroupOffsets(ctx, "sg", to); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("alter with a member: %v", err)
	}
	if _, err := adm.DeleteShareGroupOffsets(ctx, "sg", "ao"); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("delete with a member: %v", err)
	}
	cl.Close() // leaves: 10-11 and 14-19 released

	res, err := adm.AlterShareGroupOffsets(ctx, "sg", to)
	if err != nil || res.Error() != nil {
		t.Fatalf("alter: %v %v", err, res)
	}
	if start, lag := describeShareOffset(t, adm, "sg", "ao"); start != 5 || lag != 15 {
		t.Fatalf("altered: start offset %d lag %d, want 5 and 15", start, lag)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s = servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(30 * time.Second)})
	adm = kadm.NewClient(newClient(t, s))
	if start, _ := describeShareOffset(t, adm, "sg", "ao"); start != 5 {
		t.Fatalf("after a restart: start offset %d, want 5", start)
	}
	// With no member since the restart, sg exists (Empty, from its stored state) and is
	// no classic group's.
	lg := kmsg.NewPtrListGroupsRequest()
	lg.SetVersion(5)
	if gs := wireRequest(t, s, lg).(*kmsg.ListGroupsResponse).Groups; len(gs) != 1 || gs[0].Group != "sg" || gs[0].GroupType != "share" || gs[0].GroupState != "Empty" {
		t.Fatalf("after a restart listed %+v, want sg, share, Empty", gs)
	}
	sgd := kmsg.NewPtrShareGroupDescribeRequest()
	sgd.GroupIDs = []string{"sg"}
	if g := wireRequest(t, s, sgd).(*kmsg.ShareGroupDescribeResponse).Groups[0]; g.ErrorCode != 0 || g.GroupState != "Empty" {
		t.Fatalf("after a restart described %+v", g)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(5)
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "sg", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	wantCode(t, "join after a restart", wireRequest(t, s, join).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	cl = shareConsumer(t, s, "sg", "ao")
	seen := consumeShare(t, cl, 15, 10*time.Second, nil)
	cl.Close()
	for i := range 20 {
		counts, ok := seen[strconv.Itoa(i)]
		if ok != (i >= 5) || ok && (len(counts) != 1 || counts[0] != 1) {
			t.Fatalf("after the alteration record %d delivered %v (seen %v), want once from offset 5 with delivery count 1", i, counts, seen)
		}
	}

	dres, err := adm.DeleteShareGroupOffsets(ctx, "sg", "ao")
	if err != nil || dres.Error() != nil {
		t.Fatalf("delete: %v %v", err, dres)
	}
	if _, ok := dres.Lookup("ao"); !ok {
		t.Fatalf("delete answered %v, want a row for ao", dres)
	}
	if start, _ := describeShareOffset(t, adm, "sg", "ao"); start != -1 {
		t.Fatalf("after the delete: start offset %d, want none", start)
	}
	cl = shareConsumer(t, s, "sg", "ao") // share.auto.offset.reset is earliest here
	defer cl.Close()
	if seen := consumeShare(t, cl, 20, 10*time.Second, nil); len(seen) != 20 {
		t.Fatalf("after the delete %d records delivered, want all 20 again", len(seen))
	}
}

// TestShareGroupOffsetsErrors: Kafka's answers for bad requests of
// DescribeShareGroupOffsets, AlterShareGroupOffsets and DeleteShareGroupOffsets.
func TestShareGroupOffsetsErrors(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "eo", 2, nil)
	cl := newClient(t, s)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commit := kadm.Offsets{}
	commit.AddOffset("eo", 0, 0, -1)
	if _, err := adm.CommitOffsets(ctx, "classic", commit); err != nil {
		t.Fatal(err)
	}

	alter := func(group, topic string, partition int32, start int64) *kmsg.AlterShareGroupOffsetsResponse {
		req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
		req.GroupID = group
		rt := kmsg.NewAlterShareGroupOffsetsRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: partition, StartOffset: start}}
		req.Topics = append(req.Topics, rt)
		return wireRequest(t, s, req).(*kmsg.AlterShareGroupOffsetsResponse)
	}
	partCode := func(r *kmsg.AlterShareGroupOffsetsResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode }
	del := func(group string, topics ...string) *kmsg.DeleteShareGroupOffsetsResponse {
		req := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
		req.GroupID = group
		for _, tp := range topics {
			req.Topics = append(req.Topics, kmsg.DeleteShareGroupOffsetsRequestTopic{Topic: tp})
		}
		return wireRequest(t, s, req).(*kmsg.DeleteShareGroupOffsetsResponse)
	}

	wantCode(t, "alter a classic group", alter("classic", "eo", 0, 1).ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "delete a classic group's share offsets", del("classic", "eo").ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "delete offsets of no group", del("nosuch", "eo").ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "alter an unknown topic", partCode(alter("g", "nosuch", 0, 1)), kerr.UnknownTopicOrPartition)
	wantCode(t, "alter an unknown partition", partCode(alter("g", "eo", 2, 1)), kerr.UnknownTopicOrPartition)
	wantCode(t, "alter to a negative offset", partCode(alter("g", "eo", 1, -1)), kerr.InvalidRequest)
	// The alterations above created the (empty) share group g: ListGroups shows it.
	lg := kmsg.NewPtrListGroupsRequest()
	lg.SetVersion(5)
	lg.TypesFilter = []string{"share"}
	if gs := wireRequest(t, s, lg).(*kmsg.ListGroupsResponse).Groups; len(gs) != 1 || gs[0].Group != "g" || gs[0].GroupState != "Empty" {
		t.Fatalf("share groups listed %+v, want g Empty", gs)
	}
	wantCode(t, "alter", partCode(alter("g", "eo", 1, 7)), nil)

	d := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	rg.GroupID = "g"
	rg.Topics = []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: "eo", Partitions: []int32{0, 1}}, {Topic: "nosuch", Partitions: []int32{0}}}
	d.Groups = append(d.Groups, rg)
	dr := wireRequest(t, s, d).(*kmsg.DescribeShareGroupOffsetsResponse).Groups[0]
	if dr.ErrorCode != 0 || len(dr.Topics) != 2 {
		t.Fatalf("describe: %+v", dr)
	}
	got := map[string]int64{}
	for _, tp := range dr.Topics {
		for _, p := range tp.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("describe %s/%d: error %d", tp.Topic, p.Partition, p.ErrorCode)
			}
			got[tp.Topic+"/"+strconv.Itoa(int(p.Partition))] = p.StartOffset
		}
	}
	if want := map[string]int64{"eo/0": -1, "eo/1": 7, "nosuch/0": -1}; len(got) != 3 || got["eo/0"] != want["eo/0"] || got["eo/1"] != want["eo/1"] || got["nosuch/0"] != want["nosuch/0"] {
		t.Fatalf("described start offsets %v, want %v", got, want)
	}

	dl := del("g", "eo", "nosuch")
	if dl.ErrorCode != 0 || len(dl.Topics) != 2 || dl.Topics[0].Topic != "eo" || dl.Topics[0].ErrorCode != 0 || dl.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete answered %+v", dl)
	}
	if dl := del("g", "eo"); dl.ErrorCode != 0 || len(dl.Topics) != 0 {
		t.Fatalf("deleting again (no state left) answered %+v, want no row", dl)
	}
}

// TestShareGroupTypeConflicts: a share group's id is no other group's, as Kafka answers:
// JoinGroup INCONSISTENT_GROUP_PROTOCOL, a consumer group joining GROUP_ID_NOT_FOUND,
// OffsetCommit GROUP_ID_NOT_FOUND, ConsumerGroupDescribe GROUP_ID_NOT_FOUND,
// DescribeGroups (classic groups only) Dead;
// so is an empty share group an alteration created.
func TestShareGroupTypeConflicts(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "tc", 1, nil)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "sg", "m1", []string{"tc"}
	wantCode(t, "share heartbeat", wireRequest(t, s, hb).(*kmsg.ShareGroupHeartbeatResponse).ErrorCode, nil)
	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = "stored"
	alter.Topics = []kmsg.AlterShareGroupOffsetsRequestTopic{{Topic: "tc", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0, StartOffset: 0}}}}
	wantCode(t, "alter", wireRequest(t, s, alter).(*kmsg.AlterShareGroupOffsetsResponse).Topics[0].Partitions[0].ErrorCode, nil)

	for _, id := range []string{"sg", "stored"} {
		join := kmsg.NewPtrJoinGroupRequest()
		join.SetVersion(5)
		join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = id, "consumer", 10000, 10000
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		jr := wireRequest(t, s, join).(*kmsg.JoinGroupResponse)
		wantCode(t, "join "+id, jr.ErrorCode, kerr.InconsistentGroupProtocol)

		chb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		chb.Group, chb.MemberID, chb.RebalanceTimeoutMillis, chb.SubscribedTopicNames = id, "c1", 10000, []string{"tc"}
		chb.SetVersion(1)
		wantCode(t, "consumer heartbeat "+id, wireRequest(t, s, chb).(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode, kerr.GroupIDNotFound)

		cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
		cgd.Groups = []string{id}
		wantCode(t, "consumer group describe "+id, wireRequest(t, s, cgd).(*kmsg.ConsumerGroupDescribeResponse).Groups[0].ErrorCode, kerr.GroupIDNotFound)

		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.SetVersion(8)
		oc.Group, oc.Generation = id, -1
		oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "tc", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
		wantCode(t, "offset commit "+id, wireRequest(t, s, oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.GroupIDNotFound)

		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.SetVersion(5)
		dg.Groups = []string{id}
		if g := wireRequest(t, s, dg).(*kmsg.DescribeGroupsResponse).Groups[0]; g.ErrorCode != 0 || g.State != "Dead" || len(g.Members) != 0 {
			t.Errorf("describe groups %s: %+v, want Dead as Kafka (not a classic group)", id, g)
		}
	}
	// The share group is untouched: its member still heartbeats.
	hb.MemberEpoch = 1
	wantCode(t, "share heartbeat after the conflicts", wireRequest(t, s, hb).(*kmsg.ShareGroupHeartbeatResponse).ErrorCode, nil)
}
