package server_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

// consumerSettings serve the consumer group protocol (KIP-848) with short timings.
func consumerSettings(extra map[string]string) map[string]string {
	s := map[string]string{
		"group.coordinator.rebalance.protocols":    "classic,consumer",
		"group.consumer.min.heartbeat.interval.ms": "100",
		"group.consumer.heartbeat.interval.ms":     "250",
		"group.consumer.min.session.timeout.ms":    "1000",
		"group.consumer.session.timeout.ms":        "6000",
	}
	maps.Copy(s, groupSettings)
	maps.Copy(s, extra)
	return s
}

func advertised(t *testing.T, s *server.Server) map[int16][2]int16 {
	t.Helper()
	resp := wireRequest(t, s, kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}

// TestConsumerProtocolOff: by default (classic,consumer, as Kafka 4) ConsumerGroupHeartbeat
// and ConsumerGroupDescribe are advertised v0-v1; without consumer in
// group.coordinator.rebalance.protocols they are not, and answer UNSUPPORTED_VERSION, as
// Kafka's broker does.
func TestConsumerProtocolOff(t *testing.T) {
	def := servertest.StartBroker(t, t.TempDir(), groupSettings)
	if apis := advertised(t, def); apis[68] != [2]int16{0, 1} || apis[69] != [2]int16{0, 1} {
		t.Errorf("by default: ConsumerGroupHeartbeat %v, ConsumerGroupDescribe %v advertised", apis[68], apis[69])
	}
	s := servertest.StartBroker(t, t.TempDir(), consumerSettings(map[string]string{"group.coordinator.rebalance.protocols": "classic"}))
	apis := advertised(t, s)
	if _, ok := apis[68]; ok {
		t.Error("ConsumerGroupHeartbeat advertised")
	}
	if _, ok := apis[69]; ok {
		t.Error("ConsumerGroupDescribe advertised")
	}
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.SetVersion(1)
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = "g", "m", 1000, []string{"t"}
	if r := wireRequest(t, s, hb).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("heartbeat: error %d", r.ErrorCode)
	}
	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.Groups = []string{"g"}
	if r := wireRequest(t, s, d).(*kmsg.ConsumerGroupDescribeResponse); len(r.Groups) != 1 || r.Groups[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("describe: %+v", r.Groups)
	}
}

// TestConsumerProtocolWire: ConsumerGroupHeartbeat and ConsumerGroupDescribe on the wire:
// advertised v0-v1; v0 gets a member id made by the broker, v1 must bring one; the join
// answers the assignment by topic id; Kafka's errors for a bad request, an unknown
// assignor, a bad regular expression, an unknown member and a classic or unknown group;
// ConsumerGroupDescribe names assigned topics by id and name; ListGroups types the group.
func TestConsumerProtocolWire(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), consumerSettings(map[string]string{"group.consumer.assignors": "range"}))
	if apis := advertised(t, s); apis[68] != [2]int16{0, 1} || apis[69] != [2]int16{0, 1} {
		t.Fatalf("advertised: 68 %v, 69 %v", apis[68], apis[69])
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, s, "wire", 2, nil)
	id := topicID(t, cl, "wire")

	hb := func(version int16, f func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.SetVersion(version)
		req.Group, req.RebalanceTimeoutMillis, req.SubscribedTopicNames = "g", 30000, []string{"wire"}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		f(req)
		return wireRequest(t, s, req).(*kmsg.ConsumerGroupHeartbeatResponse)
	}
	r := hb(0, func(*kmsg.ConsumerGroupHeartbeatRequest) {})
	if r.ErrorCode != 0 || r.MemberID == nil || len(*r.MemberID) != 22 || r.MemberEpoch != 1 || r.HeartbeatIntervalMillis != 250 ||
		r.Assignment == nil || len(r.Assignment.Topics) != 1 || r.Assignment.Topics[0].TopicID != id {
		t.Fatalf("v0 join: %+v", r)
	}
	member := *r.MemberID

	bad, unknown := "(", "uniform"
	for _, c := range []struct {
		name string
		f    func(*kmsg.ConsumerGroupHeartbeatRequest)
		want *kerr.Error
	}{
		{"v1 without member id", func(*kmsg.ConsumerGroupHeartbeatRequest) {}, kerr.InvalidRequest},
		{"no rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.RebalanceTimeoutMillis = "x", -1 }, kerr.InvalidRequest},
		{"assignor not configured", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.ServerAssignor = "x", &unknown }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.SubscribedTopicNames, r.SubscribedTopicRegex = "x", nil, &bad
		}, kerr.InvalidRegularExpression},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "x", 5 }, kerr.UnknownMemberID},
		{"newer epoch", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = member, 5 }, kerr.FencedMemberEpoch},
	} {
		if r := hb(1, c.f); r.ErrorCode != c.want.Code || r.ErrorMessage == nil {
			t.Errorf("%s: error %d (%v), want %s", c.name, r.ErrorCode, r.ErrorMessage, c.want.Message)
		}
	}

	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.SetVersion(1)
	d.Groups = []string{"g", "nope"}
	dr := wireRequest(t, s, d).(*kmsg.ConsumerGroupDescribeResponse)
	if len(dr.Groups) != 2 {
		t.Fatalf("describe: %+v", dr)
	}
	g := dr.Groups[0]
	if g.ErrorCode != 0 || g.State != "Stable" || g.Epoch != 1 || g.AssignmentEpoch != 1 || g.AssignorName != "range" || len(g.Members) != 1 {
		t.Fatalf("describe g: %+v", g)
	}
	m := g.Members[0]
	if m.MemberID != member || m.MemberEpoch != 1 || m.MemberType != 1 || m.ClientID != "raw" || len(m.Assignment.TopicPartitions) != 1 ||
		m.Assignment.TopicPartitions[0].Topic != "wire" || m.Assignment.TopicPartitions[0].TopicID != id ||
		len(m.TargetAssignment.TopicPartitions) != 1 {
		t.Fatalf("describe member: %+v", m)
	}
	if dr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("describe an unknown group: %d", dr.Groups[1].ErrorCode)
	}

	lg := kmsg.NewPtrListGroupsRequest()
	lg.SetVersion(5)
	lg.TypesFilter = []string{"consumer"}
	lr := wireRequest(t, s, lg).(*kmsg.ListGroupsResponse)
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "g" || lr.Groups[0].GroupType != "consumer" || lr.Groups[0].GroupState != "Stable" ||
		lr.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list consumer groups: %+v", lr.Groups)
	}

	// OffsetCommit and OffsetFetch v9 carry the member epoch.
	commit := func(epoch int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.SetVersion(9)
		req.Group, req.MemberID, req.Generation = "g", member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "wire"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 3
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return wireRequest(t, s, req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	fetch := func(epoch int32) int16 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.SetVersion(9)
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.MemberID, rg.MemberEpoch = "g", &member, epoch
		req.Groups = append(req.Groups, rg)
		return wireRequest(t, s, req).(*kmsg.OffsetFetchResponse).Groups[0].ErrorCode
	}
	if c := commit(1); c != 0 {
		t.Errorf("commit at the member's epoch: %d", c)
	}
	if c := commit(2); c != kerr.StaleMemberEpoch.Code {
		t.Errorf("commit at another epoch: %d", c)
	}
	if c := fetch(1); c != 0 {
		t.Errorf("fetch at the member's epoch: %d", c)
	}
	if c := fetch(0); c != kerr.StaleMemberEpoch.Code {
		t.Errorf("fetch at another epoch: %d", c)
	}

	// Leaving answers epoch -1.
	if r := hb(1, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = member, -1 }); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
}

// TestConsumerProtocolCommitBeforeAck: a member that must revoke a partition commits its
// offset and then, on the same connection and without waiting for the commit's answer,
// heartbeats the revocation (franz-go sends both on one connection). The commit is at the
// epoch the member still has, so it must succeed and stay: Kafka answers a connection's
// requests in order, and so must Strata (server.orderedAPI); had the heartbeat gone first,
// the member would have moved to the next epoch without the partition and the commit would
// have been refused with STALE_MEMBER_EPOCH, leaving the partition's next owner to
// consume again what this member had processed. Ten groups, so that the old order fails.
func TestConsumerProtocolCommitBeforeAck(t *testing.T) {
	s := servertest.StartBroker(t, t.TempDir(), consumerSettings(map[string]string{"group.consumer.assignors": "range"}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopic(t, s, "ord", 2, nil)
	id := topicID(t, cl, "ord")
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	corr := int32(0)
	send := func(reqs ...kmsg.Request) {
		t.Helper()
		var b []byte
		for _, req := range reqs {
			corr++
			b = wire.AppendRequest(b, corr, "raw", req)
		}
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	read := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		frame, err := wire.ReadFrame(nc, nil, 64<<20)
		if err != nil {
			t.Fatalf("read %s response: %v", kmsg.NameForKey(req.Key()), err)
		}
		resp, body := req.ResponseKind(), frame[4:]
		if req.IsFlexible() {
			body = body[1:]
		}
		if err := resp.ReadFrom(body); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	hb := func(group, member string, epoch int32, owned ...int32) *kmsg.ConsumerGroupHeartbeatRequest {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.SetVersion(1)
		req.Group, req.MemberID, req.MemberEpoch = group, member, epoch
		req.RebalanceTimeoutMillis, req.SubscribedTopicNames = 30000, []string{"ord"}
		rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		rt.TopicID, rt.Partitions = id, owned
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{rt}
		if len(owned) == 0 {
			req.Topics = req.Topics[:0]
		}
		return req
	}
	beat := func(req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		send(req)
		r := read(req).(*kmsg.ConsumerGroupHeartbeatResponse)
		if r.ErrorCode != 0 {
			t.Fatalf("heartbeat of %s at epoch %d: %v", req.MemberID, req.MemberEpoch, kerr.ErrorForCode(r.ErrorCode))
		}
		return r
	}
	assigned := func(r *kmsg.ConsumerGroupHeartbeatResponse) []int32 {
		if r.Assignment == nil || len(r.Assignment.Topics) == 0 {
			return nil
		}
		return r.Assignment.Topics[0].Partitions
	}
	for i := range 10 {
		group := fmt.Sprintf("g%d", i)
		if r := beat(hb(group, "a", 0)); r.MemberEpoch != 1 || !slices.Equal(assigned(r), []int32{0, 1}) {
			t.Fatalf("a joins: epoch %d, %v", r.MemberEpoch, assigned(r))
		}
		beat(hb(group, "a", 1, 0, 1))
		if r := beat(hb(group, "b", 0)); r.MemberEpoch != 2 || len(assigned(r)) != 0 {
			t.Fatalf("b joins: epoch %d, %v (partition 1 is a's until it revokes it)", r.MemberEpoch, assigned(r))
		}
		if r := beat(hb(group, "a", 1, 0, 1)); r.MemberEpoch != 1 || !slices.Equal(assigned(r), []int32{0}) {
			t.Fatalf("a told to revoke 1: epoch %d, %v", r.MemberEpoch, assigned(r))
		}

		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.SetVersion(9)
		commit.Group, commit.MemberID, commit.Generation = group, "a", 1
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.Topic = "ord"
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset = 1, 7
		ct.Partitions = append(ct.Partitions, cp)
		commit.Topics = append(commit.Topics, ct)
		ack := hb(group, "a", 1, 0)
		send(commit, ack)
		if c := read(commit).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; c != 0 {
			t.Fatalf("%s: the commit sent before the revocation's heartbeat: %v", group, kerr.ErrorForCode(c))
		}
		if r := read(ack).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != 0 || r.MemberEpoch != 2 {
			t.Fatalf("%s: the revocation's heartbeat: epoch %d, %v", group, r.MemberEpoch, kerr.ErrorForCode(r.ErrorCode))
		}
		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.SetVersion(9)
		fg := kmsg.NewOffsetFetchRequestGroup()
		fg.Group = group
		fetch.Groups = append(fetch.Groups, fg)
		send(fetch)
		fr := read(fetch).(*kmsg.OffsetFetchResponse)
		if len(fr.Groups) != 1 || len(fr.Groups[0].Topics) != 1 || fr.Groups[0].Topics[0].Partitions[0].Offset != 7 {
			t.Fatalf("%s: committed offsets %+v, want partition 1 at 7", group, fr.Groups)
		}
	}
}

// describeConsumer is ConsumerGroupDescribe of group: its state and each member's
// assigned partitions (all topics together), by member id.
func describeConsumer(t testing.TB, addr, group string) (string, map[string][]int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 {
		return kerr.ErrorForCode(g.ErrorCode).Error(), nil
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		out[m.MemberID] = []int32{}
		for _, tp := range m.Assignment.TopicPartitions {
			out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
		}
		slices.Sort(out[m.MemberID])
	}
	return g.State, out
}

// revocations records, per member, the partitions it was told to give up or lost.
type revocations struct {
	mu      sync.Mutex
	revoked map[string][]int32
	lost    map[string]int
}

func (r *revocations) opts(member string) []kgo.Opt {
	add := func(ps map[string][]int32) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.revoked == nil {
			r.revoked = map[string][]int32{}
		}
		for _, p := range ps {
			r.revoked[member] = append(r.revoked[member], p...)
		}
	}
	return []kgo.Opt{
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { add(ps) }),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.lost == nil {
				r.lost = map[string]int{}
			}
			r.lost[member]++
		}),
	}
}

func (r *revocations) of(member string) ([]int32, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.revoked[member]), r.lost[member]
}

// consumer848Opts are groupOpts with the consumer group protocol (KIP-848).
func consumer848Opts(addr, group, topic string, extra ...kgo.Opt) []kgo.Opt {
	return groupOpts(addr, group, topic, append([]kgo.Opt{kgo.ServerSideBalancer()}, extra...)...)
}

// stableWith waits for the consumer group to be Stable with members whose partition
// counts are counts (in any order), and returns the assignment.
func stableWith(t *testing.T, addr, group string, counts ...int) map[string][]int32 {
	t.Helper()
	var a map[string][]int32
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("group %s last seen: %s", group, last)
		}
	}()
	slices.Sort(counts)
	waitFor(t, fmt.Sprintf("group %s stable with partition counts %v", group, counts), 30*time.Second, func() bool {
		var st string
		st, a = describeConsumer(t, addr, group)
		var got []int
		for _, ps := range a {
			got = append(got, len(ps))
		}
		slices.Sort(got)
		last = fmt.Sprintf("%s %v", st, a)
		return st == "Stable" && slices.Equal(got, counts)
	})
	return a
}

// TestConsumerProtocolKgoScale (franz-go, kgo.ServerSideBalancer): one member takes all
// six partitions; two more join while it consumes and each ends with two, the first
// member giving up only the partitions that move (it keeps the others throughout, nobody
// loses partitions); one leaves and the others share its partitions; one dies and after
// the session timeout the survivor owns everything; every record is processed once.
func TestConsumerProtocolKgoScale(t *testing.T) {
	s := servertest.StartBroker(t, "", consumerSettings(map[string]string{"group.consumer.session.timeout.ms": "2000"}))
	addr := s.Addr().String()
	groupTopic(t, addr, "k848", 6, 300)
	tr, rv := &tracker{}, &revocations{}
	startConsumer(t, "m1", tr, consumer848Opts(addr, "g", "k848", rv.opts("m1")...)...)
	first := stableWith(t, addr, "g", 6)
	m1 := firstKey(first)
	waitFor(t, "the first 300 records", 30*time.Second, func() bool { return tr.count() == 300 })
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("k848"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	// Partitions move to the new members from the committed offsets: m1 must have
	// committed what it processed, or the new owners process it again (at least once).
	waitCommitted(t, pcl, "g", 300)

	d := &cutDialer{}
	m2 := startConsumer(t, "m2", tr, consumer848Opts(addr, "g", "k848", rv.opts("m2")...)...)
	victim := startConsumer(t, "m3", tr, consumer848Opts(addr, "g", "k848", append(rv.opts("m3"), kgo.Dialer(d.dial))...)...)
	a := stableWith(t, addr, "g", 2, 2, 2)
	revoked, lost := rv.of("m1")
	if len(revoked) != 4 || lost != 0 {
		t.Fatalf("m1 revoked %v (want the 4 partitions that moved), lost %d times", revoked, lost)
	}
	for _, p := range a[m1] {
		if slices.Contains(revoked, p) {
			t.Fatalf("m1 keeps %v but revoked %d on the way", a[m1], p)
		}
	}

	produce(t, pcl, 300, 300)
	waitFor(t, "600 records", 30*time.Second, func() bool { return tr.count() == 600 })
	waitCommitted(t, pcl, "g", 600)

	m2.close() // leaves: the two others share its partitions
	stableWith(t, addr, "g", 3, 3)
	d.sever() // m3 dies: m1 gets everything once its session expires
	stableWith(t, addr, "g", 6)
	produce(t, pcl, 300, 600)
	waitFor(t, "900 records", 30*time.Second, func() bool { return tr.count() == 900 })
	if _, lost := rv.of("m1"); lost != 0 {
		t.Errorf("m1 lost partitions %d times", lost)
	}
	tr.mu.Lock()
	for k, ms := range tr.seen {
		if len(ms) != 1 {
			t.Errorf("record %s processed by %v", k, ms)
		}
	}
	tr.mu.Unlock()
	go victim.close()
}

// TestConsumerProtocolKgoRegexRestart (franz-go, kgo.ServerSideBalancer): a regular
// expression subscription picks up a topic created later; the group, its epoch and its
// members survive a broker restart.
func TestConsumerProtocolKgoRegexRestart(t *testing.T) {
	dir := t.TempDir()
	settings := consumerSettings(nil)
	s := servertest.StartBroker(t, dir, settings)
	addr := s.Addr().String()
	groupTopic(t, addr, "rx-a", 4, 100)
	tr := &tracker{}
	regex := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("rx-.*"), kgo.ConsumeRegex(),
		kgo.ServerSideBalancer(), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond), kgo.MetadataMaxAge(time.Second), kgo.MetadataMinAge(100 * time.Millisecond)}
	startConsumer(t, "r1", tr, regex...)
	r2 := startConsumer(t, "r2", tr, regex...)
	stableWith(t, addr, "g", 2, 2)
	waitFor(t, "100 records", 30*time.Second, func() bool { return tr.count() == 100 })

	groupTopic(t, addr, "rx-b", 2, 0) // matches the regex: the group takes it up
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("rx-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	produce(t, pcl, 50, 100)
	stableWith(t, addr, "g", 3, 3)
	waitFor(t, "150 records", 30*time.Second, func() bool { return tr.count() == 150 })

	// The broker restarts: the group comes back with its epoch and members.
	epoch := func() int32 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"g"}
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Groups[0].Epoch
	}
	e := epoch()
	_, before := describeConsumer(t, addr, "g")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = servertest.StartBroker(t, dir, settings)
	addr = s.Addr().String()
	if st, after := describeConsumer(t, addr, "g"); st != "Stable" || !maps.EqualFunc(before, after, slices.Equal) {
		t.Fatalf("after restart: %s %v, was %v", st, after, before)
	}
	if e2 := epoch(); e2 != e {
		t.Fatalf("group epoch %d after restart, was %d", e2, e)
	}
	go r2.close() // its broker is gone: Close runs out in the background
}

// TestConsumerProtocolKgoClassicMember (franz-go): a classic member (cooperative-sticky,
// JoinGroup/SyncGroup) joins a consumer group whose KIP-848 member consumes: the broker
// assigns it half the partitions, the KIP-848 member giving up only those; both consume,
// and when the classic member leaves the other takes its partitions back; every record
// is processed once.
func TestConsumerProtocolKgoClassicMember(t *testing.T) {
	s := servertest.StartBroker(t, "", consumerSettings(nil))
	addr := s.Addr().String()
	groupTopic(t, addr, "mixed", 6, 300)
	tr, rv := &tracker{}, &revocations{}
	startConsumer(t, "m848", tr, consumer848Opts(addr, "g", "mixed", rv.opts("m848")...)...)
	m848 := firstKey(stableWith(t, addr, "g", 6))
	waitFor(t, "the first 300 records", 30*time.Second, func() bool { return tr.count() == 300 })
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("mixed"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	// Partitions move from the committed offsets: a member must have committed what it
	// processed before it gives partitions up, or their next owner processes it again.
	waitCommitted(t, pcl, "g", 300)

	classic := startConsumer(t, "classic", tr, groupOpts(addr, "g", "mixed", rv.opts("classic")...)...)
	a := stableWith(t, addr, "g", 3, 3)
	if revoked, lost := rv.of("m848"); len(revoked) != 3 || lost != 0 {
		t.Fatalf("the KIP-848 member revoked %v (want the 3 partitions that moved), lost %d times", revoked, lost)
	}
	dreq := kmsg.NewPtrConsumerGroupDescribeRequest()
	dreq.Version, dreq.Groups = 1, []string{"g"}
	dresp := wireRequest(t, s, dreq).(*kmsg.ConsumerGroupDescribeResponse)
	types := map[string]int8{}
	for _, m := range dresp.Groups[0].Members {
		types[m.MemberID] = m.MemberType
	}
	if len(types) != 2 || types[m848] != 1 || slices.Index(slices.Collect(maps.Values(types)), 0) < 0 {
		t.Fatalf("member types (0 classic, 1 consumer): %v", types)
	}
	produce(t, pcl, 300, 300)
	waitFor(t, "600 records", 30*time.Second, func() bool { return tr.count() == 600 })
	waitCommitted(t, pcl, "g", 600)
	tr.mu.Lock()
	byClassic := 0
	for _, ms := range tr.seen {
		if slices.Contains(ms, "classic") {
			byClassic++
		}
	}
	tr.mu.Unlock()
	if byClassic == 0 {
		t.Fatalf("the classic member processed no record (assignment %v)", a)
	}

	classic.close() // LeaveGroup: the KIP-848 member gets its partitions back
	if got := stableWith(t, addr, "g", 6); got[m848] == nil {
		t.Fatalf("after the classic member left: %v", got)
	}
	produce(t, pcl, 300, 600)
	waitFor(t, "900 records", 30*time.Second, func() bool { return tr.count() == 900 })
	tr.mu.Lock()
	for k, ms := range tr.seen {
		if len(ms) != 1 {
			t.Errorf("record %s processed by %v", k, ms)
		}
	}
	tr.mu.Unlock()
}

// TestConsumerProtocolKgoRollingUpgrade (franz-go): two classic consumers
// (cooperative-sticky) share a topic; they are replaced one by one by KIP-848 members
// (kgo.ServerSideBalancer): the first KIP-848 member converts the group online, and no
// record is processed twice or lost (commit after process) while records keep coming.
func TestConsumerProtocolKgoRollingUpgrade(t *testing.T) {
	s := servertest.StartBroker(t, "", consumerSettings(nil))
	addr := s.Addr().String()
	groupTopic(t, addr, "roll", 6, 300)
	tr := &tracker{}
	c1 := startConsumer(t, "c1", tr, groupOpts(addr, "g", "roll")...)
	c2 := startConsumer(t, "c2", tr, groupOpts(addr, "g", "roll")...)
	waitFor(t, "the first 300 records", 30*time.Second, func() bool { return tr.count() == 300 })
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("roll"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	next := 300
	more := func(what string) {
		t.Helper()
		produce(t, pcl, 150, next)
		next += 150
		waitFor(t, fmt.Sprintf("%d records (%s)", next, what), 30*time.Second, func() bool { return tr.count() == next })
		waitCommitted(t, pcl, "g", next) // a member closed next must not leave processed records uncommitted
	}

	startConsumer(t, "n1", tr, consumer848Opts(addr, "g", "roll")...)
	stableWith(t, addr, "g", 2, 2, 2) // converted: two classic members and a KIP-848 one
	more("after the upgrade")
	c1.close()
	startConsumer(t, "n2", tr, consumer848Opts(addr, "g", "roll")...)
	stableWith(t, addr, "g", 2, 2, 2)
	more("one classic member left")
	c2.close()
	stableWith(t, addr, "g", 3, 3)
	more("KIP-848 members only")
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, ms := range tr.seen {
		if len(ms) != 1 {
			t.Errorf("record %s processed by %v", k, ms)
		}
	}
}

// TestConsumerProtocolKgoRollingDowngrade (franz-go): the reverse of the rolling upgrade:
// two KIP-848 members are replaced one by one by classic consumers; when the last KIP-848
// member leaves, the group becomes a classic group online, and no record is processed
// twice or lost.
func TestConsumerProtocolKgoRollingDowngrade(t *testing.T) {
	s := servertest.StartBroker(t, "", consumerSettings(nil))
	addr := s.Addr().String()
	groupTopic(t, addr, "down", 6, 300)
	tr := &tracker{}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("down"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	// n2 joins once n1 has processed and committed the first records: partitions that
	// move from n1 while it processes records it has not committed yet (kgo revokes them
	// between PollFetches and the commit) are processed again by n2, as at-least-once
	// allows; the test counts every record once.
	n1 := startConsumer(t, "n1", tr, consumer848Opts(addr, "g", "down")...)
	stableWith(t, addr, "g", 6)
	waitFor(t, "the first 300 records", 30*time.Second, func() bool { return tr.count() == 300 })
	waitCommitted(t, pcl, "g", 300)
	n2 := startConsumer(t, "n2", tr, consumer848Opts(addr, "g", "down")...)
	stableWith(t, addr, "g", 3, 3)
	next := 300
	more := func(what string) {
		t.Helper()
		produce(t, pcl, 150, next)
		next += 150
		waitFor(t, fmt.Sprintf("%d records (%s)", next, what), 30*time.Second, func() bool { return tr.count() == next })
		waitCommitted(t, pcl, "g", next) // a member closed next must not leave processed records uncommitted
	}

	startConsumer(t, "c1", tr, groupOpts(addr, "g", "down")...)
	stableWith(t, addr, "g", 2, 2, 2)
	more("a classic member joined")
	n1.close()
	startConsumer(t, "c2", tr, groupOpts(addr, "g", "down")...)
	stableWith(t, addr, "g", 2, 2, 2)
	more("one KIP-848 member left")
	n2.close() // the last KIP-848 member: the group becomes classic
	waitFor(t, "a classic group", 30*time.Second, func() bool {
		st, _ := describeConsumer(t, addr, "g")
		return st == kerr.GroupIDNotFound.Error()
	})
	waitFor(t, "the classic group stable with both members", 30*time.Second, func() bool {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"g"}
		g := wireRequest(t, s, req).(*kmsg.DescribeGroupsResponse).Groups[0]
		return g.State == "Stable" && len(g.Members) == 2 && g.ProtocolType == "consumer"
	})
	more("classic members only")
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, ms := range tr.seen {
		if len(ms) != 1 {
			t.Errorf("record %s processed by %v", k, ms)
		}
	}
}

// waitCommitted waits until group's committed offsets add up to total (its members
// commit after they process: a member closed between the two would leave processed
// records to be processed again by the next owner, which at-least-once allows).
func waitCommitted(t *testing.T, cl *kgo.Client, group string, total int) {
	t.Helper()
	adm := kadm.NewClient(cl)
	waitFor(t, fmt.Sprintf("%d records committed by %s", total, group), 30*time.Second, func() bool {
		resp, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return false
		}
		var n int64
		resp.Each(func(o kadm.OffsetResponse) { n += o.At })
		return n == int64(total)
	})
}
