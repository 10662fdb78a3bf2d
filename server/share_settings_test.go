package server_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// startShareSettingsBroker serves share groups with their settings from the group
// configs (no Options.ShareConfigs), with bounds that let tests use short locks and
// heartbeats.
func startShareSettingsBroker(t *testing.T) *server.Server {
	t.Helper()
	st := shareSettings()
	st["group.share.min.record.lock.duration.ms"] = "1000"
	st["group.share.min.heartbeat.interval.ms"] = "100"
	st["group.share.heartbeat.interval.ms"] = "200"
	return servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: st})
}

// setGroupConfigs sets group's settings with IncrementalAlterConfigs (resource GROUP).
func setGroupConfigs(t *testing.T, cl *kgo.Client, group string, kv ...string) {
	t.Helper()
	var cfgs []kmsg.IncrementalAlterConfigsRequestResourceConfig
	for i := 0; i < len(kv); i += 2 {
		cfgs = append(cfgs, setCfg(kv[i], kv[i+1]))
	}
	if r := alterGroupConfigs(t, cl, group, false, cfgs...); r.ErrorCode != 0 {
		t.Fatalf("setting %v on %s: %v", kv, group, kerr.ErrorForCode(r.ErrorCode))
	}
}

// TestShareGroupAutoOffsetReset: share.auto.offset.reset set on a group takes effect:
// latest (the default) starts past the existing records, earliest at the first,
// by_duration:PT1H at the first record at most an hour old.
func TestShareGroupAutoOffsetReset(t *testing.T) {
	s := startShareSettingsBroker(t)
	createTopic(t, s, "ar", 1, nil)
	cl := newClient(t, s)
	old := time.Now().Add(-2 * time.Hour)
	var recs []*kgo.Record
	for i := range 5 {
		r := &kgo.Record{Topic: "ar", Value: []byte(strconv.Itoa(i))}
		if i < 3 {
			r.Timestamp = old
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	setGroupConfigs(t, cl, "earliest", "share.auto.offset.reset", "earliest")
	setGroupConfigs(t, cl, "recent", "share.auto.offset.reset", "by_duration:PT1H")
	for group, want := range map[string][]string{"latest": nil, "earliest": {"0", "1", "2", "3", "4"}, "recent": {"3", "4"}} {
		c := shareConsumer(t, s, group, "ar")
		got := slices.Sorted(maps.Keys(consumeShare(t, c, len(want)+1, 2*time.Second, nil))) // wait to see no other comes
		c.Close()
		if !slices.Equal(got, want) {
			t.Errorf("group %s (share.auto.offset.reset) got %v, want %v", group, got, want)
		}
	}
}

// TestShareGroupLockDurationSetting: a group's share.record.lock.duration.ms takes
// effect: records a member holds without acknowledging go to another member after 1s
// (the default, 30s, would outlast the test's wait).
func TestShareGroupLockDurationSetting(t *testing.T) {
	s := startShareSettingsBroker(t)
	createTopic(t, s, "ld", 1, nil)
	cl := newClient(t, s)
	produceTo(t, cl, "ld", 0, 5)
	setGroupConfigs(t, cl, "sg", "share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "1000")

	stuck := shareConsumer(t, s, "sg", "ld")
	defer stuck.Close()
	if seen := consumeShare(t, stuck, 5, 5*time.Second, func(*kgo.Record) {}); len(seen) != 5 {
		t.Fatalf("first member got %d records", len(seen))
	}
	other := shareConsumer(t, s, "sg", "ld")
	defer other.Close()
	seen := consumeShare(t, other, 5, 8*time.Second, nil)
	if len(seen) != 5 {
		t.Fatalf("after 1s locks expired the other member got %d records, want 5", len(seen))
	}
}

// TestShareGroupDeliveryLimitSetting: a group's share.delivery.count.limit takes effect:
// with 2, a record released every time is delivered twice, then archived.
func TestShareGroupDeliveryLimitSetting(t *testing.T) {
	s := startShareSettingsBroker(t)
	createTopic(t, s, "dl", 1, nil)
	cl := newClient(t, s)
	produceTo(t, cl, "dl", 0, 3)
	setGroupConfigs(t, cl, "sg", "share.auto.offset.reset", "earliest", "share.delivery.count.limit", "2")

	c := shareConsumer(t, s, "sg", "dl")
	defer c.Close()
	// 6 deliveries expected; wait for a 7th to see that none comes.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	seen := map[string][]int32{}
	for ctx.Err() == nil {
		c.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)] = append(seen[string(r.Value)], r.DeliveryCount())
			r.Ack(kgo.AckRelease)
		})
	}
	for i := range 3 {
		if dcs := seen[strconv.Itoa(i)]; !slices.Equal(dcs, []int32{1, 2}) {
			t.Errorf("record %d delivered with counts %v, want [1 2] (share.delivery.count.limit=2)", i, dcs)
		}
	}
}

// TestShareGroupDeadLetters: with a dead-letter topic (KIP-1191), the records a franz-go
// share consumer rejects and those released until the delivery limit land there, one
// each, with Kafka's headers, on source partition mod the topic's partitions; the key
// and value only when the group copies records; accepted records never.
func TestShareGroupDeadLetters(t *testing.T) {
	s := startShareSettingsBroker(t)
	createTopic(t, s, "work", 3, nil)
	enable := map[string]*string{"errors.deadletterqueue.group.enable": kmsg.StringPtr("true")}
	createTopic(t, s, "dlq.plain", 2, enable)
	createTopic(t, s, "dlq.copy", 2, enable)
	cl := newClient(t, s)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: "work", Partition: int32(i % 3), Key: []byte("k" + strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := newClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for group, dlqTopic := range map[string]string{"plain": "dlq.plain", "copy": "dlq.copy"} {
		setGroupConfigs(t, cl, group, "share.auto.offset.reset", "earliest", "share.delivery.count.limit", "2",
			"errors.deadletterqueue.topic.name", dlqTopic, "errors.deadletterqueue.copy.record.enable", strconv.FormatBool(group == "copy"))
		c := shareConsumer(t, s, group, "work")
		// 0-9 rejected, 10-19 released every time (archived at the second delivery), the
		// rest accepted.
		consumeShare(t, c, 40, 10*time.Second, func(r *kgo.Record) {
			switch i, _ := strconv.Atoi(string(r.Value)); {
			case i < 10:
				r.Ack(kgo.AckReject)
			case i < 20:
				r.Ack(kgo.AckRelease)
			default:
				r.Ack(kgo.AckAccept)
			}
		})
		c.Close()

		dead := map[string]*kgo.Record{}
		rd := newClient(t, s, kgo.ConsumeTopics(dlqTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for len(dead) < 20 && ctx.Err() == nil {
			rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				h := map[string]string{}
				for _, x := range r.Headers {
					h[x.Key] = string(x.Value)
				}
				if _, dup := dead[h["__dlq.errors.offset"]+"@"+h["__dlq.errors.partition"]]; dup {
					t.Errorf("%s: dead letter %v twice", group, h)
				}
				dead[h["__dlq.errors.offset"]+"@"+h["__dlq.errors.partition"]] = r
			})
		}
		cancel()
		if len(dead) != 20 {
			t.Fatalf("%s: %d dead letters in %s, want 20", group, len(dead), dlqTopic)
		}
		for i := range 30 {
			src := recs[i]
			r, ok := dead[strconv.FormatInt(src.Offset, 10)+"@"+strconv.Itoa(int(src.Partition))]
			if i >= 20 {
				if ok {
					t.Errorf("%s: accepted record %d in the dead-letter topic", group, i)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: record %d (partition %d offset %d) not in the dead-letter topic", group, i, src.Partition, src.Offset)
				continue
			}
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			want := map[string]string{"__dlq.errors.topic": "work", "__dlq.errors.partition": strconv.Itoa(int(src.Partition)),
				"__dlq.errors.offset": strconv.FormatInt(src.Offset, 10), "__dlq.errors.group": group,
				"__dlq.errors.delivery.count": "1", "__dlq.errors.message": "Offset rejected by client."}
			if i >= 10 {
				want["__dlq.errors.delivery.count"], want["__dlq.errors.message"] = "2", "Offset delivery count exceeded the threshold."
			}
			if !maps.Equal(h, want) {
				t.Errorf("%s: record %d: headers %v, want %v", group, i, h, want)
			}
			if r.Partition != src.Partition%2 {
				t.Errorf("%s: record %d (partition %d) dead-lettered to partition %d", group, i, src.Partition, r.Partition)
			}
			wantKey, wantValue := []byte(nil), []byte(nil)
			if group == "copy" {
				wantKey, wantValue = src.Key, src.Value
			}
			if !slices.Equal(r.Key, wantKey) || !slices.Equal(r.Value, wantValue) || (group == "plain") != (r.Key == nil && r.Value == nil) {
				t.Errorf("%s: record %d: key %q value %q, want %q %q", group, i, r.Key, r.Value, wantKey, wantValue)
			}
		}
	}
}

// TestShareGroupMaxSizeSetting: group.share.max.size takes effect: with 1, a second member
// joining gets GROUP_MAX_SIZE_REACHED.
func TestShareGroupMaxSizeSetting(t *testing.T) {
	st := shareSettings()
	st["group.share.max.size"] = "1"
	s := servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Settings: st})
	createTopic(t, s, "ms", 1, nil)
	hb := func(member string) int16 {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.SetVersion(1)
		req.GroupID, req.MemberID, req.SubscribedTopicNames = "g", member, []string{"ms"}
		return wireRequest(t, s, req).(*kmsg.ShareGroupHeartbeatResponse).ErrorCode
	}
	if code := hb("a"); code != 0 {
		t.Fatalf("first member: %v", kerr.ErrorForCode(code))
	}
	if code := hb("b"); code != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("second member of a group of at most 1: %v, want GROUP_MAX_SIZE_REACHED", kerr.ErrorForCode(code))
	}
}

// TestShareGroupRenewDisabled: with share.renew.acknowledge.enable=false a partition's
// acknowledgements that include RENEW are refused with INVALID_RECORD_STATE (Kafka's
// answer) and none is applied; a group with the default renews.
func TestShareGroupRenewDisabled(t *testing.T) {
	s := startShareSettingsBroker(t)
	createTopic(t, s, "rn", 1, nil)
	cl := newClient(t, s)
	produceTo(t, cl, "rn", 0, 2)
	setGroupConfigs(t, cl, "off", "share.auto.offset.reset", "earliest", "share.renew.acknowledge.enable", "false")
	setGroupConfigs(t, cl, "on", "share.auto.offset.reset", "earliest")
	tid := topicID(t, cl, "rn")
	send := sender(t, cl)
	for group, want := range map[string]*kerr.Error{"off": kerr.InvalidRecordState, "on": nil} {
		hb := kmsg.NewPtrShareGroupHeartbeatRequest()
		hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = group, "m", []string{"rn"}
		wantCode(t, group+" join", send(hb).(*kmsg.ShareGroupHeartbeatResponse).ErrorCode, nil)
		g, m := group, "m"
		fr := kmsg.NewPtrShareFetchRequest()
		fr.SetVersion(2)
		fr.GroupID, fr.MemberID, fr.MaxRecords, fr.MaxBytes = &g, &m, 10, 1<<20
		fr.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: tid, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
		if r := send(fr).(*kmsg.ShareFetchResponse); r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions[0].AcquiredRecords) != 1 {
			t.Fatalf("%s fetch: %+v", group, r)
		}
		ack := func(isRenew bool, typ int8) int16 {
			ar := kmsg.NewPtrShareAcknowledgeRequest()
			ar.SetVersion(2)
			ar.GroupID, ar.MemberID, ar.ShareSessionEpoch, ar.IsRenewAck = &g, &m, 1, isRenew
			if !isRenew {
				ar.ShareSessionEpoch = 2
			}
			ar.Topics = []kmsg.ShareAcknowledgeRequestTopic{{TopicID: tid, Partitions: []kmsg.ShareAcknowledgeRequestTopicPartition{{Partition: 0,
				AcknowledgementBatches: []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{{FirstOffset: 0, LastOffset: 1, AcknowledgeTypes: []int8{1, typ}}}}}}}
			r := send(ar).(*kmsg.ShareAcknowledgeResponse)
			if r.ErrorCode != 0 {
				t.Fatalf("%s acknowledge: %v", group, kerr.ErrorForCode(r.ErrorCode))
			}
			return r.Topics[0].Partitions[0].ErrorCode
		}
		wantCode(t, group+": accept 0 and renew 1", ack(true, 4), want)
		if want != nil { // nothing applied: both still held, accepted now
			wantCode(t, group+": accept both after the refusal", ack(false, 1), nil)
		}
	}
}
