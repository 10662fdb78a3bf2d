package server_test

import (
	"context"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/share"
)

// shareSettings serve share groups (group.coordinator.rebalance.protocols lists share)
// with small internal topics.
func shareSettings() map[string]string {
	s := maps.Clone(groupSettings)
	s["group.coordinator.rebalance.protocols"] = "classic,consumer,share"
	s["share.coordinator.state.topic.num.partitions"] = "3"
	return s
}

// shareConfig is the share groups' settings of these tests: from the earliest offset,
// with locks of lock.
func shareConfig(lock time.Duration) share.StaticConfigs {
	c := share.DefaultConfig()
	c.AutoOffsetReset = "earliest"
	c.RecordLockDuration = lock
	c.HeartbeatInterval = 200 * time.Millisecond
	return share.StaticConfigs(c)
}

func startShareBroker(t *testing.T, dir string, lock time.Duration) *server.Server {
	t.Helper()
	return servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(lock)})
}

// restartableShareBroker returns the options of a share broker on dir, a new value each
// call (a server started again on dir replays what the first stored).
func restartableShareBroker(dir string) func() *server.Options {
	return func() *server.Options {
		return &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(30 * time.Second),
			Logger: slog.New(slog.DiscardHandler)}
	}
}

func produceTo(t testing.TB, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func shareConsumer(t *testing.T, s *server.Server, group, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Addr().String()), kgo.ConsumeTopics(topic), kgo.ShareGroup(group),
		kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// sender sends requests through cl's connection to broker 0 (one connection: a share
// session closes with its connection), failing t on a transport error.
func sender(t *testing.T, cl *kgo.Client) func(kmsg.Request) kmsg.Response {
	return func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Broker(0).Request(testCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
}

// consumeShare polls cl until want records arrived or the deadline, handing each to ack
// (nil: accepted; a record not acknowledged when the client closes is released), and
// returns the values seen with their delivery counts.
func consumeShare(t *testing.T, cl *kgo.Client, want int, d time.Duration, ack func(*kgo.Record)) map[string][]int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	seen := map[string][]int32{}
	n := 0
	for n < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded && e.Err != context.Canceled {
				t.Errorf("fetch error: %v", e)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)] = append(seen[string(r.Value)], r.DeliveryCount())
			n++
			if ack == nil {
				r.Ack(kgo.AckAccept)
			} else {
				ack(r)
			}
		})
	}
	return seen
}

// TestShareGroupsDefault: share groups are served by default (strata.share.version=1, as
// Kafka 4.2's share.version on a new cluster): their APIs advertised with kfake's
// versions (what franz-go tests against) and share.version finalized at 1; with
// strata.share.version=0 they are not advertised and answer UNSUPPORTED_VERSION, unless
// group.coordinator.rebalance.protocols lists share (Kafka 4.0's switch).
func TestShareGroupsDefault(t *testing.T) {
	wantServed := func(what string, s *server.Server) {
		t.Helper()
		apis := advertised(t, s)
		for k, want := range map[int16][2]int16{76: {0, 1}, 77: {0, 1}, 78: {0, 2}, 79: {0, 2}, 84: {0, 0}, 85: {0, 1}, 86: {0, 0}, 87: {0, 1}, 90: {0, 1}, 91: {0, 0}, 92: {0, 0}} {
			if apis[k] != want {
				t.Errorf("%s: %s advertised %v, want %v", what, kmsg.NameForKey(k), apis[k], want)
			}
		}
		av := featuresOf(t, s)
		if v, ok := finalizedFeature(av, "share.version"); !ok || v != 1 {
			t.Errorf("%s: finalized features %+v, want share.version 1", what, av.FinalizedFeatures)
		}
	}
	wantServed("default", servertest.StartBroker(t, t.TempDir(), groupSettings))
	listed := maps.Clone(groupSettings)
	listed["strata.share.version"], listed["group.coordinator.rebalance.protocols"] = "0", "classic,consumer,share"
	wantServed("share listed", servertest.StartBroker(t, t.TempDir(), listed))

	off := servertest.StartBroker(t, t.TempDir(), shareOffSettings())
	apis := advertised(t, off)
	for _, k := range []int16{76, 77, 78, 79, 84, 85, 86, 87, 90, 91, 92} {
		if v, ok := apis[k]; ok {
			t.Errorf("%s advertised %v with strata.share.version=0", kmsg.NameForKey(k), v)
		}
	}
	av := featuresOf(t, off)
	if _, ok := finalizedFeature(av, "share.version"); ok {
		t.Errorf("share.version finalized with strata.share.version=0: %+v", av.FinalizedFeatures)
	}
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "g", "m", []string{"t"}
	if r := wireRequest(t, off, hb).(*kmsg.ShareGroupHeartbeatResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("heartbeat: error %d", r.ErrorCode)
	}
	sf := kmsg.NewPtrShareFetchRequest()
	g, m := "g", "m"
	sf.GroupID, sf.MemberID = &g, &m
	if r := wireRequest(t, off, sf).(*kmsg.ShareFetchResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("share fetch: error %d", r.ErrorCode)
	}
	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = "g"
	if r := wireRequest(t, off, alter).(*kmsg.AlterShareGroupOffsetsResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("alter share group offsets: error %d", r.ErrorCode)
	}
}

// featuresOf asks s for its ApiVersions at the client's version (v3+: with features).
func featuresOf(t *testing.T, s *server.Server) *kmsg.ApiVersionsResponse {
	t.Helper()
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t), newClient(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return av
}

// shareOffSettings do not serve share groups.
func shareOffSettings() map[string]string {
	s := maps.Clone(groupSettings)
	s["strata.share.version"] = "0"
	return s
}

// TestShareGroupKgoShared: two franz-go share consumers of one group on a one-partition
// topic, 10 records per fetch, share its records: together they get each record once
// (each accepted), both get some, and a third member joining afterwards gets nothing.
func TestShareGroupKgoShared(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "sq", 1, nil)
	produceTo(t, newClient(t, s), "sq", 0, 200)

	var mu sync.Mutex
	all := map[string][]int32{}
	counts := make([]int, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		cl := shareConsumer(t, s, "sg", "sq", kgo.ShareMaxRecords(10))
		wg.Go(func() {
			defer cl.Close()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					r.Ack(kgo.AckAccept)
					mu.Lock()
					defer mu.Unlock()
					all[string(r.Value)] = append(all[string(r.Value)], r.DeliveryCount())
					counts[i]++
					if len(all) == 200 {
						cancel()
					}
				})
				time.Sleep(5 * time.Millisecond) // slow workers: both get a share
			}
			// Send the last acceptances before closing (a close releases what was not).
			fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer fcancel()
			if err := cl.FlushAcks(fctx); err != nil {
				t.Errorf("flush acks: %v", err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(counts, 0) {
		t.Errorf("a member got no record: %v", counts)
	}
	if len(all) != 200 {
		t.Fatalf("%d distinct records consumed, want 200", len(all))
	}
	for k, dcs := range all {
		if len(dcs) != 1 || dcs[0] != 1 {
			t.Errorf("record %s delivered with counts %v, want once", k, dcs)
		}
	}
	late := shareConsumer(t, s, "sg", "sq")
	defer late.Close()
	if seen := consumeShare(t, late, 1, 2*time.Second, nil); len(seen) != 0 {
		t.Fatalf("accepted records delivered again: %v", slices.Sorted(maps.Keys(seen)))
	}
}

// TestShareGroupKgoReleaseReject: released records come back with their delivery count
// raised; rejected ones never do; a classic consumer group reads the same topic on its
// own, all records.
func TestShareGroupKgoReleaseReject(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "rr", 1, nil)
	produceTo(t, newClient(t, s), "rr", 0, 30)

	cl := shareConsumer(t, s, "sg", "rr")
	defer cl.Close()
	first := consumeShare(t, cl, 30, 5*time.Second, func(r *kgo.Record) {
		switch i, _ := strconv.Atoi(string(r.Value)); {
		case i < 10:
			r.Ack(kgo.AckRelease)
		case i < 20:
			r.Ack(kgo.AckReject)
		default:
			r.Ack(kgo.AckAccept)
		}
	})
	if len(first) != 30 {
		t.Fatalf("first delivery: %d records", len(first))
	}
	again := consumeShare(t, cl, 10, 5*time.Second, func(r *kgo.Record) { r.Ack(kgo.AckAccept) })
	for i := range 30 {
		dcs := again[strconv.Itoa(i)]
		switch {
		case i < 10 && !slices.Equal(dcs, []int32{2}):
			t.Errorf("released record %d redelivered with counts %v, want [2]", i, dcs)
		case i >= 10 && len(dcs) > 0:
			t.Errorf("record %d (rejected or accepted) delivered again: %v", i, dcs)
		}
	}

	classic, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ConsumeTopics("rr"), kgo.ConsumerGroup("sg-classic"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer classic.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for n < 30 && ctx.Err() == nil {
		n += len(classic.PollFetches(ctx).Records())
	}
	if n != 30 {
		t.Fatalf("the classic group read %d records, want 30", n)
	}
}

// TestShareGroupKgoLockExpiry: a member that holds records without acknowledging them
// (it stopped polling) loses them when their lock expires: another member gets them,
// delivered again.
func TestShareGroupKgoLockExpiry(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), time.Second)
	createTopic(t, s, "le", 1, nil)
	produceTo(t, newClient(t, s), "le", 0, 5)

	stuck := shareConsumer(t, s, "sg", "le")
	defer stuck.Close()
	if seen := consumeShare(t, stuck, 5, 5*time.Second, func(*kgo.Record) {}); len(seen) != 5 {
		t.Fatalf("first member got %d records", len(seen))
	}
	other := shareConsumer(t, s, "sg", "le")
	defer other.Close()
	seen := consumeShare(t, other, 5, 10*time.Second, nil)
	for i := range 5 {
		// The stuck client's background fetches may take a record again once before
		// the other gets it: delivered a second or third time.
		if dcs := seen[strconv.Itoa(i)]; len(dcs) != 1 || dcs[0] < 2 {
			t.Errorf("record %d after the lock expired: counts %v, want one delivery counted 2 or more", i, dcs)
		}
	}
}

// TestShareGroupRestart: after the broker restarts, accepted records are never delivered
// again and the records that were in flight (acquired, not acknowledged) are.
func TestShareGroupRestart(t *testing.T) {
	dir := t.TempDir()
	opts := &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(30 * time.Second),
		Logger: slog.New(slog.DiscardHandler)}
	s, err := server.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, s, "rs", 1, nil)
	produceTo(t, newClient(t, s), "rs", 0, 20)
	// Accept 0-9, keep 10-19 acquired.
	cl := shareConsumer(t, s, "sg", "rs")
	seen := consumeShare(t, cl, 20, 5*time.Second, func(r *kgo.Record) {
		if i, _ := strconv.Atoi(string(r.Value)); i < 10 {
			r.Ack(kgo.AckAccept)
		} else {
			r.Ack(kgo.AckRenew) // kept acquired: the client never closes before the broker stops
		}
	})
	if len(seen) != 20 {
		t.Fatalf("got %d records", len(seen))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil { // the client never closed: 10-19 stay acquired
		t.Fatal(err)
	}
	cl.Close()

	s2 := servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: shareSettings(), ShareConfigs: shareConfig(30 * time.Second)})
	cl2 := shareConsumer(t, s2, "sg", "rs")
	defer cl2.Close()
	again := consumeShare(t, cl2, 10, 10*time.Second, nil)
	var got []string
	for k := range again {
		got = append(got, k)
	}
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if want := []string{"10", "11", "12", "13", "14", "15", "16", "17", "18", "19"}; !slices.Equal(got, want) {
		t.Fatalf("after a restart delivered %v, want %v", got, want)
	}
}

// TestShareGroupRestartKeepsMembers: share group membership is stored in
// __consumer_offsets, so after a restart of the broker a member heartbeats at its epoch
// (no UNKNOWN_MEMBER_ID), gets no new assignment, and ShareGroupDescribe shows the members
// as before; DeleteGroups, once they left, deletes the group for good.
func TestShareGroupRestartKeepsMembers(t *testing.T) {
	opts := restartableShareBroker(t.TempDir())
	s, err := server.Start(opts())
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, s, "rk", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	heartbeat := func(cl *kgo.Client, member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.MemberEpoch, req.SubscribedTopicNames = "rkg", member, epoch, topics
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	describe := func(cl *kgo.Client) kmsg.ShareGroupDescribeResponseGroup {
		t.Helper()
		req := kmsg.NewPtrShareGroupDescribeRequest()
		req.GroupIDs = []string{"rkg"}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Groups) != 1 {
			t.Fatalf("describe: %+v %v", resp, err)
		}
		return resp.Groups[0]
	}
	cl := newClient(t, s)
	heartbeat(cl, "m1", 0, "rk")
	heartbeat(cl, "m2", 0, "rk")
	if resp := heartbeat(cl, "m1", 1); resp.ErrorCode != 0 || resp.MemberEpoch != 2 {
		t.Fatalf("m1 moves to epoch 2: %+v", resp)
	}
	before := describe(cl)
	cl.Close()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := servertest.Start(t, opts())
	cl2 := newClient(t, s2)
	for _, m := range []string{"m1", "m2"} {
		if resp := heartbeat(cl2, m, 2); resp.ErrorCode != 0 || resp.MemberEpoch != 2 || resp.Assignment != nil {
			t.Fatalf("%s after the restart: %v %+v", m, kerr.ErrorForCode(resp.ErrorCode), resp)
		}
	}
	if after := describe(cl2); !reflect.DeepEqual(after, before) || after.GroupEpoch != 2 || len(after.Members) != 2 {
		t.Fatalf("after the restart:\n%+v\nbefore:\n%+v", after, before)
	}
	heartbeat(cl2, "m1", -1)
	heartbeat(cl2, "m2", -1)
	adm := kadm.NewClient(cl2)
	if res, err := adm.DeleteGroups(ctx, "rkg"); err != nil || res["rkg"].Err != nil {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if got := describe(cl2); got.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("described after its deletion: %+v", got)
	}
}

// TestShareGroupWire: ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch and
// ShareAcknowledge on the wire: Kafka's errors for bad requests, sessions and
// acknowledgements; a session closes with its connection, releasing what it held.
func TestShareGroupWire(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	// One connection for all requests: a share session closes with its connection.
	cl := newClient(t, s)
	send := sender(t, cl)
	createTopic(t, s, "w", 2, nil)
	pcl := newClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 3 {
		if err := pcl.ProduceSync(testCtx(t), &kgo.Record{Topic: "w", Partition: 0, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	mt := kmsg.NewMetadataRequestTopic()
	name := "w"
	mt.Topic = &name
	md.Topics = append(md.Topics, mt)
	tid := send(md).(*kmsg.MetadataResponse).Topics[0].TopicID

	hb := func(member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.SetVersion(1)
		req.GroupID, req.MemberID, req.MemberEpoch, req.SubscribedTopicNames = "g", member, epoch, topics
		return send(req).(*kmsg.ShareGroupHeartbeatResponse)
	}
	if r := hb("a", 0); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("join without topics: %d", r.ErrorCode)
	}
	r := hb("a", 0, "w")
	if r.ErrorCode != 0 || r.MemberEpoch != 1 || r.Assignment == nil || len(r.Assignment.TopicPartitions) != 1 ||
		!slices.Equal(r.Assignment.TopicPartitions[0].Partitions, []int32{0, 1}) {
		t.Fatalf("join: %+v", r)
	}
	if r := hb("a", 5); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("stale epoch: %d", r.ErrorCode)
	}
	if r := hb("zz", 3); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("unknown member: %d", r.ErrorCode)
	}
	d := kmsg.NewPtrShareGroupDescribeRequest()
	d.GroupIDs = []string{"g", "nope"}
	dr := send(d).(*kmsg.ShareGroupDescribeResponse)
	if len(dr.Groups) != 2 || dr.Groups[0].GroupState != "Stable" || len(dr.Groups[0].Members) != 1 ||
		dr.Groups[0].Members[0].Assignment.TopicPartitions[0].Topic != "w" || dr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe: %+v", dr.Groups)
	}

	fetch := func(epoch int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
		g, m := "g", "a"
		req := kmsg.NewPtrShareFetchRequest()
		req.SetVersion(2)
		req.GroupID, req.MemberID, req.ShareSessionEpoch, req.MaxRecords, req.MaxBytes = &g, &m, epoch, 100, 1<<20
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.AcknowledgementBatches = 0, 1<<20, acks
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return send(req).(*kmsg.ShareFetchResponse)
	}
	ack := func(first, last int64, typ int8) kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
		b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = first, last, []int8{typ}
		return b
	}
	if r := fetch(0, ack(0, 0, 1)); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("acknowledgements opening a session: %d", r.ErrorCode)
	}
	if r := fetch(3); r.ErrorCode != kerr.ShareSessionNotFound.Code {
		t.Errorf("epoch 3 without a session: %d", r.ErrorCode)
	}
	fr := fetch(0)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("open: %+v", fr)
	}
	fp := fr.Topics[0].Partitions[0]
	if fr.AcquisitionLockTimeoutMillis != 30000 || len(fp.AcquiredRecords) != 1 || len(fp.Records) == 0 {
		t.Fatalf("open fetched %+v (lock %d)", fp, fr.AcquisitionLockTimeoutMillis)
	}
	if r := fetch(5); r.ErrorCode != kerr.InvalidShareSessionEpoch.Code {
		t.Errorf("wrong session epoch: %d", r.ErrorCode)
	}
	// The three records are held: acknowledging one of them past the end, or as another
	// type than known, is refused; a good acknowledgement is answered per partition.
	ar := kmsg.NewPtrShareAcknowledgeRequest()
	ar.SetVersion(2)
	g, m := "g", "a"
	ar.GroupID, ar.MemberID, ar.ShareSessionEpoch = &g, &m, 1
	at := kmsg.NewShareAcknowledgeRequestTopic()
	at.TopicID = tid
	ap := kmsg.NewShareAcknowledgeRequestTopicPartition()
	for _, b := range []struct {
		first, last int64
		typ         int8
	}{{0, 0, 1}, {5, 6, 1}} {
		bb := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		bb.FirstOffset, bb.LastOffset, bb.AcknowledgeTypes = b.first, b.last, []int8{b.typ}
		ap.AcknowledgementBatches = append(ap.AcknowledgementBatches, bb)
	}
	at.Partitions = append(at.Partitions, ap)
	ar.Topics = append(ar.Topics, at)
	if r := send(ar).(*kmsg.ShareAcknowledgeResponse); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("acknowledgement past the end: %+v", r)
	}
	// Nothing was applied: 0 is still held, and the session moved to epoch 2.
	fr = fetch(2, ack(0, 2, 1))
	if fr.ErrorCode != 0 || fr.Topics[0].Partitions[0].AcknowledgeErrorCode != 0 {
		t.Fatalf("piggy-backed acceptance: %+v", fr)
	}
	// Below the share-partition start offset records are done: acknowledging them
	// again changes nothing (as kfake).
	if r := fetch(3, ack(0, 0, 1)); r.ErrorCode != 0 || r.Topics[0].Partitions[0].AcknowledgeErrorCode != 0 {
		t.Fatalf("acknowledging a done record: %+v", r)
	}
	if r := hb("a", -1); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
}

// TestShareGroupListDelete: share groups in ListGroups (type share, its filter) and
// DeleteGroups: NON_EMPTY_GROUP with members; once empty, deleted with their
// share-partition states, so the group starts again from share.auto.offset.reset.
func TestShareGroupListDelete(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "ld", 1, nil)
	produceTo(t, newClient(t, s), "ld", 0, 5)
	cl := shareConsumer(t, s, "sg", "ld")
	if seen := consumeShare(t, cl, 5, 5*time.Second, nil); len(seen) != 5 {
		t.Fatalf("consumed %d", len(seen))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}

	list := func(types ...string) map[string]string {
		req := kmsg.NewPtrListGroupsRequest()
		req.SetVersion(5)
		req.TypesFilter = types
		out := map[string]string{}
		for _, g := range wireRequest(t, s, req).(*kmsg.ListGroupsResponse).Groups {
			out[g.Group] = g.GroupType + "/" + g.ProtocolType + "/" + g.GroupState
		}
		return out
	}
	del := func() int16 {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{"sg"}
		return wireRequest(t, s, req).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode
	}
	if got := list("share"); got["sg"] != "share/share/Stable" || len(got) != 1 {
		t.Fatalf("listed share groups %v", got)
	}
	if got := list("classic"); len(got) != 0 {
		t.Fatalf("listed classic groups %v", got)
	}
	if ec := del(); ec != kerr.NonEmptyGroup.Code {
		t.Fatalf("deleting a group with a member: %d", ec)
	}
	cl.Close() // leaves the group
	if got := list(); got["sg"] != "share/share/Empty" {
		t.Fatalf("listed %v after the member left", got)
	}
	if ec := del(); ec != 0 {
		t.Fatalf("deleting the empty group: %d", ec)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("listed %v after the delete", got)
	}
	if ec := del(); ec != kerr.GroupIDNotFound.Code {
		t.Fatalf("deleting it again: %d", ec)
	}
	again := shareConsumer(t, s, "sg", "ld")
	defer again.Close()
	if seen := consumeShare(t, again, 5, 5*time.Second, nil); len(seen) != 5 {
		t.Fatalf("after the delete, %d records delivered again from the earliest offset, want 5", len(seen))
	}
}

// TestShareGroupFindCoordinator: FindCoordinator key type share (2, v6) names this broker
// for a well-formed share-partition key ("group:topicId:partition") and answers
// INVALID_REQUEST for a malformed one, or while share groups are not served.
func TestShareGroupFindCoordinator(t *testing.T) {
	find := func(s *server.Server, keys ...string) []int16 {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(6)
		req.CoordinatorType, req.CoordinatorKeys = 2, keys
		var out []int16
		for _, c := range wireRequest(t, s, req).(*kmsg.FindCoordinatorResponse).Coordinators {
			out = append(out, c.ErrorCode)
		}
		return out
	}
	good := "g:AAAAAAAAAAAAAAAAAAAAAQ:3"
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	got := find(s, good, "a:b:c:AAAAAAAAAAAAAAAAAAAAAQ:0", "g:AAAA:3", ":AAAAAAAAAAAAAAAAAAAAAQ:3", "g:AAAAAAAAAAAAAAAAAAAAAQ:-1", "nocolon")
	if want := []int16{0, 0, 42, 42, 42, 42}; !slices.Equal(got, want) {
		t.Fatalf("share coordinator keys answered %v, want %v", got, want)
	}
	off := servertest.StartBroker(t, t.TempDir(), shareOffSettings())
	if got := find(off, good); !slices.Equal(got, []int16{kerr.InvalidRequest.Code}) {
		t.Fatalf("without share groups: %v", got)
	}
}

// TestACLShareGroups: the share group APIs check what Kafka checks: ShareGroupHeartbeat
// READ on the group and DESCRIBE on each subscribed topic, ShareGroupDescribe DESCRIBE on
// the group, ShareFetch and ShareAcknowledge READ on the group (the whole request) and on
// each topic (per partition), FindCoordinator of a share coordinator key CLUSTER_ACTION.
func TestACLShareGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startACLWith(t, ctx, server.ACLAuthorizer{}, shareSettings())
	b.topics(ctx, t, "t", "secret")
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("g").Topics("t").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead))
	td, err := b.adm.ListTopics(ctx, "t", "secret")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][16]byte{"t": td["t"].ID, "secret": td["secret"].ID}

	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "other", "m1", []string{"t"}
	wantCode(t, "share heartbeat other", direct[*kmsg.ShareGroupHeartbeatResponse](ctx, t, b.alice, hb).ErrorCode, kerr.GroupAuthorizationFailed)
	hb.GroupID, hb.SubscribedTopicNames = "g", []string{"t", "secret"}
	wantCode(t, "share heartbeat g subscribing to secret", direct[*kmsg.ShareGroupHeartbeatResponse](ctx, t, b.alice, hb).ErrorCode, kerr.TopicAuthorizationFailed)
	hb.SubscribedTopicNames = []string{"t"}
	wantCode(t, "share heartbeat g", direct[*kmsg.ShareGroupHeartbeatResponse](ctx, t, b.alice, hb).ErrorCode, nil)

	d := kmsg.NewPtrShareGroupDescribeRequest()
	d.GroupIDs = []string{"other", "g"}
	dr := direct[*kmsg.ShareGroupDescribeResponse](ctx, t, b.alice, d)
	wantCode(t, "share describe other", dr.Groups[0].ErrorCode, kerr.GroupAuthorizationFailed)
	wantCode(t, "share describe g", dr.Groups[1].ErrorCode, nil)

	fetch := func(group string) *kmsg.ShareFetchResponse {
		req := kmsg.NewPtrShareFetchRequest()
		m := "m1"
		req.GroupID, req.MemberID, req.MaxRecords = &group, &m, 10
		for _, name := range []string{"t", "secret"} {
			rt := kmsg.NewShareFetchRequestTopic()
			rt.TopicID = ids[name]
			rt.Partitions = []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}
			req.Topics = append(req.Topics, rt)
		}
		return direct[*kmsg.ShareFetchResponse](ctx, t, b.alice, req)
	}
	wantCode(t, "share fetch other", fetch("other").ErrorCode, kerr.GroupAuthorizationFailed)
	fr := fetch("g")
	wantCode(t, "share fetch g", fr.ErrorCode, nil)
	codes := map[[16]byte]int16{}
	for _, rt := range fr.Topics {
		codes[rt.TopicID] = rt.Partitions[0].ErrorCode
	}
	wantCode(t, "share fetch g from t", codes[ids["t"]], nil)
	wantCode(t, "share fetch g from secret", codes[ids["secret"]], kerr.TopicAuthorizationFailed)

	ack := kmsg.NewPtrShareAcknowledgeRequest()
	g, m := "other", "m1"
	ack.GroupID, ack.MemberID, ack.ShareSessionEpoch = &g, &m, 1
	wantCode(t, "share acknowledge other", direct[*kmsg.ShareAcknowledgeResponse](ctx, t, b.alice, ack).ErrorCode, kerr.GroupAuthorizationFailed)

	// The offsets APIs: Describe DESCRIBE on the group and topic, Alter READ on both,
	// Delete DELETE on the group and READ on the topic.
	dso := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	for _, id := range []string{"other", "g"} {
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = id
		rg.Topics = []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: "secret", Partitions: []int32{0}}, {Topic: "t", Partitions: []int32{0}}}
		dso.Groups = append(dso.Groups, rg)
	}
	dsr := direct[*kmsg.DescribeShareGroupOffsetsResponse](ctx, t, b.alice, dso)
	wantCode(t, "describe share offsets of other", dsr.Groups[0].ErrorCode, kerr.GroupAuthorizationFailed)
	wantCode(t, "describe share offsets of g", dsr.Groups[1].ErrorCode, nil)
	wantCode(t, "describe share offsets of g on secret", dsr.Groups[1].Topics[0].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "describe share offsets of g on t", dsr.Groups[1].Topics[1].Partitions[0].ErrorCode, nil)
	aso := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	aso.GroupID = "other"
	wantCode(t, "alter share offsets of other", direct[*kmsg.AlterShareGroupOffsetsResponse](ctx, t, b.alice, aso).ErrorCode, kerr.GroupAuthorizationFailed)
	aso.GroupID = "g"
	aso.Topics = []kmsg.AlterShareGroupOffsetsRequestTopic{{Topic: "secret", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0}}}}
	asr := direct[*kmsg.AlterShareGroupOffsetsResponse](ctx, t, b.alice, aso)
	wantCode(t, "alter share offsets of g (a member)", asr.ErrorCode, kerr.NonEmptyGroup)
	dlo := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
	dlo.GroupID = "g"
	wantCode(t, "delete share offsets of g without DELETE", direct[*kmsg.DeleteShareGroupOffsetsResponse](ctx, t, b.alice, dlo).ErrorCode, kerr.GroupAuthorizationFailed)
	aso.GroupID = "empty"
	b.grant(ctx, t, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("empty").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead))
	asr = direct[*kmsg.AlterShareGroupOffsetsResponse](ctx, t, b.alice, aso)
	wantCode(t, "alter share offsets of empty", asr.ErrorCode, nil)
	wantCode(t, "alter share offsets of empty on secret", asr.Topics[0].Partitions[0].ErrorCode, kerr.TopicAuthorizationFailed)

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType, fc.CoordinatorKeys = 2, []string{"g:AAAAAAAAAAAAAAAAAAAAAQ:0"}
	wantCode(t, "find a share coordinator", direct[*kmsg.FindCoordinatorResponse](ctx, t, b.alice, fc).Coordinators[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "find a share coordinator as admin", direct[*kmsg.FindCoordinatorResponse](ctx, t, b.admin, fc).Coordinators[0].ErrorCode, nil)

	// The share coordinator's inter-broker APIs need CLUSTER_ACTION.
	rs := kmsg.NewPtrReadShareGroupStateRequest()
	rs.GroupID = "g"
	rs.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: ids["t"], Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 0}}}}
	wantCode(t, "read a share-partition's state", direct[*kmsg.ReadShareGroupStateResponse](ctx, t, b.alice, rs).Topics[0].Partitions[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "read a share-partition's state as admin", direct[*kmsg.ReadShareGroupStateResponse](ctx, t, b.admin, rs).Topics[0].Partitions[0].ErrorCode, nil)
	ws := kmsg.NewPtrWriteShareGroupStateRequest()
	ws.GroupID = "g"
	ws.Topics = []kmsg.WriteShareGroupStateRequestTopic{{TopicID: ids["t"], Partitions: []kmsg.WriteShareGroupStateRequestTopicPartition{{Partition: 0, StartOffset: 0}}}}
	wantCode(t, "write a share-partition's state", direct[*kmsg.WriteShareGroupStateResponse](ctx, t, b.alice, ws).Topics[0].Partitions[0].ErrorCode, kerr.ClusterAuthorizationFailed)
}

// TestShareGroupSessionClosesWithConnection: the records a member acquired through a
// share session come back as soon as the connection that opened the session closes (as
// Kafka's broker releases them), not when their locks expire.
func TestShareGroupSessionClosesWithConnection(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), time.Minute)
	createTopic(t, s, "cc", 1, nil)
	produceTo(t, newClient(t, s), "cc", 0, 3)
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("cc")}}
	tid := wireRequest(t, s, md).(*kmsg.MetadataResponse).Topics[0].TopicID

	fetch := func(cl *kgo.Client, member string, epoch, wait int32) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
		t.Helper()
		g := "g"
		req := kmsg.NewPtrShareFetchRequest()
		req.GroupID, req.MemberID, req.ShareSessionEpoch, req.MaxRecords, req.MaxWaitMillis = &g, &member, epoch, 100, wait
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = tid
		rt.Partitions = []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}
		req.Topics = append(req.Topics, rt)
		resp, err := cl.Broker(0).Request(testCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*kmsg.ShareFetchResponse)
		if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			t.Fatalf("share fetch of %s: %+v", member, r)
		}
		return r.Topics[0].Partitions[0].AcquiredRecords
	}
	a, b := newClient(t, s), newClient(t, s)
	if got := fetch(a, "a", 0, 0); len(got) != 1 || got[0].FirstOffset != 0 || got[0].LastOffset != 2 {
		t.Fatalf("a acquired %+v", got)
	}
	if got := fetch(b, "b", 0, 0); len(got) != 0 {
		t.Fatalf("b acquired %+v while a holds everything", got)
	}
	a.Close()
	got := fetch(b, "b", 1, 10000)
	if len(got) != 1 || got[0].FirstOffset != 0 || got[0].LastOffset != 2 || got[0].DeliveryCount != 2 {
		t.Fatalf("after a's connection closed b acquired %+v, want 0-2 delivered a second time", got)
	}
}

// TestShareGroupReadCommitted: with share.isolation.level=read_committed a share group
// gets the committed records only — those of an aborted transaction are archived, never
// delivered — while a read_uncommitted group gets them all.
func TestShareGroupReadCommitted(t *testing.T) {
	rc := share.DefaultConfig()
	rc.AutoOffsetReset, rc.ReadCommitted = "earliest", true
	ru := rc
	ru.ReadCommitted = false
	cfgs := groupConfigs{"rc": rc, "ru": ru}
	s := servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", Settings: shareSettings(), ShareConfigs: cfgs})
	createTopic(t, s, "tx", 1, nil)
	ctx := testCtx(t)
	txn := newClient(t, s, kgo.TransactionalID("share-tx"), kgo.DefaultProduceTopic("tx"))
	for i, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit, kgo.TryAbort} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 5 {
			if err := txn.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(10*i + j))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	produceTo(t, newClient(t, s), "tx", 100, 2) // not transactional

	committed := shareConsumer(t, s, "rc", "tx")
	defer committed.Close()
	got := consumeShare(t, committed, 8, 3*time.Second, nil) // 7 exist: wait to see that no other comes
	want := []string{"10", "100", "101", "11", "12", "13", "14"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Fatalf("read_committed share group got %v, want %v", keys, want)
	}
	all := shareConsumer(t, s, "ru", "tx")
	defer all.Close()
	if got := consumeShare(t, all, 17, 5*time.Second, nil); len(got) != 17 {
		t.Fatalf("read_uncommitted share group got %d records, want 17", len(got))
	}
}

// groupConfigs gives each group its settings.
type groupConfigs map[string]share.Config

func (g groupConfigs) ShareConfig(group string) share.Config { return g[group] }

// TestShareGroupStateAPIs: the share coordinator's inter-broker APIs on one node (what a
// topic partition's leader on another broker sends it): a state written with
// WriteShareGroupState reads back with ReadShareGroupState and
// ReadShareGroupStateSummary; a read or a write of a state never initialized, or deleted,
// is INVALID_REQUEST (Kafka's "... operation on uninitialized share partition not
// allowed."); InitializeShareGroupState at start offset -1 (the group coordinator's)
// makes one that reads with start offset -1; a former leader's read or write is
// FENCED_LEADER_EPOCH, a first state without a start offset INVALID_REQUEST, and
// DeleteShareGroupState removes it.
func TestShareGroupStateAPIs(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	id := [16]byte{1, 2, 3}
	read := func() kmsg.ReadShareGroupStateResponseTopicPartition {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = "g"
		req.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 4, LeaderEpoch: -1}}}}
		return wireRequest(t, s, req).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0]
	}
	summary := func() kmsg.ReadShareGroupStateSummaryResponseTopicPartition {
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.Version, req.GroupID = 1, "g"
		req.Topics = []kmsg.ReadShareGroupStateSummaryRequestTopic{{TopicID: id, Partitions: []kmsg.ReadShareGroupStateSummaryRequestTopicPartition{{Partition: 4, LeaderEpoch: -1}}}}
		return wireRequest(t, s, req).(*kmsg.ReadShareGroupStateSummaryResponse).Topics[0].Partitions[0]
	}
	write := func(epoch int32, start int64, batches ...kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch) int16 {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = "g"
		req.Topics = []kmsg.WriteShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.WriteShareGroupStateRequestTopicPartition{{Partition: 4, LeaderEpoch: epoch, StartOffset: start, StateBatches: batches}}}}
		return wireRequest(t, s, req).(*kmsg.WriteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	uninitialized := func(what string, p kmsg.ReadShareGroupStateResponseTopicPartition) {
		t.Helper()
		if p.ErrorCode != kerr.InvalidRequest.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, share.UninitializedRead) {
			t.Fatalf("%s: %+v", what, p)
		}
	}
	uninitialized("read before the initialization", read())
	wantCode(t, "write before the initialization", write(1, 10), kerr.InvalidRequest)
	initialize := kmsg.NewPtrInitializeShareGroupStateRequest()
	initialize.GroupID = "g"
	initialize.Topics = []kmsg.InitializeShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.InitializeShareGroupStateRequestTopicPartition{{Partition: 4, StateEpoch: 1, StartOffset: -1}}}}
	wantCode(t, "initialize", wireRequest(t, s, initialize).(*kmsg.InitializeShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode, nil)
	if p := read(); p.ErrorCode != 0 || p.StartOffset != -1 || len(p.StateBatches) != 0 {
		t.Fatalf("read of the initialized state: %+v", p)
	}
	wantCode(t, "first write without a start", write(1, -1), kerr.InvalidRequest)
	wantCode(t, "write", write(2, 10, kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{FirstOffset: 10, LastOffset: 12, DeliveryState: 2, DeliveryCount: 1},
		kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{FirstOffset: 13, LastOffset: 13, DeliveryState: 0, DeliveryCount: 2}), nil)
	readAt := func(epoch int32) int16 {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = "g"
		req.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: 4, LeaderEpoch: epoch}}}}
		return wireRequest(t, s, req).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "a former leader's read", readAt(1), kerr.FencedLeaderEpoch)
	wantCode(t, "a former leader's write", write(1, -1, kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{FirstOffset: 13, LastOffset: 13, DeliveryState: 2, DeliveryCount: 2}), kerr.FencedLeaderEpoch)
	p := read()
	if p.ErrorCode != 0 || p.StartOffset != 13 || len(p.StateBatches) != 1 || p.StateBatches[0].FirstOffset != 13 || p.StateBatches[0].DeliveryState != 0 || p.StateBatches[0].DeliveryCount != 2 {
		t.Fatalf("read back: %+v", p)
	}
	// Two acknowledged above the start offset: its delivery complete count (v1).
	wantCode(t, "write above the start", write(2, -1, kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{FirstOffset: 14, LastOffset: 15, DeliveryState: 2, DeliveryCount: 1}), nil)
	if p := summary(); p.ErrorCode != 0 || p.StartOffset != 13 || p.DeliveryCompleteCount != 2 {
		t.Fatalf("summary: %+v", p)
	}
	del := kmsg.NewPtrDeleteShareGroupStateRequest()
	del.GroupID = "g"
	del.Topics = []kmsg.DeleteShareGroupStateRequestTopic{{TopicID: id, Partitions: []kmsg.DeleteShareGroupStateRequestTopicPartition{{Partition: 4}}}}
	wantCode(t, "delete", wireRequest(t, s, del).(*kmsg.DeleteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode, nil)
	uninitialized("read after the delete", read())
	wantCode(t, "write after the delete", write(2, -1, kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{FirstOffset: 16, LastOffset: 16, DeliveryState: 2, DeliveryCount: 1}), kerr.InvalidRequest)
}

// TestShareFetchAcquireModes: ShareFetch v2's acquire modes (KIP-1206) on one batch of
// ten records: record_limit acquires MaxRecords at most, in one range;
// batch_optimized cuts the acquired records into ranges of at most BatchSize; an
// unknown mode is INVALID_REQUEST and acquires nothing.
func TestShareFetchAcquireModes(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	cl := newClient(t, s) // one connection: a share session closes with its connection
	send := sender(t, cl)
	createTopic(t, s, "m", 1, nil)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "m", Value: []byte{byte(i)}})
	}
	if err := newClient(t, s).ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("m")
	md.Topics = append(md.Topics, mt)
	tid := send(md).(*kmsg.MetadataResponse).Topics[0].TopicID
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.SetVersion(1)
	hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = "g", "a", []string{"m"}
	if r := send(hb).(*kmsg.ShareGroupHeartbeatResponse); r.ErrorCode != 0 {
		t.Fatalf("join: %+v", r)
	}
	fetch := func(epoch int32, mode int8, maxRecords, batchSize int32) *kmsg.ShareFetchResponse {
		req := kmsg.NewPtrShareFetchRequest()
		req.SetVersion(2)
		req.GroupID, req.MemberID, req.ShareSessionEpoch = kmsg.StringPtr("g"), kmsg.StringPtr("a"), epoch
		req.MaxRecords, req.BatchSize, req.ShareAcquireMode, req.MaxBytes = maxRecords, batchSize, mode, 1<<20
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return send(req).(*kmsg.ShareFetchResponse)
	}
	ranges := func(r *kmsg.ShareFetchResponse) [][2]int64 {
		t.Helper()
		if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch: %+v", r)
		}
		var out [][2]int64
		for _, a := range r.Topics[0].Partitions[0].AcquiredRecords {
			out = append(out, [2]int64{a.FirstOffset, a.LastOffset})
		}
		return out
	}
	if r := fetch(0, 2, 3, 3); r.ErrorCode != kerr.InvalidRequest.Code || len(r.Topics) != 0 {
		t.Fatalf("unknown acquire mode: %+v", r)
	}
	if got := ranges(fetch(0, 1, 3, 3)); !slices.Equal(got, [][2]int64{{0, 2}}) {
		t.Errorf("record_limit, 3 of a batch of 10: %v", got)
	}
	if got := ranges(fetch(1, 0, 6, 2)); !slices.Equal(got, [][2]int64{{3, 4}, {5, 6}, {7, 8}}) {
		t.Errorf("batch_optimized, 6 by 2: %v", got)
	}
	if got := ranges(fetch(2, 1, 6, 2)); !slices.Equal(got, [][2]int64{{9, 9}}) {
		t.Errorf("record_limit, the last record: %v", got)
	}
}

// TestShareGroupKgoMaxRecordsStrict: franz-go's kgo.ShareMaxRecordsStrict (record_limit)
// never gets more than its ShareMaxRecords in one poll, and gets every record.
func TestShareGroupKgoMaxRecordsStrict(t *testing.T) {
	s := startShareBroker(t, t.TempDir(), 30*time.Second)
	createTopic(t, s, "strict", 1, nil)
	produceTo(t, newClient(t, s), "strict", 0, 20)
	cl := shareConsumer(t, s, "g", "strict", kgo.ShareMaxRecords(3), kgo.ShareMaxRecordsStrict())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for len(seen) < 20 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if n := fs.NumRecords(); n > 3 {
			t.Fatalf("a poll of %d records, more than ShareMaxRecords 3", n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)] = true
			r.Ack(kgo.AckAccept)
		})
	}
	if len(seen) != 20 {
		t.Fatalf("%d of 20 records consumed", len(seen))
	}
}
