package server_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server/servertest"
)

// legacyCommit sends an OffsetCommit of version v for partition 0 of topic, with the
// given commit timestamp (v1).
func legacyCommit(t *testing.T, addr string, v int16, group, topic string, offset, ts int64) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = v, group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset, rp.Timestamp = offset, ts
	md := "md"
	rp.Metadata = &md
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return sendRaw(t, addr, req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func legacyOffsetFetch(t *testing.T, addr string, v int16, group, topic string) kmsg.OffsetFetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group = v, group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	return sendRaw(t, addr, req).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]
}

// TestOffsetCommitLegacy checks OffsetCommit v0 and v1 and OffsetFetch v0: commits are
// stored in __consumer_offsets and read back by every OffsetFetch version; v1's commit
// timestamp is the stored commit time (-1: now), as Kafka 2.x stores it; the records are
// in the formats Burrow 1.2.1 decodes (offset key v0/v1, offset value v0, v1 or v3). A v0
// commit to a group with members is refused UNKNOWN_MEMBER_ID (Kafka kept v0 commits in
// ZooKeeper, apart from the group).
func TestOffsetCommitLegacy(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	addr := s.Addr().String()
	createTopic(t, s, "t", 1, nil)
	const clientTS = 1_600_000_000_000
	before := time.Now().UnixMilli()
	for _, c := range []struct {
		v      int16
		group  string
		offset int64
		ts     int64
	}{
		{0, "g0", 10, 0},
		{1, "g1", 11, clientTS},
		{1, "g1now", 12, -1},
	} {
		if code := legacyCommit(t, addr, c.v, c.group, "t", c.offset, c.ts); code != 0 {
			t.Fatalf("OffsetCommit v%d: %v", c.v, kerr.ErrorForCode(code))
		}
		for fv := int16(0); fv <= 5; fv++ {
			p := legacyOffsetFetch(t, addr, fv, c.group, "t")
			if p.ErrorCode != 0 || p.Offset != c.offset || p.Metadata == nil || *p.Metadata != "md" {
				t.Fatalf("OffsetFetch v%d of %s: %+v", fv, c.group, p)
			}
		}
	}
	if p := legacyOffsetFetch(t, addr, 0, "none", "t"); p.ErrorCode != 0 || p.Offset != -1 {
		t.Fatalf("OffsetFetch v0 without commit: %+v", p)
	}

	// What a tool reading __consumer_offsets sees.
	cl := newClient(t, s, kgo.ConsumeTopics("__consumer_offsets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	times := map[string]int64{}
	for len(times) < 3 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil || k.Version > 1 {
				t.Fatalf("offset key %x: version %d, %v", r.Key, k.Version, err)
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil || (v.Version != 0 && v.Version != 1 && v.Version != 3) {
				t.Fatalf("offset value %x: version %d (Burrow 1.2.1 reads 0, 1, 3), %v", r.Value, v.Version, err)
			}
			times[k.Group] = v.CommitTimestamp
		}
	}
	if times["g1"] != clientTS {
		t.Errorf("v1 commit stored at %d, want the client's %d", times["g1"], clientTS)
	}
	for _, g := range []string{"g0", "g1now"} {
		if times[g] < before || times[g] > time.Now().UnixMilli() {
			t.Errorf("%s commit stored at %d, want the time of the commit", g, times[g])
		}
	}

	// A v0 commit to a group with members.
	newClient(t, s, kgo.ConsumerGroup("active"), kgo.ConsumeTopics("t")) // joins at once
	waitFor(t, "group active stable", 20*time.Second, func() bool {
		state, _ := describe(t, addr, "active")
		return state == "Stable"
	})
	if code := legacyCommit(t, addr, 0, "active", "t", 1, 0); code != kerr.UnknownMemberID.Code {
		t.Fatalf("v0 commit to an active group: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}
}
