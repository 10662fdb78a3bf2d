package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/dlq"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/local"
	"github.com/stratalog/strata/metadata/raft"
	"github.com/stratalog/strata/wire"
)

// testCluster is three cluster nodes in process, each with its quorum listener bound on
// a free port of 127.0.0.1 and its own data directory.
type testCluster struct {
	voters []raft.Voter
	dirs   []string
	nodes  []*Server
}

func quorumListeners(t testing.TB, n int) ([]net.Listener, []raft.Voter) {
	t.Helper()
	var lns []net.Listener
	var voters []raft.Voter
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		voters = append(voters, raft.Voter{ID: int32(i + 1), Addr: ln.Addr().String()})
	}
	return lns, voters
}

func clusterOptions(voters []raft.Voter, ln net.Listener, id int32, dir string) *Options {
	return &Options{
		Listen: "127.0.0.1:0", DataDir: dir, NodeID: id, Logger: slog.New(slog.DiscardHandler),
		Cluster:  &ClusterOptions{Voters: voters, Listener: ln},
		Settings: map[string]string{"group.initial.rebalance.delay.ms": "0"},
	}
}

// startCluster starts the three nodes at once (each waits in New for a quorum).
func startCluster(t testing.TB) *testCluster { t.Helper(); return startClusterWith(t, nil) }

// startClusterWith is startCluster with more broker settings on every node.
func startClusterWith(t testing.TB, settings map[string]string) *testCluster {
	t.Helper()
	return startClusterFunc(t, func(o *Options) { maps.Copy(o.Settings, settings) })
}

// startClusterFunc is startCluster with each node's options changed by edit first.
func startClusterFunc(t testing.TB, edit func(*Options)) *testCluster {
	t.Helper()
	lns, voters := quorumListeners(t, 3)
	c := &testCluster{voters: voters, nodes: make([]*Server, 3), dirs: []string{t.TempDir(), t.TempDir(), t.TempDir()}}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := clusterOptions(voters, lns[i], int32(i+1), c.dirs[i])
			edit(o)
			c.nodes[i], errs[i] = Start(o)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range c.nodes {
			if s != nil {
				s.Close()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	return c
}

// TestClusterNodesForm: three brokers with Cluster options form one cluster: each has
// registered with its client listener, they share one cluster id (recorded in each data
// directory's meta.properties) and the Raft files are in __cluster_metadata; a topic
// created through one node is in every node's image, its partitions spread over the
// three brokers and open on the broker each is placed on.
func TestClusterNodesForm(t *testing.T) {
	c := startCluster(t)
	cluster := c.nodes[0].image().ClusterID()
	if cluster == "" {
		t.Fatal("no cluster id")
	}
	for i, s := range c.nodes {
		im := s.image()
		if im.ClusterID() != cluster {
			t.Errorf("node %d: cluster id %q, want %q", i+1, im.ClusterID(), cluster)
		}
		b, ok := im.Broker(int32(i + 1))
		_, port, _ := net.SplitHostPort(s.Addr().String())
		if !ok || len(b.Endpoints) != 1 || b.Endpoints[0].Host != "127.0.0.1" || b.Endpoints[0].Port == 0 {
			t.Errorf("node %d: registration %+v (listening on port %s)", i+1, b, port)
		}
		mp, found, err := local.ReadMetaProperties(s.opts.FS, c.dirs[i])
		if !found || err != nil || mp != (local.MetaProperties{NodeID: int32(i + 1), ClusterID: cluster}) {
			t.Errorf("node %d: meta.properties %+v, %v, %v", i+1, mp, found, err)
		}
		if _, err := os.Stat(filepath.Join(c.dirs[i], clusterMetadataDir, "raft.db")); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tp, err := c.nodes[1].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "spread", Partitions: 3, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]bool{}
	for _, p := range tp.Partitions {
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Errorf("partitions %+v: want one leader on each broker", tp.Partitions)
	}
	for i, s := range c.nodes {
		waitFor(t, func() bool { _, ok := s.image().Topic("spread"); return ok })
		hosted := len(s.data.replicas.Hosted())
		want := 0
		for _, p := range tp.Partitions {
			if p.Leader == int32(i+1) {
				want++
			}
		}
		if hosted != want {
			t.Errorf("node %d hosts %d partition(s), want %d partition(s) of %+v", i+1, hosted, want, tp.Partitions)
		}
	}
}

// TestClusterNodeDataDirChecks: a cluster node refuses a data directory of another node
// id, and one of another cluster, naming both; a second broker on a node's data
// directory fails on its lock.
func TestClusterNodeDataDirChecks(t *testing.T) {
	c := startCluster(t)
	if _, err := New(clusterOptions(c.voters, nil, 1, c.dirs[0])); err == nil || !strings.Contains(err.Error(), "in use by another broker") {
		t.Fatalf("second broker on node 1's data directory: %v", err)
	}
	cluster := c.nodes[0].image().ClusterID()
	c.nodes[0].Close()

	if _, err := New(clusterOptions(c.voters, nil, 2, c.dirs[0])); err == nil || !strings.Contains(err.Error(), "stored node.id 1 does not match configured node.id 2") {
		t.Fatalf("node 2 on node 1's data directory: %v", err)
	}
	if err := local.WriteMetaProperties(c.nodes[0].opts.FS, c.dirs[0], local.MetaProperties{NodeID: 1, ClusterID: "another"}); err != nil {
		t.Fatal(err)
	}
	_, err := New(clusterOptions(c.voters, nil, 1, c.dirs[0]))
	if err == nil || !strings.Contains(err.Error(), "cluster another") || !strings.Contains(err.Error(), "cluster "+cluster) {
		t.Fatalf("node 1 on a data directory of cluster %q: %v", "another", err)
	}
}

// TestClusterNodeControlledShutdown: a node that shuts down asks the controller to fence
// it first: the other nodes see it fenced at once, not after its session.
func TestClusterNodeControlledShutdown(t *testing.T) {
	c := startCluster(t)
	if err := c.nodes[2].Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Broker 3's session is 1.5 s: fenced well within it, the fence was its own.
	start := time.Now()
	waitFor(t, func() bool { b, _ := c.nodes[0].image().Broker(3); return b.Fenced })
	if d := time.Since(start); d > time.Second {
		t.Errorf("broker 3 fenced %v after its shutdown returned, want at once", d)
	}
}

// TestClusterShutdownLeadershipFirst: a cluster node's Shutdown has the controller move
// its leaderships away before it stops serving and waits for its requests in flight (as
// Kafka's controlled shutdown comes first): with a long-poll Fetch in flight on the leader
// of a partition of replication factor 3 (Shutdown waits for it, up to its MaxWait), a
// follower leads the partition at once, the ISR the two others. Shutting down in the
// other order, a request in flight that waits for the followers (a transaction marker)
// held the drain until the ISR shrank to the leader alone, and no follower could take
// over (TestClusterInterBrokerSecured's failover under load).
func TestClusterShutdownLeadershipFirst(t *testing.T) {
	c := startCluster(t)
	tp, err := c.nodes[0].data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "sd", Partitions: 1, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	state := func(s *Server) metadata.PartitionState {
		tp, _ := s.image().TopicByID(tp.ID)
		return tp.Partitions[0]
	}
	waitFor(t, func() bool { return len(state(c.nodes[0]).ISR) == 3 })
	leader := state(c.nodes[0]).Leader
	s, other := c.nodes[leader-1], c.nodes[leader%3]

	// A Fetch with nothing to read parks for its MaxWait; CreateTopics after it on the
	// same connection is read once the Fetch is: when its topic exists, the Fetch is in
	// flight.
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaID, fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 12, -1, 60000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "sd"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version, create.TimeoutMillis = 5, 10000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "fetch-read", 1, 1
	create.Topics = append(create.Topics, ct)
	if _, err := nc.Write(wire.AppendRequest(wire.AppendRequest(nil, 1, "t", fetch), 2, "t", create)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := s.image().Topic("fetch-read"); return ok })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { p := state(other); return p.Leader != leader && p.Leader != metadata.NoLeader })
	if isr := state(other).ISR; len(isr) != 2 || slices.Contains(isr, leader) {
		t.Fatalf("ISR %v after broker %d shut down, want the two others", isr, leader)
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterNoControllerTimesOut: with its quorum lost, a cluster node answers admin
// requests REQUEST_TIMED_OUT once the request's timeout has passed (KIP-590), never
// NOT_CONTROLLER; a request without a timeout field is bounded the same way.
func TestClusterNoControllerTimesOut(t *testing.T) {
	c := startCluster(t)
	c.nodes[1].Close()
	c.nodes[2].Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0] // straight to node 1, whatever Metadata names the controller

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 300
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "late", 1, -1
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	resp, err := req.RequestWith(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("answered after %v, want about the request's timeout of 300 ms", d)
	}
	if got := resp.Topics[0].ErrorCode; got != kerr.RequestTimedOut.Code {
		t.Errorf("CreateTopics without a quorum: error %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(got))
	}

	// A single node's store never waits for a controller: its commands are not bounded.
	if ctx, cancel := (&Server{}).controllerCtx(&request{ctx: t.Context()}, 1); ctx != t.Context() {
		t.Error("a single node's command context is not the request's")
	} else {
		cancel()
	}
	ctx, cancel := c.nodes[0].controllerCtx(&request{ctx: t.Context()}, 0)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > defaultControllerTimeout || time.Until(dl) < defaultControllerTimeout-5*time.Second {
		t.Errorf("cluster command without a timeout: deadline %v, %v; want %v from now", dl, ok, defaultControllerTimeout)
	}
}

// TestClusterClientsSeeOneCluster: every node's Metadata lists the three brokers at
// their client listeners and the same controller (the Raft leader's node); a Produce
// sent to a broker that does not lead the partition answers NOT_LEADER_OR_FOLLOWER, and
// a client with every node as seed produces to and consumes from partitions led by
// different nodes; producer ids are unique across the nodes.
func TestClusterClientsSeeOneCluster(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "spread", Partitions: 3, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	controller := int32(-1)
	pids := map[int64]int{}
	for i, s := range c.nodes {
		waitFor(t, func() bool { _, ok := s.image().Topic("spread"); return ok })
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		seed := cl.SeedBrokers()[0]
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, seed)
		if err != nil {
			cl.Close()
			t.Fatal(err)
		}
		if len(resp.Brokers) != 3 {
			t.Errorf("node %d: Metadata brokers %+v, want 3", i+1, resp.Brokers)
		}
		for _, b := range resp.Brokers {
			if want := seeds[b.NodeID-1]; net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))) != want {
				t.Errorf("node %d: broker %d at %s:%d, want %s", i+1, b.NodeID, b.Host, b.Port, want)
			}
		}
		if controller == -1 {
			controller = resp.ControllerID
		}
		if resp.ControllerID != controller || resp.ControllerID < 1 {
			t.Errorf("node %d: controller %d, others %d", i+1, resp.ControllerID, controller)
		}

		// A partition this node does not lead.
		for p, st := range tp.Partitions {
			if st.Leader == int32(i+1) {
				continue
			}
			preq := kmsg.NewPtrProduceRequest()
			preq.Acks, preq.TimeoutMillis = 1, 5000
			pt := kmsg.NewProduceRequestTopic()
			pt.Topic, pt.TopicID = "spread", tp.ID // by id from Produce v13
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Partition = int32(p)
			pt.Partitions = append(pt.Partitions, pp)
			preq.Topics = append(preq.Topics, pt)
			presp, err := preq.RequestWith(ctx, seed)
			if err != nil {
				t.Fatal(err)
			}
			if got := presp.Topics[0].Partitions[0].ErrorCode; got != kerr.NotLeaderForPartition.Code {
				t.Errorf("node %d: Produce to partition %d led by %d: %v, want NOT_LEADER_OR_FOLLOWER", i+1, p, st.Leader, kerr.ErrorForCode(got))
			}
			break
		}

		ireq := kmsg.NewPtrInitProducerIDRequest()
		ireq.TransactionTimeoutMillis = 60000
		iresp, err := ireq.RequestWith(ctx, seed)
		if err != nil || iresp.ErrorCode != 0 {
			t.Errorf("node %d: InitProducerID: %v, %+v", i+1, err, iresp)
		} else {
			pids[iresp.ProducerID]++
		}
		cl.Close()
	}
	if len(pids) != 3 {
		t.Errorf("producer ids of the three nodes: %v, want three different", pids)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("spread"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := range int32(3) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "spread", Partition: p, Value: []byte{byte(p)}}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d (led by %d): %v", p, tp.Partitions[p].Leader, err)
		}
	}
	consumeEach(ctx, t, cl, 3)
}

// TestClusterGroupsFollowLeadership: on a cluster, the first FindCoordinator creates
// __consumer_offsets with offsets.topic.replication.factor replicas (3 here) spread over
// the brokers, and names the leader of the group's partition; only that node
// coordinates the group (another answers NOT_COORDINATOR); a group consumer with every
// node as seed consumes partitions led by different nodes and commits its offsets.
func TestClusterGroupsFollowLeadership(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c.consumeSpread(ctx, t, "spread", "g")

	im := c.nodes[0].image()
	offsets, ok := im.Topic(metadata.ConsumerOffsetsTopic)
	if !ok {
		t.Fatal("no __consumer_offsets")
	}
	leaders := map[int32]bool{}
	for _, p := range offsets.Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("__consumer_offsets partition replicas %v, want 3", p.Replicas)
		}
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Errorf("__consumer_offsets leaders %v, want all three brokers", leaders)
	}
	coordinator := offsets.Partitions[coord.PartitionFor("g", offsets.NumPartitions())].Leader
	for i, s := range c.nodes {
		ocl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrOffsetFetchRequest() // v8+: by group
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = "g"
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(ctx, ocl.SeedBrokers()[0])
		ocl.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Groups) != 1 {
			t.Fatalf("node %d: OffsetFetch %+v", i+1, resp)
		}
		g := resp.Groups[0]
		want := kerr.NotCoordinator.Code
		if int32(i+1) == coordinator {
			want = 0
		}
		if g.ErrorCode != want {
			t.Errorf("node %d (coordinator %d): OffsetFetch error %v, want %v", i+1, coordinator, kerr.ErrorForCode(g.ErrorCode), kerr.ErrorForCode(want))
		}
		if want == 0 && (len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 3 || g.Topics[0].Partitions[0].Offset != 1) {
			t.Errorf("committed offsets on the coordinator: %+v", g.Topics)
		}
	}
}

// TestClusterTransactions: on a cluster, the first FindCoordinator of a transactional id
// creates __transaction_state with transaction.state.log.replication.factor replicas
// (capped at the three brokers) and names the leader of the id's partition, whose
// coordinator loads it (it follows the topic's leadership, as the group coordinator
// does); a transactional producer with every node as seed commits a transaction over
// partitions led by the three brokers (the coordinator writes the markers of the others'
// partitions with WriteTxnMarkers), and a read_committed consumer reads all of it.
func TestClusterTransactions(t *testing.T) {
	c := startClusterWith(t, map[string]string{"transaction.state.log.replication.factor": "5", "transaction.state.log.num.partitions": "6"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	tp, err := c.nodes[1].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "tx", Partitions: 3, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]bool{}
	for _, p := range tp.Partitions {
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v, want the three brokers", leaders)
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("tid"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := range int32(3) {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "tx", Partition: part, Value: []byte{byte(part)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	ts, ok := c.nodes[2].image().Topic(metadata.TransactionStateTopic)
	if !ok || ts.NumPartitions() != 6 {
		t.Fatalf("__transaction_state: %v %+v", ok, ts)
	}
	for _, tp := range ts.Partitions {
		if len(tp.Replicas) != 3 {
			t.Fatalf("__transaction_state replicas %v, want 3 (the live brokers)", tp.Replicas)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("tx"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	consumeEach(ctx, t, cl, 3)
}

// TestClusterTxnOffsetCommit: a transaction commits a group's offsets when the group's
// coordinator and the transactional id's are different brokers, and they become visible
// with the commit marker the transaction coordinator sends over. Under transactions v1
// the group coordinator verifies with the transaction's coordinator that the group's
// partition is in the transaction (KIP-890 part 1, as Kafka's): INVALID_TXN_STATE
// before AddOffsetsToTxn.
func TestClusterTxnOffsetCommit(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	in, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "in", Partitions: 1, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	clients := map[int32]*kgo.Client{}
	for _, s := range c.nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[s.opts.NodeID] = cl
	}
	send := func(node int32, req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := clients[node].SeedBrokers()[0].Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, typ := range []int8{coordinatorGroup, coordinatorTransaction} { // creates both topics
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorType, fc.CoordinatorKeys = typ, []string{"k"}
		waitFor(t, func() bool { // COORDINATOR_NOT_AVAILABLE (retriable) while the topic is being created
			return send(1, fc).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode == 0
		})
	}
	// Every broker knows both topics (the group coordinator looks the transaction's up
	// in its image: COORDINATOR_NOT_AVAILABLE, retriable, until it has it).
	waitFor(t, func() bool {
		for _, s := range c.nodes {
			for _, topic := range []string{metadata.ConsumerOffsetsTopic, metadata.TransactionStateTopic} {
				if _, ok := s.image().Topic(topic); !ok {
					return false
				}
			}
		}
		return true
	})
	im := c.nodes[0].image()
	leaderOf := func(topic, key string) int32 {
		tp, _ := im.Topic(topic)
		return tp.Partitions[coord.PartitionFor(key, tp.NumPartitions())].Leader
	}
	tc := leaderOf(metadata.TransactionStateTopic, "tid")
	group := ""
	for i := 0; group == ""; i++ {
		if g := fmt.Sprint("g", i); leaderOf(metadata.ConsumerOffsetsTopic, g) != tc {
			group = g
		}
	}
	gc := leaderOf(metadata.ConsumerOffsetsTopic, group)
	offsetFetch := func() *kmsg.OffsetFetchResponseGroup {
		of := kmsg.NewPtrOffsetFetchRequest() // v8+: by group
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		of.Groups = append(of.Groups, rg)
		r := send(gc, of).(*kmsg.OffsetFetchResponse)
		return &r.Groups[0]
	}
	// Both coordinators have loaded their partitions: each becomes the coordinator when
	// its broker applies the leadership (NOT_COORDINATOR before, COORDINATOR_LOAD_IN_PROGRESS
	// while it loads, both retriable: Kafka's clients look the coordinator up again).
	waitFor(t, func() bool {
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("tid"), 30000
		return send(tc, init).(*kmsg.InitProducerIDResponse).ErrorCode == 0
	})
	waitFor(t, func() bool { return offsetFetch().ErrorCode == 0 })
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("tid"), 30000
	ir := send(tc, init).(*kmsg.InitProducerIDResponse)
	oc := kmsg.NewPtrTxnOffsetCommitRequest()
	oc.TransactionalID, oc.Group, oc.ProducerID, oc.ProducerEpoch = "tid", group, ir.ProducerID, ir.ProducerEpoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = "in", in.ID // by id from v6
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 42
	rt.Partitions = append(rt.Partitions, rp)
	oc.Topics = append(oc.Topics, rt)
	// Transactions v1 (v4): before AddOffsetsToTxn the group's partition is not in the
	// transaction; the group coordinator asks the transaction's, on another broker.
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(28, 4)
	v1cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[gc-1].Addr().String()), kgo.MaxVersions(vs))
	if err != nil {
		t.Fatal(err)
	}
	defer v1cl.Close()
	sendV4 := func() int16 {
		t.Helper()
		r, err := v1cl.SeedBrokers()[0].Request(ctx, oc)
		if err != nil {
			t.Fatal(err)
		}
		return r.(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := sendV4(); code != kerr.InvalidTxnState.Code {
		t.Fatalf("TxnOffsetCommit v4 before AddOffsetsToTxn: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = "tid", ir.ProducerID, ir.ProducerEpoch, group
	if r := send(tc, ao).(*kmsg.AddOffsetsToTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if code := sendV4(); code != 0 {
		t.Fatalf("TxnOffsetCommit v4 after AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
	}
	if r := send(gc, oc).(*kmsg.TxnOffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit on group coordinator %d (transaction coordinator %d): %v", gc, tc, kerr.ErrorForCode(r.Topics[0].Partitions[0].ErrorCode))
	}
	et := kmsg.NewPtrEndTxnRequest()
	et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = "tid", ir.ProducerID, ir.ProducerEpoch, true
	if r := send(tc, et).(*kmsg.EndTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	waitFor(t, func() bool {
		g := offsetFetch()
		return len(g.Topics) == 1 && g.Topics[0].Partitions[0].Offset == 42
	})
}

// TestClusterWriteTxnMarkers: a broker answers WriteTxnMarkers for each partition:
// NOT_LEADER_OR_FOLLOWER for one another broker leads, UNKNOWN_TOPIC_OR_PARTITION for
// one that does not exist, and writes the marker to one it leads.
func TestClusterWriteTxnMarkers(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "m", Partitions: 3, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	node := c.nodes[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed = 7, 0, false
	for _, name := range []string{"m", "nope"} {
		rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		rt.Topic, rt.Partitions = name, []int32{0, 1, 2}
		rm.Topics = append(rm.Topics, rt)
	}
	req.Markers = append(req.Markers, rm)
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Markers[0].Topics {
		for _, p := range rt.Partitions {
			want := kerr.UnknownTopicOrPartition.Code
			if rt.Topic == "m" {
				want = kerr.NotLeaderForPartition.Code
				if tp.Partitions[p.Partition].Leader == node.opts.NodeID {
					want = 0
				}
			}
			if p.ErrorCode != want {
				t.Errorf("%s-%d: %v, want %v", rt.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(want))
			}
		}
	}
}

// TestClusterDefaultReplicationFactor: a cluster node takes default.replication.factor
// above 1 (placed over the live brokers; the followers join the ISR once they catch up),
// and refuses one above the broker count with INVALID_REPLICATION_FACTOR; a single node
// refuses any value but 1 at start. The cluster settings are described as
// the node runs them.
func TestClusterDefaultReplicationFactor(t *testing.T) {
	if _, err := New(&Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Settings: map[string]string{"default.replication.factor": "2"}}); err == nil || !strings.Contains(err.Error(), "default.replication.factor=2") {
		t.Fatalf("a single node with default.replication.factor=2: %v", err)
	}
	c := startClusterWith(t, map[string]string{"default.replication.factor": "2"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[2].Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	for name, rf := range map[string]int16{"two": -1, "four": 4} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, rf
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, adm.SeedBrokers()[0]) // through node 3, not the controller
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		want := int16(0)
		if rt.Topic == "four" {
			want = kerr.InvalidReplicationFactor.Code
		}
		if rt.ErrorCode != want {
			t.Errorf("%s: %v, want %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode), kerr.ErrorForCode(want))
		}
	}
	tp, ok := c.nodes[2].image().Topic("two")
	if !ok {
		t.Fatal("topic two not in node 3's image")
	}
	for i, p := range tp.Partitions {
		if len(p.Replicas) != 2 || !slices.Contains(p.ISR, p.Leader) || len(p.ISR) > 2 || !slices.Contains(p.Replicas, p.ISR[len(p.ISR)-1]) {
			t.Errorf("partition %d: replicas %v ISR %v leader %d", i, p.Replicas, p.ISR, p.Leader)
		}
	}
	got := c.nodes[0].optionSettings()
	want := map[string]string{
		"controller.quorum.voters":     c.voters[0].String() + "," + c.voters[1].String() + "," + c.voters[2].String(),
		"process.roles":                "broker,controller",
		"broker.heartbeat.interval.ms": "250",
		"broker.session.timeout.ms":    "1500",
		"strata.cluster.join":          "false",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
		// metadata/raft's defaults are the registry's (docs/configuration.md).
		if st, ok := config.Lookup(k); !ok || k != "controller.quorum.voters" && st.Default != v {
			t.Errorf("%s: registry default %+v, the node runs %q", k, st, v)
		}
	}
}

// TestClusterDescribeQuorum: every cluster node answers DescribeQuorum with its view of
// the quorum (the same leader and term on every node once formed, its own log end
// offset, the three voters and their quorum addresses); a single node does not advertise
// it and answers INVALID_REQUEST; another topic is UNKNOWN_TOPIC_OR_PARTITION.
func TestClusterDescribeQuorum(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	describe := func(addr string) *kmsg.DescribeQuorumResponse {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrDescribeQuorumRequest()
		for _, name := range []string{"__cluster_metadata", "other"} {
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = name
			rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var leader int32 = -1
	for i, s := range c.nodes {
		var resp *kmsg.DescribeQuorumResponse
		waitFor(t, func() bool {
			resp = describe(s.Addr().String())
			return resp.ErrorCode == 0 && len(resp.Topics) == 2 && resp.Topics[0].Partitions[0].LeaderID == s.image().Controller()
		})
		p := resp.Topics[0].Partitions[0]
		if leader != -1 && p.LeaderID != leader {
			t.Errorf("node %d: leader %d, another node said %d", i+1, p.LeaderID, leader)
		}
		leader = p.LeaderID
		if p.LeaderEpoch < 1 || p.HighWatermark < 1 || len(p.CurrentVoters) != 3 || len(resp.Nodes) != 3 {
			t.Errorf("node %d: %+v nodes %+v", i+1, p, resp.Nodes)
		}
		for _, v := range p.CurrentVoters {
			if (v.ReplicaID == int32(i+1)) != (v.LogEndOffset >= p.HighWatermark) {
				t.Errorf("node %d: voter %d log end offset %d (high watermark %d)", i+1, v.ReplicaID, v.LogEndOffset, p.HighWatermark)
			}
		}
		if n := resp.Nodes[i]; n.NodeID != int32(i+1) || len(n.Listeners) != 1 || net.JoinHostPort(n.Listeners[0].Host, strconv.Itoa(int(n.Listeners[0].Port))) != c.voters[i].Addr {
			t.Errorf("node %d: quorum address %+v, want %s", i+1, n, c.voters[i].Addr)
		}
		if code := resp.Topics[1].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("node %d: another topic: %v", i+1, kerr.ErrorForCode(code))
		}
	}

	single, err := Start(&Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	body := kmsg.NewPtrDescribeQuorumRequest()
	body.SetVersion(2)
	rep := handleDescribeQuorum(single, &request{ctx: ctx, body: body})
	if resp := rep.now.(*kmsg.DescribeQuorumResponse); resp.ErrorCode != kerr.InvalidRequest.Code { // kgo does not send what is not advertised
		t.Errorf("single node: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, n := range []*Server{single, c.nodes[0]} {
		resp := kmsg.NewPtrApiVersionsResponse()
		n.fillAPIVersions(resp)
		has := slices.ContainsFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == describeQuorumKey })
		if has != (n.opts.Cluster != nil) {
			t.Errorf("cluster node %v: DescribeQuorum advertised %v", n.opts.Cluster != nil, has)
		}
	}
}

// TestClusterConsumerGroup: a KIP-848 consumer group on a cluster: the coordinator (the
// leader of the group's partition of __consumer_offsets) serves ConsumerGroupHeartbeat to
// a franz-go member seeded with every node, which consumes partitions led by different
// nodes and commits with its member epoch; ConsumerGroupDescribe shows it Stable.
func TestClusterConsumerGroup(t *testing.T) {
	c := startClusterWith(t, map[string]string{"group.coordinator.rebalance.protocols": "classic,consumer"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl := c.consumeSpread(ctx, t, "spread848", "g848", kgo.ServerSideBalancer())
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{"g848"}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if g := resp.Groups[0]; g.ErrorCode != 0 || g.State != "Stable" || len(g.Members) != 1 ||
		len(g.Members[0].Assignment.TopicPartitions) != 1 || len(g.Members[0].Assignment.TopicPartitions[0].Partitions) != 3 {
		t.Fatalf("describe: %+v", g)
	}
}

// consumeSpread creates topic with three partitions spread over the nodes, produces a
// record to each, has a member of group (seeded with every node, options extra) consume
// the three and commit them, and returns its client (closed when the test ends).
func (c *testCluster) consumeSpread(ctx context.Context, t *testing.T, topic, group string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	if _, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: topic, Partitions: 3, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit()}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	for p := range int32(3) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte{byte(p)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumeEach(ctx, t, cl, 3)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestClusterRaftVoters: AddRaftVoter and RemoveRaftVoter (KIP-853) change the quorum
// through any node: node 3 is removed, and node 4, on a new quorum address and started
// to join, is added in its place; it gets the metadata, registers, serves admin requests
// and shows in DescribeQuorum. Removing a node that is not a voter answers
// VOTER_NOT_FOUND, adding a voter again DUPLICATE_VOTER, another cluster id
// INCONSISTENT_CLUSTER_ID; a single node does not advertise them.
func TestClusterRaftVoters(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	send := func(i int, req kmsg.Request) kmsg.Response {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[i].Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	remove := func(via int, id int32, cluster *string) int16 {
		req := kmsg.NewPtrRemoveRaftVoterRequest()
		req.VoterID, req.ClusterID = id, cluster
		return send(via, req).(*kmsg.RemoveRaftVoterResponse).ErrorCode
	}
	add := func(via int, id int32, addr string) int16 {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		req := kmsg.NewPtrAddRaftVoterRequest()
		req.VoterID, req.TimeoutMillis = id, 30000
		l := kmsg.NewAddRaftVoterRequestListener()
		l.Name, l.Host, l.Port = "CONTROLLER", host, uint16(p)
		req.Listeners = append(req.Listeners, l)
		return send(via, req).(*kmsg.AddRaftVoterResponse).ErrorCode
	}

	if code := remove(0, 3, kmsg.StringPtr("another-cluster")); code != kerr.InconsistentClusterID.Code {
		t.Fatalf("another cluster id: %v", kerr.ErrorForCode(code))
	}
	if code := remove(0, 3, nil); code != 0 {
		t.Fatalf("remove node 3: %v", kerr.ErrorForCode(code))
	}
	if code := remove(1, 3, nil); code != kerr.VoterNotFound.Code {
		t.Fatalf("remove node 3 again: %v", kerr.ErrorForCode(code))
	}
	if code := add(1, 1, c.voters[0].Addr); code != kerr.DuplicateVoter.Code {
		t.Fatalf("add voter 1 again: %v", kerr.ErrorForCode(code))
	}
	c.nodes[2].Close()

	lns, four := quorumListeners(t, 1)
	four[0].ID = 4
	voters := []raft.Voter{c.voters[0], c.voters[1], four[0]}
	o := clusterOptions(voters, lns[0], 4, t.TempDir())
	o.Cluster.Join = true
	started := make(chan error, 1)
	var n4 *Server
	go func() {
		var err error
		n4, err = Start(o)
		started <- err
	}()
	if code := add(1, 4, four[0].Addr); code != 0 {
		t.Fatalf("add node 4: %v", kerr.ErrorForCode(code))
	}
	if err := <-started; err != nil {
		t.Fatalf("node 4: %v", err)
	}
	defer n4.Close()
	if _, err := n4.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "via-4", Partitions: 1, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	status, err := n4.data.store.(*raft.Store).Status()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	for _, v := range status.Voters {
		ids = append(ids, v.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, []int32{1, 2, 4}) {
		t.Fatalf("voters %v", status.Voters)
	}
	if _, ok := c.nodes[0].image().Broker(4); !ok {
		t.Fatal("node 4's broker is not registered")
	}

	single, err := Start(&Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	resp := kmsg.NewPtrApiVersionsResponse()
	single.fillAPIVersions(resp)
	if slices.ContainsFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return quorumAPIs[k.ApiKey] }) {
		t.Error("a single node advertises the quorum APIs")
	}
}

// consumeEach polls cl until it has consumed a record of each of partitions 0..n-1.
func consumeEach(ctx context.Context, t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	got := map[int32]bool{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = true })
	}
}

// TestClusterDeadLetters: a broker writes a share group's dead letters to each
// dead-letter partition through its leader: itself, or another broker with Produce.
func TestClusterDeadLetters(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	node := c.nodes[0]
	tp, err := node.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "dlq.c", Partitions: 3, ReplicationFactor: -1,
		Configs: map[string]*string{metadata.DLQGroupEnableConfig: kmsg.StringPtr("true")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.data.store.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: "g",
		Alters: []config.Alter{{Name: metadata.DLQTopicConfig, Value: "dlq.c"}}}); err != nil {
		t.Fatal(err)
	}
	remote := 0
	for _, p := range tp.Partitions {
		if p.Leader != node.opts.NodeID {
			remote++
		}
	}
	if remote == 0 {
		t.Fatalf("every partition led by node %d: %+v", node.opts.NodeID, tp.Partitions)
	}
	var recs []dlq.Record
	for p := range int32(3) {
		recs = append(recs, dlq.Record{Topic: "src", Partition: p, Offset: int64(10 + p), DeliveryCount: 2, Reason: dlq.Rejected})
	}
	if err := node.deadLetters().Write(ctx, "g", recs); err != nil {
		t.Fatal(err)
	}
	for p, st := range tp.Partitions {
		rs := fetchDLQ(t, c.nodes[st.Leader-1], "dlq.c", int32(p))
		if len(rs) != 1 || dlqHeader(rs[0], dlq.HeaderOffset) != strconv.Itoa(10+p) {
			t.Errorf("partition %d (leader %d): %+v", p, st.Leader, rs)
		}
	}
}

// TestClusterTxnProduceVerification: KIP-890 part 1 on a cluster. A transactional batch to
// a partition the producer did not add to its transaction is refused by its leader,
// whichever broker coordinates the transactional id (the leaders that do not ask it with
// AddPartitionsToTxn v4+ VerifyOnly); once added, each leader takes it. With Produce v12
// (KIP-890 part 2) each leader adds its partition to the transaction itself.
func TestClusterTxnProduceVerification(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tp, err := c.nodes[0].data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "tx", Partitions: 3, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, s := range c.nodes {
		seeds = append(seeds, s.Addr().String())
	}
	v11 := kversion.Stable()
	v11.SetMaxKeyVersion(0, 11)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(v11))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v12, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer v12.Close()
	var id string
	var ipr *kmsg.InitProducerIDResponse
	initID := func(txnID string) {
		t.Helper()
		id = txnID
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 60000
		var err error
		if ipr, err = ip.RequestWith(ctx, cl); err != nil || ipr.ErrorCode != 0 {
			t.Fatalf("InitProducerId: %v %+v", err, ipr)
		}
	}
	initID("verified")
	produce := func(part int32) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, 1, 10000 // acks=1: no wait for the ISR to form
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "tx", TopicID: tp.ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: part,
			Records: testutil.Batch(testutil.BatchOptions{ProducerID: ipr.ProducerID, ProducerEpoch: ipr.ProducerEpoch, Attributes: batch.TransactionalBit})}}}}
		resp, err := cl.Broker(int(tp.Partitions[part].Leader)).RetriableRequest(ctx, req)
		if id == "implicit" {
			resp, err = v12.Broker(int(tp.Partitions[part].Leader)).RetriableRequest(ctx, req)
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	for part := range int32(3) {
		if code := produce(part); code != kerr.TransactionAbortable.Code {
			t.Fatalf("tx-%d (leader %d) not added: %v, want TRANSACTION_ABORTABLE", part, tp.Partitions[part].Leader, kerr.ErrorForCode(code))
		}
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, ipr.ProducerID, ipr.ProducerEpoch
	add.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "tx", Partitions: []int32{0, 1, 2}}}
	if resp, err := add.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AddPartitionsToTxn: %v %+v", err, resp)
	}
	for part := range int32(3) {
		if code := produce(part); code != 0 {
			t.Fatalf("tx-%d (leader %d) added: %v", part, tp.Partitions[part].Leader, kerr.ErrorForCode(code))
		}
	}
	// Produce v12 (transactions v2): each leader adds its partition to the transaction.
	initID("implicit")
	for part := range int32(3) {
		if code := produce(part); code != 0 {
			t.Fatalf("v12 to tx-%d (leader %d): %v", part, tp.Partitions[part].Leader, kerr.ErrorForCode(code))
		}
	}
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{id}
	if resp, err := dt.RequestWith(ctx, cl); err != nil || len(resp.TransactionStates) != 1 || len(resp.TransactionStates[0].Topics) != 1 ||
		len(resp.TransactionStates[0].Topics[0].Partitions) != 3 {
		t.Fatalf("after v12 produces: %v %+v", err, resp)
	}
}

// TestClusterFindCoordinatorCreates: on a cluster, the FindCoordinator that creates
// __consumer_offsets answers COORDINATOR_NOT_AVAILABLE, as Kafka's (the leaders have not
// taken the partitions up yet: librdkafka's committed() failed on the NOT_COORDINATOR a
// coordinator named at once answered); asked again, it names the leader of the group's
// partition.
func TestClusterFindCoordinatorCreates(t *testing.T) {
	c := startCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	find := func() *kmsg.FindCoordinatorResponseCoordinator {
		t.Helper()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{"g"}
		resp, err := req.RequestWith(t.Context(), cl.SeedBrokers()[0])
		if err != nil || len(resp.Coordinators) != 1 {
			t.Fatalf("FindCoordinator: %v %+v", err, resp)
		}
		return &resp.Coordinators[0]
	}
	if got := find(); got.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("the FindCoordinator that creates __consumer_offsets: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(got.ErrorCode))
	}
	offsets, ok := c.nodes[0].image().Topic(metadata.ConsumerOffsetsTopic)
	if !ok {
		t.Fatal("__consumer_offsets not created")
	}
	leader := offsets.Partitions[coord.PartitionFor("g", offsets.NumPartitions())].Leader
	if got := find(); got.ErrorCode != 0 || got.NodeID != leader {
		t.Fatalf("asked again: %v node %d, want the leader %d", kerr.ErrorForCode(got.ErrorCode), got.NodeID, leader)
	}
}

// TestClusterShareGroupsOn: a cluster node serves share groups by default
// (strata.share.version 1, as on a single node) and advertises every API of theirs, the
// offsets APIs (90-92) too; with strata.share.version 0 and share not listed in
// group.coordinator.rebalance.protocols it advertises none.
func TestClusterShareGroupsOn(t *testing.T) {
	for _, version := range []string{"1", "0"} {
		c := startClusterFunc(t, func(o *Options) { o.Settings[shareVersionSetting] = version })
		for _, n := range c.nodes {
			if n.shareProtocol() != (version == "1") {
				t.Fatalf("strata.share.version %s: node %d serves share groups: %v", version, n.opts.NodeID, n.shareProtocol())
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			n.fillAPIVersions(resp)
			advertised := 0
			for _, k := range resp.ApiKeys {
				if shareAPIs[k.ApiKey] {
					advertised++
				}
			}
			if want := map[string]int{"1": len(shareAPIs), "0": 0}[version]; advertised != want {
				t.Fatalf("strata.share.version %s: node %d advertises %d APIs of share groups, want %d", version, n.opts.NodeID, advertised, want)
			}
		}
	}
}
