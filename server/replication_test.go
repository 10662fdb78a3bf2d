package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// hostedPartition returns node s's replica of partition index of topic, or nil.
func hostedPartition(s *Server, topic string, index int32) *partition.Partition {
	for _, p := range s.data.replicas.Hosted() {
		if p.Topic() == topic && p.Index() == index {
			return p
		}
	}
	return nil
}

// wholeLog returns p's log from its start to its log end offset.
func wholeLog(t *testing.T, p *partition.Partition) []byte {
	t.Helper()
	var out []byte
	for off := p.LogStartOffset(); off < p.EndOffset(); {
		res, err := p.Read(off, 1<<20, partition.ReadLogEnd)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) == 0 {
			break
		}
		out = append(out, res.Records...)
		for rest := res.Records; len(rest) > 0; {
			sz, _ := batch.Next(rest)
			h, _ := batch.ParseHeader(rest[:sz])
			off, rest = h.LastOffset()+1, rest[sz:]
		}
	}
	return out
}

// TestClusterFollowersReplicate: the followers of a topic with replication factor 3
// replicate its leaders' logs byte for byte (offsets, leader epochs, producer ids kept)
// through follower fetches, with the leader's high watermark; the leader answers a
// follower fetch from a broker that holds no replica with UNKNOWN_LEADER_EPOCH.
func TestClusterFollowersReplicate(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "repl", Partitions: 2, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 200 {
		r := &kgo.Record{Topic: "repl", Partition: int32(i % 2), Value: fmt.Appendf(nil, "record %d", i)}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	for i, st := range tp.Partitions {
		leader := hostedPartition(c.nodes[st.Leader-1], "repl", int32(i))
		if leader == nil || !leader.IsLeader() || leader.EndOffset() != 100 {
			t.Fatalf("partition %d: leader %d's replica %v", i, st.Leader, leader)
		}
		want := wholeLog(t, leader)
		for n, s := range c.nodes {
			f := hostedPartition(s, "repl", int32(i))
			if f == leader {
				continue
			}
			if f == nil || f.IsLeader() {
				t.Fatalf("partition %d: node %d has no follower replica", i, n+1)
			}
			waitFor(t, func() bool {
				return f.DurableEnd() == leader.EndOffset() && f.HighWatermark() == leader.HighWatermark()
			})
			if !bytes.Equal(wholeLog(t, f), want) {
				t.Errorf("partition %d: node %d's log differs from the leader's", i, n+1)
			}
			if e := f.LatestEpoch(); e != leader.LeaderEpoch() {
				t.Errorf("partition %d: node %d's latest epoch %d, want the leader's %d", i, n+1, e, leader.LeaderEpoch())
			}
		}
	}

	// Caught up, the followers join the ISR, on every node's image.
	waitFor(t, func() bool {
		for _, s := range c.nodes {
			tp, _ := s.image().TopicByID(tp.ID)
			for _, st := range tp.Partitions {
				if len(st.ISR) != 3 {
					return false
				}
			}
		}
		return true
	})

	// A broker that holds no replica of the partition.
	st := tp.Partitions[0]
	ocl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[st.Leader-1].Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer ocl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaState.ID, req.MaxBytes = 15, 99, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = tp.ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = 0, st.LeaderEpoch, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, ocl.SeedBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("follower fetch from broker 99: %v, want UNKNOWN_LEADER_EPOCH", kerr.ErrorForCode(got))
	}
}

// TestReplicaTransport: the follower's transport finds a broker by its registration (the
// endpoint of the inter-broker listener's name), answers a request, fails for a broker that is not registered, and a cancelled context
// interrupts a request whose answer never comes (the connection is dialled again after).
func TestReplicaTransport(t *testing.T) {
	s := startTest(t, nil)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accepts and never answers
		for {
			nc, err := silent.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
		}
	}()
	host, port := hostPort(silent.Addr().String())
	im := s.image().Edit().PutBroker(metadata.Broker{ID: 7, Endpoints: []metadata.Endpoint{
		{Listener: "SSL", SecurityProtocol: "SSL", Host: "127.0.0.1", Port: 1},
		{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: host, Port: port},
	}}).Build()
	tr := newReplicaTransport(1, func() *metadata.Image { return im }, &interBroker{listener: Listener{Name: "PLAINTEXT", SecurityProtocol: Plaintext}})
	defer tr.Close()
	ctx := t.Context()

	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version, req.ReplicaID = 4, 1
	resp, err := tr.Request(ctx, s.opts.NodeID, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.(*kmsg.OffsetForLeaderEpochResponse); !ok {
		t.Fatalf("answer %T", resp)
	}
	if _, err := tr.Request(ctx, 42, req); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("unregistered broker: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := tr.Request(cctx, 7, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent broker: %v, want the context's deadline", err)
	}
	tr.Close()
	if _, err := tr.Request(ctx, s.opts.NodeID, req); !errors.Is(err, errTransportClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// FuzzSkipTaggedFields: a response header's tagged fields are skipped without a panic,
// leaving a suffix of the input.
func FuzzSkipTaggedFields(f *testing.F) {
	f.Add([]byte{0, 1, 2})
	f.Add([]byte{1, 5, 2, 0xaa, 0xbb, 9})
	f.Add([]byte{2, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest, err := skipTaggedFields(b)
		if err == nil && !bytes.HasSuffix(b, rest) {
			t.Fatalf("%x: rest %x is not a suffix", b, rest)
		}
	})
}

// TestClusterFailover: with the ISR full, acks=all records are on every replica when
// acknowledged; when the leader of a partition shuts down its leadership moves to an
// in-sync follower with a new leader epoch, which has every acknowledged record; produce
// and consume go on through it, and the remaining follower replicates from the new
// leader; the old leader, restarted, truncates to the new leader's log, catches up and
// rejoins the ISR.
func TestClusterFailover(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "fo", Partitions: 1, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { // the followers fetch, catch up and join
		tp, _ := c.nodes[0].image().TopicByID(tp.ID)
		return len(tp.Partitions[0].ISR) == 3
	})
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("fo"), kgo.ConsumeTopics("fo"),
		kgo.RetryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 50)
	cur, _ := c.nodes[0].image().TopicByID(tp.ID)
	old := cur.Partitions[0]
	for _, s := range c.nodes { // acks=all: on disk on every in-sync replica
		if p := hostedPartition(s, "fo", 0); p.DurableEnd() < 50 {
			t.Fatalf("node %d: durable end %d after 50 acknowledged records", s.opts.NodeID, p.DurableEnd())
		}
	}

	if err := c.nodes[old.Leader-1].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var live []*Server
	for _, s := range c.nodes {
		if s.opts.NodeID != old.Leader {
			live = append(live, s)
		}
	}
	var now metadata.PartitionState
	waitFor(t, func() bool {
		tp, _ := live[0].image().TopicByID(tp.ID)
		now = tp.Partitions[0]
		return now.Leader != old.Leader && now.Leader != metadata.NoLeader
	})
	if now.LeaderEpoch <= old.LeaderEpoch || !slices.Contains(old.ISR, now.Leader) {
		t.Fatalf("after the leader's shutdown: %+v, was %+v", now, old)
	}
	produce(50, 100)
	leader := hostedPartition(c.nodes[now.Leader-1], "fo", 0)
	for _, s := range live {
		f := hostedPartition(s, "fo", 0)
		waitFor(t, func() bool { return f.DurableEnd() == leader.EndOffset() })
		if !bytes.Equal(wholeLog(t, f), wholeLog(t, leader)) {
			t.Errorf("node %d's log differs from the new leader's", s.opts.NodeID)
		}
	}
	// The old leader comes back as a follower of the new one: it truncates to the new
	// leader's log, catches up and rejoins the ISR.
	back, err := Start(clusterOptions(c.voters, nil, old.Leader, c.dirs[old.Leader-1]))
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[old.Leader-1] = back // closed by the cluster's cleanup
	produce(100, 110)
	waitFor(t, func() bool {
		tp, _ := live[0].image().TopicByID(tp.ID)
		return len(tp.Partitions[0].ISR) == 3
	})
	f := hostedPartition(back, "fo", 0)
	waitFor(t, func() bool { return f.DurableEnd() == leader.EndOffset() })
	if f.IsLeader() || !bytes.Equal(wholeLog(t, f), wholeLog(t, leader)) {
		t.Errorf("the old leader, back: leader %v, its log differs from the new leader's", f.IsLeader())
	}

	seen := map[string]bool{}
	for len(seen) < 110 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 110: %v", len(seen), err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consume: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if seen[string(r.Value)] {
				t.Errorf("record %s twice", r.Value)
			}
			seen[string(r.Value)] = true
		})
	}
}

// TestMinInsyncReplicas: an acks=all produce to a partition whose ISR is smaller than
// the topic's min.insync.replicas is refused with NOT_ENOUGH_REPLICAS and appends
// nothing; acks=1 is not concerned (a single broker's ISR is itself).
func TestMinInsyncReplicas(t *testing.T) {
	s := newGroupTestServer(t)
	two := "2"
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "mir", Partitions: 1, ReplicationFactor: -1,
		Configs: map[string]*string{"min.insync.replicas": &two}}); err != nil {
		t.Fatal(err)
	}
	produce := func(acks int16) int16 {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, acks, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "mir"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = testutil.Batch(testutil.BatchOptions{Records: 2})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return call[*kmsg.ProduceResponse](t, s, req).Topics[0].Partitions[0].ErrorCode
	}
	if got := produce(-1); got != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(got))
	}
	if p := hostedPartition(s, "mir", 0); p.EndOffset() != 0 {
		t.Fatalf("refused produce appended: end %d", p.EndOffset())
	}
	if got := produce(1); got != 0 {
		t.Fatalf("acks=1: %v", kerr.ErrorForCode(got))
	}
}

// TestClusterGroupCoordinatorFailover: __consumer_offsets replicates like any topic;
// when the group coordinator's node shuts down, the leadership of the group's partition
// moves to an in-sync follower, whose coordinator rebuilds the group from the
// replicated log: the committed offsets survive, and commits go on there.
func TestClusterGroupCoordinatorFailover(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "gt", Partitions: 2, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { // on every node (a commit to a topic a node lacks is refused)
		for _, s := range c.nodes {
			if _, ok := s.image().Topic("gt"); !ok {
				return false
			}
		}
		return true
	})
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RetryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	commit := func(offset int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.AddOffset("gt", 0, offset, -1)
		offs.AddOffset("gt", 1, offset+1, -1)
		resp, err := adm.CommitOffsets(ctx, "g", offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", offset, err)
		}
	}
	fetched := func() (int64, int64) {
		t.Helper()
		resp, err := adm.FetchOffsets(ctx, "g")
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("fetch offsets: %v", err)
		}
		a, _ := resp.Lookup("gt", 0)
		b, _ := resp.Lookup("gt", 1)
		return a.At, b.At
	}
	commit(7)

	var offsets *metadata.Topic
	waitFor(t, func() bool { // node 1 applies the topic's creation when it applies it
		offsets, _ = c.nodes[0].image().Topic(metadata.ConsumerOffsetsTopic)
		return offsets != nil
	})
	idx := coord.PartitionFor("g", offsets.NumPartitions())
	var st metadata.PartitionState
	waitFor(t, func() bool { // the commit is on every replica, all in sync
		tp, _ := c.nodes[0].image().Topic(metadata.ConsumerOffsetsTopic)
		st = tp.Partitions[idx]
		if len(st.ISR) != 3 {
			return false
		}
		end := hostedPartition(c.nodes[st.Leader-1], metadata.ConsumerOffsetsTopic, idx).EndOffset()
		for _, s := range c.nodes {
			if hostedPartition(s, metadata.ConsumerOffsetsTopic, idx).DurableEnd() != end {
				return false
			}
		}
		return true
	})
	if err := c.nodes[st.Leader-1].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var live []string // a client that never met the old coordinator
	for _, s := range c.nodes {
		if s.opts.NodeID != st.Leader {
			live = append(live, s.Addr().String())
			// Every live node knows the new coordinator (else one may still name the old
			// one in FindCoordinator while another's Metadata no longer lists it).
			waitFor(t, func() bool {
				tp, _ := s.image().Topic(metadata.ConsumerOffsetsTopic)
				l := tp.Partitions[idx].Leader
				return l != st.Leader && l != metadata.NoLeader
			})
		}
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(live...), kgo.RetryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	adm = kadm.NewClient(cl2)
	if a, b := fetched(); a != 7 || b != 8 {
		t.Fatalf("after the coordinator's shutdown: offsets %d, %d; want 7, 8", a, b)
	}
	commit(20)
	if a, b := fetched(); a != 20 || b != 21 {
		t.Fatalf("committed on the new coordinator: offsets %d, %d; want 20, 21", a, b)
	}
}

// TestClusterIdempotentFailover: an idempotent producer keeps producing while the
// partition's leader shuts down: its retries to the new leader (which rebuilt the
// producer state from the replicated batches) are neither duplicated nor refused as out
// of order, and every acknowledged record is there once, in order.
func TestClusterIdempotentFailover(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "idem", Partitions: 1, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		tp, _ := c.nodes[0].image().TopicByID(tp.ID)
		return len(tp.Partitions[0].ISR) == 3
	})
	cur, _ := c.nodes[0].image().TopicByID(tp.ID)
	old := cur.Partitions[0].Leader
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("idem"), kgo.ConsumeTopics("idem"),
		kgo.RetryTimeout(30*time.Second), kgo.MaxBufferedRecords(50))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 600
	acked := make(chan error, n)
	shut := make(chan error, 1)
	for i := range n {
		if i == n/3 {
			go func() { shut <- c.nodes[old-1].Shutdown(ctx) }()
		}
		cl.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}, func(_ *kgo.Record, err error) { acked <- err })
	}
	for range n {
		if err := <-acked; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	next := 0
	for next < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", next, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprint(next); string(r.Value) != want {
				t.Fatalf("record at offset %d is %s, want %s (duplicate or reordered)", r.Offset, r.Value, want)
			}
			next++
		})
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	live := c.nodes[old%3] // another node
	if now, _ := live.image().TopicByID(tp.ID); now.Partitions[0].Leader == old {
		t.Errorf("leader still %d after its shutdown", old)
	}
}

// BenchmarkClusterProduce: acks=all idempotent produce of 1 KiB records through a kgo
// client (linger 0, its default pipelining) to one partition led by node 1 of three
// in-process brokers, with replication factor 1 and 3: the cost of replication
// (followers' fetch round trips and fsyncs before the high watermark moves). The three
// brokers share the machine's cores and disk: compare the two in one run.
func BenchmarkClusterProduce(b *testing.B) {
	for _, rf := range []int{1, 3} {
		b.Run(fmt.Sprintf("rf=%d", rf), func(b *testing.B) {
			c := startCluster(b)
			ctx := context.Background()
			replicas := []int32{1, 2, 3}[:rf]
			tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "bench", Partitions: -1, ReplicationFactor: -1, Assignments: [][]int32{replicas}})
			if err != nil {
				b.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				cur, _ := c.nodes[0].image().TopicByID(tp.ID)
				if len(cur.Partitions[0].ISR) == rf {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("ISR %v", cur.Partitions[0].ISR)
				}
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()), kgo.DefaultProduceTopic("bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			value := bytes.Repeat([]byte{'x'}, 1024)
			var failed error
			var mu sync.Mutex
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for range b.N { // not b.Loop: the Flush below belongs to the measure
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if failed != nil {
				b.Fatal(failed)
			}
		})
	}
}

// TestClusterFollowerFenced: a follower that shuts down leaves the ISR at once (the
// controller's fencing record, not after replica.lag.time.max.ms), so acks=all goes on
// with the others; back, it catches up and rejoins.
func TestClusterFollowerFenced(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "ff", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	isr := func() []int32 { cur, _ := c.nodes[0].image().TopicByID(tp.ID); return cur.Partitions[0].ISR }
	waitFor(t, func() bool { return len(isr()) == 3 })
	if err := c.nodes[2].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slices.Equal(isr(), []int32{1, 2}) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()), kgo.DefaultProduceTopic("ff"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	back, err := Start(clusterOptions(c.voters, nil, 3, c.dirs[2]))
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[2] = back
	waitFor(t, func() bool { return len(isr()) == 3 })
	leader := hostedPartition(c.nodes[0], "ff", 0)
	f := hostedPartition(back, "ff", 0)
	waitFor(t, func() bool { return f.DurableEnd() == leader.EndOffset() })
	if !bytes.Equal(wholeLog(t, f), wholeLog(t, leader)) {
		t.Error("the returned follower's log differs from the leader's")
	}
}

// TestClusterFollowerBehindLogStart: records deleted on the leader (DeleteRecords) while
// a follower is down leave the follower's log end below the leader's log start; back, it
// gets OFFSET_OUT_OF_RANGE, empties its log and fetches from the leader's log start
// (Kafka's truncateFullyAndStartAt) instead of retrying forever: it catches up, its log
// start follows the leader's, and it rejoins the ISR.
func TestClusterFollowerBehindLogStart(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "ls", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	isr := func() []int32 { cur, _ := c.nodes[0].image().TopicByID(tp.ID); return cur.Partitions[0].ISR }
	waitFor(t, func() bool { return len(isr()) == 3 })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()), kgo.DefaultProduceTopic("ls"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(n int) {
		t.Helper()
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(10)
	leader := hostedPartition(c.nodes[0], "ls", 0)
	waitFor(t, func() bool {
		f := hostedPartition(c.nodes[2], "ls", 0)
		return f != nil && f.DurableEnd() == leader.EndOffset()
	})
	if err := c.nodes[2].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slices.Equal(isr(), []int32{1, 2}) })
	produce(20)
	del, err := kadm.NewClient(cl).DeleteRecords(ctx, kadm.Offsets{"ls": {0: {At: 25}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, del.Error())
	}
	produce(5)
	back, err := Start(clusterOptions(c.voters, nil, 3, c.dirs[2]))
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[2] = back
	waitFor(t, func() bool { return len(isr()) == 3 })
	f := hostedPartition(back, "ls", 0)
	waitFor(t, func() bool { return f.DurableEnd() == leader.EndOffset() && f.LogStartOffset() == 25 })
	if !bytes.Equal(wholeLog(t, f), wholeLog(t, leader)) {
		t.Error("the returned follower's log differs from the leader's")
	}
}
