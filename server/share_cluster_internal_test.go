package server

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/share"
)

// startShareCluster starts three nodes serving share groups (from the earliest offset,
// locks of 30 s) with three partitions of __share_group_state, created and led before it
// returns, and a topic q of three partitions, three replicas each (all in sync), holding
// 30 records (10 a partition, values 0-29).
func startShareCluster(t *testing.T, ctx context.Context) (*testCluster, metadata.Topic) {
	t.Helper()
	return startShareClusterWith(t, ctx, 3)
}

// startShareClusterWith is startShareCluster with statePartitions partitions of
// __share_group_state.
func startShareClusterWith(t *testing.T, ctx context.Context, statePartitions int32) (*testCluster, metadata.Topic) {
	t.Helper()
	cfg := share.DefaultConfig()
	cfg.AutoOffsetReset, cfg.RecordLockDuration, cfg.HeartbeatInterval = "earliest", 30*time.Second, 200*time.Millisecond
	c := startClusterFunc(t, func(o *Options) {
		o.Settings["group.coordinator.rebalance.protocols"] = "classic,consumer,share"
		o.Settings[shareStateSetting] = strconv.Itoa(int(statePartitions))
		o.Settings["offsets.topic.num.partitions"] = "3"
		o.ShareConfigs = share.StaticConfigs(cfg)
	})
	n := c.nodes[0]
	if err := n.createInternalTopic(ctx, metadata.ShareGroupStateTopic, shareStateSetting, 3); err != nil {
		t.Fatal(err)
	}
	if err := n.createInternalTopic(ctx, metadata.ConsumerOffsetsTopic, "offsets.topic.num.partitions", 3); err != nil {
		t.Fatal(err)
	}
	q, err := n.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "q", Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	c.waitForLeaders(t, metadata.ShareGroupStateTopic, metadata.ConsumerOffsetsTopic, "q")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "q", Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Every replica in sync (a follower joins the ISR once caught up): any can take over.
	waitFor(t, func() bool {
		q, _ = n.image().Topic("q")
		return !slices.ContainsFunc(q.Partitions, func(p metadata.PartitionState) bool { return len(p.ISR) != 3 })
	})
	return c, *q
}

// waitForLeaders waits until every node's image has the topics names, each partition
// with a leader.
func (c *testCluster) waitForLeaders(t *testing.T, names ...string) {
	t.Helper()
	waitFor(t, func() bool {
		for _, s := range c.nodes {
			for _, name := range names {
				tp, ok := s.image().Topic(name)
				if !ok || slices.ContainsFunc(tp.Partitions, func(p metadata.PartitionState) bool { return p.Leader < 0 }) {
					return false
				}
			}
		}
		return true
	})
}

// node is the node of id.
func (c *testCluster) node(id int32) *Server {
	for _, s := range c.nodes {
		if s != nil && s.opts.NodeID == id {
			return s
		}
	}
	return nil
}

func (c *testCluster) addrs() []string {
	var out []string
	for _, s := range c.nodes {
		if s != nil {
			out = append(out, s.Addr().String())
		}
	}
	return out
}

// shareCoordinatorOf is the broker coordinating group's share-partition of q-p in s's image.
func shareCoordinatorOf(s *Server, group string, q metadata.Topic, p int32) int32 {
	st, _ := s.image().Topic(metadata.ShareGroupStateTopic)
	k := share.Key{Group: group, TopicID: q.ID, Partition: p}
	return st.Partitions[coord.PartitionFor(k.CoordinatorKey(), st.NumPartitions())].Leader
}

// consumeShareCluster polls a share consumer of group on q seeded with addrs until it got
// want records, handing each to ack, and returns it with the values it got; diag, if
// set, logs what may explain a timeout.
func consumeShareCluster(ctx context.Context, t *testing.T, addrs []string, group string, want int, ack func(*kgo.Record), diag func()) (*kgo.Client, map[string]int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("q"), kgo.ShareGroup(group), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for n := 0; n < want; {
		if ctx.Err() != nil {
			if diag != nil {
				diag()
			}
			t.Fatalf("%d records of %d within the deadline: %v", n, want, seen)
		}
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			n++
			ack(r)
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	return cl, seen
}

// TestClusterShareGroup: a share group on a three-broker cluster, picked so that a
// share-partition's coordinator (the leader of its partition of __share_group_state) is
// not the leader of its topic partition: a member gets every record once, accepted; the
// states went to their coordinators (ReadShareGroupState on each: start offset 10); the
// membership is on the group's coordinator only (NOT_COORDINATOR elsewhere), the
// share-partitions on their leaders only (NOT_LEADER_OR_FOLLOWER elsewhere).
func TestClusterShareGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	n := c.nodes[0]
	// Every API of share groups is advertised, the offsets APIs (90-92) too.
	resp := kmsg.NewPtrApiVersionsResponse()
	n.fillAPIVersions(resp)
	advertised := 0
	for _, k := range resp.ApiKeys {
		if shareAPIs[k.ApiKey] {
			advertised++
		}
	}
	if advertised != len(shareAPIs) {
		t.Errorf("advertises %d APIs of share groups on a cluster, want %d", advertised, len(shareAPIs))
	}
	group := ""
	for i := 0; group == ""; i++ {
		g := "sg" + strconv.Itoa(i)
		for p := range int32(3) {
			if shareCoordinatorOf(n, g, q, p) != q.Partitions[p].Leader {
				group = g
			}
		}
	}
	cl, seen := consumeShareCluster(ctx, t, c.addrs(), group, 30, func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, nil)
	defer cl.Close()
	for i := range 30 {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("record %d delivered %d times: %v", i, seen[strconv.Itoa(i)], seen)
		}
	}
	for p := range int32(3) {
		coordinator := shareCoordinatorOf(n, group, q, p)
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = group
		req.Topics = []kmsg.ReadShareGroupStateRequestTopic{{TopicID: q.ID, Partitions: []kmsg.ReadShareGroupStateRequestTopicPartition{{Partition: p, LeaderEpoch: -1}}}}
		for _, s := range c.nodes {
			got := rawRequest(ctx, t, s, req).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0]
			switch {
			case s.opts.NodeID == coordinator && (got.ErrorCode != 0 || got.StartOffset != 10):
				t.Errorf("q-%d on its coordinator %d: %+v", p, coordinator, got)
			case s.opts.NodeID != coordinator && got.ErrorCode != kerr.NotCoordinator.Code:
				t.Errorf("q-%d on node %d, not its coordinator: error %v", p, s.opts.NodeID, kerr.ErrorForCode(got.ErrorCode))
			}
		}
	}
	groupCoordinator := func() int32 {
		o, _ := n.image().Topic(metadata.ConsumerOffsetsTopic)
		return o.Partitions[coord.PartitionFor(group, o.NumPartitions())].Leader
	}()
	for _, s := range c.nodes {
		d := kmsg.NewPtrShareGroupDescribeRequest()
		d.GroupIDs = []string{group}
		got := rawRequest(ctx, t, s, d).(*kmsg.ShareGroupDescribeResponse).Groups[0]
		want := kerr.NotCoordinator.Code
		if s.opts.NodeID == groupCoordinator {
			want = 0
		}
		if got.ErrorCode != want {
			t.Errorf("ShareGroupDescribe on node %d (coordinator %d): error %v", s.opts.NodeID, groupCoordinator, kerr.ErrorForCode(got.ErrorCode))
		}
		// A share fetch of a partition s does not lead: NOT_LEADER_OR_FOLLOWER.
		other := slices.IndexFunc(q.Partitions, func(p metadata.PartitionState) bool { return p.Leader != s.opts.NodeID })
		sf := kmsg.NewPtrShareFetchRequest()
		g, m := group, "someone"
		sf.GroupID, sf.MemberID, sf.MaxRecords = &g, &m, 10
		sf.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: q.ID, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: int32(other), PartitionMaxBytes: 1 << 20}}}}
		fr := rawRequest(ctx, t, s, sf).(*kmsg.ShareFetchResponse)
		if fr.ErrorCode != 0 || len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("ShareFetch on node %d of q-%d, which it does not lead: %+v", s.opts.NodeID, other, fr)
		}
	}
}

// TestClusterShareGroupFailover: a member accepts records 0-4 of each partition of q and
// keeps 5-9 acquired; the broker leading q-0 (and coordinating share-partitions of
// partitions other brokers lead: the group is picked so) shuts down, so q-0's leadership
// moves and so do partitions of __share_group_state (their new leaders replay them). The
// member's connections close (releasing what it held on the live leaders); a second
// member gets exactly the records that were not accepted, each once: the new leader of
// q-0 read its state from the coordinator and delivers the records acquired on the old
// leader again, never an accepted one.
func TestClusterShareGroupFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c, q := startShareCluster(t, ctx)
	n := c.nodes[0]
	victim := q.Partitions[0].Leader
	group := ""
	for i := 0; group == ""; i++ {
		g := "sg" + strconv.Itoa(i)
		remote, coordinates := shareCoordinatorOf(n, g, q, 0) != victim, false
		for p := range int32(3) {
			coordinates = coordinates || (q.Partitions[p].Leader != victim && shareCoordinatorOf(n, g, q, p) == victim)
		}
		if remote && coordinates {
			group = g
		}
	}
	// A member acquires the ten records of each partition from its leader (on the wire:
	// franz-go accepts what a poll left unacknowledged at the next poll), accepts 0-4
	// and keeps 5-9 acquired.
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	g, m := group, "raw-member"
	for p := range int32(3) {
		br := raw.Broker(int(q.Partitions[p].Leader))
		fetch := func(epoch int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) kmsg.ShareFetchResponseTopicPartition {
			req := kmsg.NewPtrShareFetchRequest()
			req.GroupID, req.MemberID, req.ShareSessionEpoch, req.MaxRecords, req.MaxBytes = &g, &m, epoch, 10, 1<<20
			if epoch == 0 {
				req.MaxWaitMillis, req.MinBytes = 5000, 1
			}
			req.Topics = []kmsg.ShareFetchRequestTopic{{TopicID: q.ID, Partitions: []kmsg.ShareFetchRequestTopicPartition{{Partition: p, PartitionMaxBytes: 1 << 20, AcknowledgementBatches: acks}}}}
			resp, err := req.RequestWith(ctx, br)
			if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("q-%d: share fetch at epoch %d: %+v %v", p, epoch, resp, err)
			}
			return resp.Topics[0].Partitions[0]
		}
		got := fetch(0)
		if got.ErrorCode != 0 || len(got.AcquiredRecords) != 1 || got.AcquiredRecords[0].FirstOffset != 0 || got.AcquiredRecords[0].LastOffset != 9 {
			t.Fatalf("q-%d: acquired %+v", p, got)
		}
		got = fetch(1, kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{FirstOffset: 0, LastOffset: 4, AcknowledgeTypes: []int8{1}})
		if got.AcknowledgeErrorCode != 0 {
			t.Fatalf("q-%d: accepting 0-4: %v", p, kerr.ErrorForCode(got.AcknowledgeErrorCode))
		}
	}
	i := slices.IndexFunc(c.nodes, func(s *Server) bool { return s.opts.NodeID == victim })
	if err := c.nodes[i].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[i] = nil
	raw.Close() // its sessions on the live leaders close: what it held there is released

	diag := func() {
		for _, s := range c.nodes {
			if s == nil {
				continue
			}
			tq, _ := s.image().Topic("q")
			if p, err := s.data.replicas.Lookup("q", 0, -1); err == nil {
				t.Logf("node %d leads q-0 (%+v): high watermark %d", s.opts.NodeID, tq.Partitions[0], p.HighWatermark())
			}
			st, ok, err := s.data.shares.states.ReadAt(share.Key{Group: group, TopicID: q.ID, Partition: 0}, -1)
			t.Logf("node %d reads the state of q-0: %+v %v %v", s.opts.NodeID, st, ok, err)
		}
	}
	var want []string
	for i := 15; i < 30; i++ {
		want = append(want, strconv.Itoa(i))
	}
	cl2, again := consumeShareCluster(ctx, t, c.addrs(), group, len(want), func(r *kgo.Record) { r.Ack(kgo.AckAccept) }, diag)
	defer cl2.Close()
	// Nothing more: a short poll gets no further record.
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	cl2.PollFetches(pctx).EachRecord(func(r *kgo.Record) { again[string(r.Value)]++ })
	pcancel()
	var got []string
	for v, times := range again {
		if times != 1 {
			t.Errorf("record %s delivered %d times after the failover", v, times)
		}
		got = append(got, v)
	}
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if !slices.Equal(got, want) {
		t.Fatalf("after the failover delivered %v, want %v", got, want)
	}
}

// rawRequest sends req to s on a connection of its own and returns the answer.
func rawRequest(ctx context.Context, t *testing.T, s *Server, req kmsg.Request) kmsg.Response {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestCoordinatorReplayToLogEnd: a coordinator partition's replay (at a Load, when this
// broker becomes its leader) reads up to the log end, also above a high watermark that
// lags it (a follower just made leader learned the former leader's high watermark only
// with its next fetch): the former leader's last acknowledged writes are in the rebuilt
// state.
func TestCoordinatorReplayToLogEnd(t *testing.T) {
	s, err := Start(&Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &offsetsPartition{s: s, topic: metadata.ShareGroupStateTopic, setting: shareStateSetting, index: 0}
	p, err := l.partition(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(testutil.Batch(testutil.BatchOptions{Records: 2, KeySize: 4})); err != nil {
		t.Fatal(err)
	}
	p.SetHWPolicy(partition.HWExternal) // the high watermark stays at 2 from now on
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{Records: 3, KeySize: 4})); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("high watermark %d, want 2", hw)
	}
	var records int
	if err := l.Replay(func(b []byte) error {
		h, err := batch.ParseHeader(b)
		records += int(h.LastOffset() - h.BaseOffset + 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if records != 5 {
		t.Fatalf("replayed %d records, want the log's 5", records)
	}
}

// TestClusterShareGroupCoordinatorMoves: two franz-go share consumers of a group whose
// coordinator (the leader of its partition of __consumer_offsets) leads no partition of
// the topic they read nor of __share_group_state (one partition here); that broker shuts
// down while they consume, so only the group's coordinator moves. The next coordinator knows
// the group from its records: the members heartbeat on with their epochs (no
// UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH anywhere), ShareGroupDescribe shows the same
// members, and every record, before and after the move, is delivered once. Once the
// members left, DeleteGroups on the new coordinator deletes the group's share-partition
// states at their coordinators.
func TestClusterShareGroupCoordinatorMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	c, _ := startShareClusterWith(t, ctx, 1)
	n := c.nodes[0]
	offsets, _ := n.image().Topic(metadata.ConsumerOffsetsTopic)
	states, _ := n.image().Topic(metadata.ShareGroupStateTopic)
	p := slices.IndexFunc(offsets.Partitions, func(p metadata.PartitionState) bool { return p.Leader != states.Partitions[0].Leader })
	if p < 0 {
		t.Fatalf("the share coordinator leads every partition of __consumer_offsets: %+v", offsets.Partitions)
	}
	victim := offsets.Partitions[p].Leader
	group := ""
	for i := 0; group == ""; i++ {
		if g := "sg" + strconv.Itoa(i); coord.PartitionFor(g, offsets.NumPartitions()) == int32(p) {
			group = g
		}
	}
	var others []int32
	for _, s := range c.nodes {
		if s.opts.NodeID != victim {
			others = append(others, s.opts.NodeID)
		}
	}
	w, err := n.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "w", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{others[0], others[1]}, {others[1], others[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		for _, s := range c.nodes {
			o, _ := s.image().Topic(metadata.ConsumerOffsetsTopic)
			tw, ok := s.image().Topic("w")
			if !ok || len(o.Partitions[p].ISR) != 3 || slices.ContainsFunc(tw.Partitions, func(p metadata.PartitionState) bool { return len(p.ISR) != 2 }) {
				return false
			}
		}
		return true
	})
	produce := func(from, to int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "w", Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var consumers []*kgo.Client
	for range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.ConsumeTopics("w"), kgo.ShareGroup(group), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		consumers = append(consumers, cl)
		wg.Go(func() {
			for cctx.Err() == nil {
				cl.PollFetches(cctx).EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
					r.Ack(kgo.AckAccept)
				})
			}
		})
	}
	describe := func(s *Server) kmsg.ShareGroupDescribeResponseGroup {
		d := kmsg.NewPtrShareGroupDescribeRequest()
		d.GroupIDs = []string{group}
		return rawRequest(ctx, t, s, d).(*kmsg.ShareGroupDescribeResponse).Groups[0]
	}
	memberIDs := func(g kmsg.ShareGroupDescribeResponseGroup) []string {
		var ids []string
		for _, m := range g.Members {
			ids = append(ids, m.MemberID)
		}
		slices.Sort(ids)
		return ids
	}
	defer func() { // on a failure too: the consumers stop before the cluster
		stop()
		wg.Wait()
		for _, cl := range consumers {
			cl.Close()
		}
	}()
	vi := slices.IndexFunc(c.nodes, func(s *Server) bool { return s.opts.NodeID == victim })
	produce(0, 40)
	waitFor(t, func() bool { return total() == 40 && len(describe(c.nodes[vi]).Members) == 2 })
	before := memberIDs(describe(c.nodes[vi]))

	if err := c.nodes[vi].Close(); err != nil {
		t.Fatal(err)
	}
	c.nodes[vi] = nil
	live := c.nodes[(vi+1)%len(c.nodes)]
	// Until the controller sees the broker gone and elects new leaders: bounded by ctx.
	waitCtx := func(cond func() bool) {
		for !cond() {
			if ctx.Err() != nil {
				for _, name := range []string{metadata.ConsumerOffsetsTopic, metadata.ShareGroupStateTopic, "w"} {
					tp, _ := live.image().Topic(name)
					t.Logf("%s: %+v", name, tp.Partitions)
				}
				mu.Lock()
				t.Logf("delivered %v", seen)
				mu.Unlock()
				t.Fatalf("not within the deadline: %d records of 80", total())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	produce(40, 80)
	waitCtx(func() bool { return total() == 80 })
	var next *Server
	waitCtx(func() bool {
		o, _ := live.image().Topic(metadata.ConsumerOffsetsTopic)
		i := slices.IndexFunc(c.nodes, func(s *Server) bool { return s != nil && s.opts.NodeID == o.Partitions[p].Leader })
		if i < 0 {
			return false
		}
		next = c.nodes[i]
		d := describe(next)
		return d.ErrorCode == 0 && len(d.Members) == 2
	})
	if after := memberIDs(describe(next)); !slices.Equal(after, before) {
		t.Errorf("members %v after the move, %v before", after, before)
	}
	for _, s := range c.nodes {
		if s == nil {
			continue
		}
		hb := s.metrics.api(76)
		for _, code := range []int16{kerr.UnknownMemberID.Code, kerr.FencedMemberEpoch.Code} {
			if got := hb.errors[code+1].Load(); got != 0 {
				t.Errorf("node %d answered %d ShareGroupHeartbeats %v", s.opts.NodeID, got, kerr.ErrorForCode(code))
			}
		}
	}
	stop()
	wg.Wait()
	for _, cl := range consumers {
		cl.Close() // leaves the group
	}
	consumers = nil
	mu.Lock()
	for i := range 80 {
		if got := seen[strconv.Itoa(i)]; got != 1 {
			t.Errorf("record %d delivered %d times", i, got)
		}
	}
	mu.Unlock()

	// DeleteGroups on the new coordinator, which knows the group from its records only:
	// its states go at their coordinators.
	waitCtx(func() bool { return len(describe(next).Members) == 0 })
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group}
	if got := rawRequest(ctx, t, next, del).(*kmsg.DeleteGroupsResponse).Groups[0]; got.ErrorCode != 0 {
		t.Fatalf("DeleteGroups on the new coordinator: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	for p := range int32(2) {
		if st, ok, err := next.data.shares.states.ReadAt(share.Key{Group: group, TopicID: w.ID, Partition: p}, -1); ok || err != nil {
			t.Errorf("w-%d's state after DeleteGroups: %+v %v %v", p, st, ok, err)
		}
	}
}
