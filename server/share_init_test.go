package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/share"
)

// TestShareGroupInitializedOnAssignment: the group coordinator initializes a topic's
// share-partitions when it first assigns them (as Kafka's), so right after a member's
// assignment, before any ShareFetch, DescribeShareGroupOffsets of the group lists them,
// with start offset and lag -1 (the partition leader chooses the start at its first
// read); ReadShareGroupState answers the initialized state; once a member fetched, the
// start offset is the one chosen.
func TestShareGroupInitializedOnAssignment(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	cl := newClient(t, s)
	send := sender(t, cl)
	createTopic(t, s, "ia", 2, nil)
	produceTo(t, cl, "ia", 0, 3)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "iag", "a", []string{"ia"}
	r := send(hb).(*kmsg.ShareGroupHeartbeatResponse)
	if r.ErrorCode != 0 || r.Assignment == nil || len(r.Assignment.TopicPartitions) != 1 || len(r.Assignment.TopicPartitions[0].Partitions) != 2 {
		t.Fatalf("join: %+v", r)
	}
	tid := r.Assignment.TopicPartitions[0].TopicID
	describe := func() []kmsg.DescribeShareGroupOffsetsResponseGroupTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: "iag"}} // every topic
		resp := send(req).(*kmsg.DescribeShareGroupOffsetsResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 || resp.Groups[0].Topics[0].Topic != "ia" {
			t.Fatalf("describe offsets: %+v", resp)
		}
		return resp.Groups[0].Topics[0].Partitions
	}
	ps := describe()
	if len(ps) != 2 {
		t.Fatalf("described %+v, want both partitions", ps)
	}
	for _, p := range ps {
		if p.ErrorCode != 0 || p.StartOffset != -1 || p.Lag != -1 {
			t.Fatalf("partition %d right after the assignment: %+v, want start offset and lag -1", p.Partition, p)
		}
	}
	read := kmsg.NewPtrReadShareGroupStateRequest()
	read.GroupID = "iag"
	read.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: tid, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 0, LeaderEpoch: -1}}}}
	if p := send(read).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.StartOffset != -1 {
		t.Fatalf("read of the initialized state: %+v", p)
	}

	// The first fetch chooses the start (earliest here): 0.
	fetch := kmsg.NewPtrShareFetchRequest()
	fetch.GroupID, fetch.MemberID, fetch.ShareSessionEpoch = kmsg.StringPtr("iag"), kmsg.StringPtr("a"), 0
	fetch.MaxRecords, fetch.BatchSize, fetch.MaxWaitMillis = 10, 10, 0
	ft := kmsg.NewShareFetchRequestTopic()
	ft.TopicID = tid
	for p := range int32(2) {
		fp := kmsg.NewShareFetchRequestTopicPartition()
		fp.Partition = p
		ft.Partitions = append(ft.Partitions, fp)
	}
	fetch.Topics = append(fetch.Topics, ft)
	if resp := send(fetch).(*kmsg.ShareFetchResponse); resp.ErrorCode != 0 {
		t.Fatalf("fetch: %+v", resp)
	}
	for _, p := range describe() {
		if p.ErrorCode != 0 || p.StartOffset != 0 {
			t.Fatalf("partition %d after the first fetch: %+v, want start offset 0", p.Partition, p)
		}
	}
}

// TestShareStateInitializedLeaderEpoch: a share-partition initialized by the group
// coordinator holds the leader epoch of the first leader that reads it, stored: after a
// restart (the share coordinator replays its partition, as a new coordinator would) a
// former leader's first write is still FENCED_LEADER_EPOCH. (Without an initialized
// state, such a read stored no epoch.)
func TestShareStateInitializedLeaderEpoch(t *testing.T) {
	opts := restartableShareBroker(t.TempDir())
	s, err := server.Start(opts())
	if err != nil {
		t.Fatal(err)
	}
	id := [16]byte{9, 9}
	init := kmsg.NewPtrInitializeShareGroupStateRequest()
	init.GroupID = "g"
	init.Topics = []kmsg.InitializeShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.InitializeShareGroupStateRequestTopicPartition{{Partition: 0, StateEpoch: 1, StartOffset: -1}}}}
	wantCode(t, "initialize", wireRequest(t, s, init).(*kmsg.InitializeShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode, nil)
	read := kmsg.NewPtrReadShareGroupStateRequest()
	read.GroupID = "g"
	read.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 0, LeaderEpoch: 2}}}}
	if p := wireRequest(t, s, read).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.StartOffset != -1 {
		t.Fatalf("the new leader's read: %+v", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = servertest.Start(t, opts())
	write := func(leaderEpoch int32) int16 {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = "g"
		req.Topics = []kmsg.WriteShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.WriteShareGroupStateRequestTopicPartition{{Partition: 0, LeaderEpoch: leaderEpoch, StartOffset: 0}}}}
		return wireRequest(t, s, req).(*kmsg.WriteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "the former leader's first write after the restart", write(1), kerr.FencedLeaderEpoch)
	wantCode(t, "the new leader's first write", write(2), nil)
}

// TestShareGroupLatestStartsAtFirstFetch: with share.auto.offset.reset latest, a
// share-partition starts at the end of the partition when its leader first reads it (a
// member's first ShareFetch), not when the group coordinator initialized it at the
// assignment: as Kafka's (its group coordinator initializes at start offset -1 and
// SharePartition chooses the start at its first read), records produced between the
// assignment and the first fetch are not delivered; those produced after it are.
func TestShareGroupLatestStartsAtFirstFetch(t *testing.T) {
	cfg := shareConfig(30 * time.Second)
	c := cfg.ShareConfig("")
	c.AutoOffsetReset = "latest"
	s := servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: shareSettings(), ShareConfigs: share.StaticConfigs(c)})
	cl := newClient(t, s)
	send := sender(t, cl)
	createTopic(t, s, "lt", 1, nil)
	produceTo(t, cl, "lt", 0, 2)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "ltg", "a", []string{"lt"}
	r := send(hb).(*kmsg.ShareGroupHeartbeatResponse)
	if r.ErrorCode != 0 || r.Assignment == nil || len(r.Assignment.TopicPartitions) != 1 {
		t.Fatalf("join: %+v", r)
	}
	tid := r.Assignment.TopicPartitions[0].TopicID
	produceTo(t, cl, "lt", 2, 2) // after the assignment, before the first fetch
	epoch := int32(0)
	fetch := func() []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
		t.Helper()
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr("ltg"), kmsg.StringPtr("a"), epoch
		req.MaxRecords, req.BatchSize, req.MaxWaitMillis = 10, 10, 0
		if epoch == 0 {
			ft := kmsg.NewShareFetchRequestTopic()
			ft.TopicID = tid
			ft.Partitions = []kmsg.ShareFetchRequestTopicPartition{kmsg.NewShareFetchRequestTopicPartition()}
			req.Topics = append(req.Topics, ft)
		}
		epoch++
		resp := send(req).(*kmsg.ShareFetchResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("fetch: %+v", resp)
		}
		var got []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("fetch of lt-%d: %+v", p.Partition, p)
				}
				got = append(got, p.AcquiredRecords...)
			}
		}
		return got
	}
	if got := fetch(); len(got) != 0 {
		t.Fatalf("the first fetch acquired %+v, want nothing (latest: the end at the first fetch)", got)
	}
	produceTo(t, cl, "lt", 4, 1)
	if got := fetch(); len(got) != 1 || got[0].FirstOffset != 4 || got[0].LastOffset != 4 {
		t.Fatalf("the second fetch acquired %+v, want offset 4", got)
	}
}
