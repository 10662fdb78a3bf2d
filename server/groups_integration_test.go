package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

// Consumer groups end to end with franz-go against the in-process broker.

var groupSettings = map[string]string{
	"group.initial.rebalance.delay.ms": "50",
	"offsets.topic.num.partitions":     "5",
}

func groupTopic(t testing.TB, addr, topic string, partitions int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, n, 0)
}

func produce(t testing.TB, cl *kgo.Client, n, from int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// tracker records which member processed which record.
type tracker struct {
	mu   sync.Mutex
	seen map[string][]string // record key -> members
}

func (tr *tracker) add(member, key string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.seen == nil {
		tr.seen = map[string][]string{}
	}
	tr.seen[key] = append(tr.seen[key], member)
}

func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.seen)
}

// consumer polls in a goroutine, processing then committing (commit after process).
type consumer struct {
	name string
	cl   *kgo.Client
	done chan struct{}
}

func startConsumer(t *testing.T, name string, tr *tracker, opts ...kgo.Opt) *consumer {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{name: name, cl: cl, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { tr.add(name, string(r.Key)) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = cl.CommitUncommittedOffsets(ctx)
			cancel()
		}
	}()
	t.Cleanup(func() { c.close() })
	return c
}

func (c *consumer) close() {
	c.cl.Close()
	<-c.done
}

func groupOpts(addr, group, topic string, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, extra...)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe returns the group's state and per-member assigned partitions.
func describe(t testing.TB, addr, group string) (string, map[string][]int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	d := ds[group]
	out := map[string][]int32{}
	for _, m := range d.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range ca.Topics {
			out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
		}
	}
	return d.State, out
}

func TestGroupIntegrationThreeMembersSplitPartitions(t *testing.T) {
	s := servertest.StartBroker(t, "", groupSettings)
	addr := s.Addr().String()
	groupTopic(t, addr, "t6", 6, 0)
	tr := &tracker{}
	for i := 0; i < 3; i++ {
		startConsumer(t, fmt.Sprint("c", i), tr, groupOpts(addr, "g", "t6")...)
	}
	var assigned map[string][]int32
	waitFor(t, "3 stable members", 30*time.Second, func() bool {
		var st string
		st, assigned = describe(t, addr, "g")
		return st == "Stable" && len(assigned) == 3
	})
	seen := map[int32]bool{}
	for m, ps := range assigned {
		if len(ps) != 2 {
			t.Errorf("member %s has %v, want 2 partitions", m, ps)
		}
		for _, p := range ps {
			if seen[p] {
				t.Errorf("partition %d assigned twice: %v", p, assigned)
			}
			seen[p] = true
		}
	}
	if len(seen) != 6 {
		t.Fatalf("assignment %v does not cover 6 partitions", assigned)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t6"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	produce(t, pcl, 600, 0)
	waitFor(t, "600 records", 30*time.Second, func() bool { return tr.count() == 600 })
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, ms := range tr.seen {
		if len(ms) != 1 {
			t.Fatalf("record %s processed by %v", k, ms)
		}
	}
}

// cutDialer lets a test sever a client from the broker, as if its process died.
type cutDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, errors.New("cut")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cutDialer) sever() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		c.Close()
	}
}

func TestGroupIntegrationDeadMemberLosesPartitions(t *testing.T) {
	s := servertest.StartBroker(t, "", groupSettings)
	addr := s.Addr().String()
	groupTopic(t, addr, "td", 6, 300)
	tr := &tracker{}
	d := &cutDialer{}
	startConsumer(t, "survivor", tr, groupOpts(addr, "g", "td")...)
	victim := startConsumer(t, "victim", tr, groupOpts(addr, "g", "td", kgo.Dialer(d.dial))...)
	waitFor(t, "2 stable members", 30*time.Second, func() bool {
		st, a := describe(t, addr, "g")
		return st == "Stable" && len(a) == 2
	})
	waitFor(t, "first 300 records", 30*time.Second, func() bool { return tr.count() == 300 })
	d.sever()
	died := time.Now()
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("td"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	produce(t, pcl, 300, 300)
	waitFor(t, "survivor owns all 6 partitions", 20*time.Second, func() bool {
		st, a := describe(t, addr, "g")
		return st == "Stable" && len(a) == 1 && len(a[firstKey(a)]) == 6
	})
	if el := time.Since(died); el > 6*time.Second+3*time.Second {
		t.Errorf("rebalance took %v after the member died (session timeout 6s)", el)
	}
	waitFor(t, "all 600 records", 30*time.Second, func() bool { return tr.count() == 600 })
	go victim.close() // its client can no longer reach the broker; Close runs out in the background
}

func firstKey(m map[string][]int32) string {
	for k := range m {
		return k
	}
	return ""
}

func TestGroupIntegrationTwoGroupsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, groupSettings)
	addr := s.Addr().String()
	groupTopic(t, addr, "tg", 3, 200)
	trs := []*tracker{{}, {}}
	var cs []*consumer
	for i, g := range []string{"ga", "gb"} {
		cs = append(cs, startConsumer(t, g, trs[i], groupOpts(addr, g, "tg")...))
	}
	for i := range trs {
		waitFor(t, "each group sees every record", 30*time.Second, func() bool { return trs[i].count() == 200 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A consumer records a batch before it commits it: wait for the commits too, then
	// close (Close leaves the group without committing).
	adm := newAdmin(t, addr)
	for _, g := range []string{"ga", "gb"} {
		waitFor(t, "group "+g+" to commit every record", 30*time.Second, func() bool {
			offs, err := adm.FetchOffsets(ctx, g)
			if err != nil {
				return false
			}
			var sum int64
			offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
			return sum == 200
		})
	}
	for _, c := range cs {
		c.close()
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := servertest.StartBroker(t, dir, groupSettings)
	addr = s2.Addr().String()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("tg"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "ga")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 200 {
		t.Fatalf("committed offsets after restart sum to %d, want 200: %+v", sum, offs)
	}
	produce(t, cl, 30, 200)
	trs2 := []*tracker{{}, {}}
	for i, g := range []string{"ga", "gb"} {
		startConsumer(t, g, trs2[i], groupOpts(addr, g, "tg")...)
	}
	for i := range trs2 {
		waitFor(t, "the 30 new records", 30*time.Second, func() bool { return trs2[i].count() >= 30 })
		trs2[i].mu.Lock()
		for k := range trs2[i].seen {
			var n int
			fmt.Sscan(k, &n)
			if n < 200 {
				t.Errorf("group %d re-read record %s after restart", i, k)
			}
		}
		trs2[i].mu.Unlock()
	}
}

// assignLog counts the partition assignment callbacks of one client.
type assignLog struct {
	mu       sync.Mutex
	assigned int
	revoked  []int // number of partitions revoked per callback
	owned    int
	gen      int32 // the generation of the last assignment callback
}

func (a *assignLog) opts() []kgo.Opt {
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			_, gen := cl.GroupMetadata()
			a.mu.Lock()
			defer a.mu.Unlock()
			a.assigned++
			a.gen = gen
			for _, ps := range m {
				a.owned += len(ps)
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			n := 0
			for _, ps := range m {
				n += len(ps)
			}
			a.revoked = append(a.revoked, n)
			a.owned -= n
		}),
	}
}

func (a *assignLog) generation() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

func (a *assignLog) snapshot() (int, []int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.assigned, append([]int(nil), a.revoked...), a.owned
}

func TestGroupIntegrationStaticRejoinNoRebalance(t *testing.T) {
	s := servertest.StartBroker(t, "", groupSettings)
	addr := s.Addr().String()
	groupTopic(t, addr, "ts", 4, 0)
	tr := &tracker{}
	dyn := &assignLog{}
	startConsumer(t, "dynamic", tr, groupOpts(addr, "g", "ts", dyn.opts()...)...)
	static := startConsumer(t, "static", tr, groupOpts(addr, "g", "ts", kgo.InstanceID("inst-1"))...)
	var before map[string][]int32
	waitFor(t, "2 stable members", 30*time.Second, func() bool {
		var st string
		st, before = describe(t, addr, "g")
		return st == "Stable" && len(before) == 2
	})
	// The cooperative balancer takes two generations to move partitions, and kgo calls
	// OnPartitionsAssigned at each (even with nothing new) after the broker answered its
	// SyncGroup: wait until the dynamic member has seen the static one's generation.
	waitFor(t, "dynamic member assigned", 10*time.Second, func() bool {
		_, gen := static.cl.GroupMetadata()
		_, _, owned := dyn.snapshot()
		return dyn.generation() == gen && owned == 2
	})
	assignedBefore, revokedBefore, _ := dyn.snapshot()
	static.close() // a static member does not leave the group
	startConsumer(t, "static-again", tr, groupOpts(addr, "g", "ts", kgo.InstanceID("inst-1"))...)
	var after map[string][]int32
	waitFor(t, "the static member back", 20*time.Second, func() bool {
		var st string
		st, after = describe(t, addr, "g")
		if st != "Stable" || len(after) != 2 {
			return false
		}
		for id := range before {
			if _, ok := after[id]; !ok {
				return true // the static member has a new member ID
			}
		}
		return false
	})
	assigned, revoked, owned := dyn.snapshot()
	if assigned != assignedBefore || len(revoked) != len(revokedBefore) || owned != 2 {
		t.Fatalf("the dynamic member saw a rebalance: assigned %d→%d, revoked %v→%v, owns %d",
			assignedBefore, assigned, revokedBefore, revoked, owned)
	}
}

func TestGroupIntegrationCooperativeStickyIncremental(t *testing.T) {
	s := servertest.StartBroker(t, "", groupSettings)
	addr := s.Addr().String()
	groupTopic(t, addr, "tc", 6, 0)
	tr := &tracker{}
	first := &assignLog{}
	coop := kgo.Balancers(kgo.CooperativeStickyBalancer())
	startConsumer(t, "c0", tr, groupOpts(addr, "g", "tc", append(first.opts(), coop)...)...)
	waitFor(t, "c0 owns all 6", 20*time.Second, func() bool { _, _, owned := first.snapshot(); return owned == 6 })
	startConsumer(t, "c1", tr, groupOpts(addr, "g", "tc", coop)...)
	waitFor(t, "2 stable members with 3 partitions each", 30*time.Second, func() bool {
		st, a := describe(t, addr, "g")
		if st != "Stable" || len(a) != 2 {
			return false
		}
		for _, ps := range a {
			if len(ps) != 3 {
				return false
			}
		}
		return true
	})
	_, revoked, owned := first.snapshot()
	if owned != 3 {
		t.Fatalf("c0 owns %d partitions", owned)
	}
	for _, n := range revoked {
		if n == 6 {
			t.Fatalf("eager revocation of every partition: %v", revoked)
		}
	}
}
