package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/client"
)

// Process-level tests of a cluster: three `strata serve` processes (the binary built
// once per test binary) on free ports of 127.0.0.1, each with its own data directory,
// started with exactly the command of issue 13.

// procCluster is a cluster of strata processes.
type procCluster struct {
	bin    string
	voters string   // controller.quorum.voters
	addrs  []string // client listener of node i+1
	dirs   []string
	nodes  []*broker // the current process of node i+1
	extra  []string  // more arguments of every node's command
}

// freeAddrs returns n free addresses of 127.0.0.1 (bound, then released for the
// process to bind).
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// startProcCluster starts three nodes at once and waits until each listens (which it
// does once the quorum has registered it).
func startProcCluster(t testing.TB) *procCluster {
	t.Helper()
	return startProcClusterWith(t)
}

// startProcClusterWith is startProcCluster with extra arguments to every node's command.
func startProcClusterWith(t testing.TB, extra ...string) *procCluster {
	t.Helper()
	addrs := freeAddrs(t, 6)
	var voters []string
	for i, a := range addrs[3:] {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	c := &procCluster{bin: buildStrata(t), voters: strings.Join(voters, ","), addrs: addrs[:3], nodes: make([]*broker, 3), extra: extra}
	for i := range 3 {
		c.dirs = append(c.dirs, t.TempDir())
		c.nodes[i] = c.launch(t, i)
	}
	for _, b := range c.nodes {
		b.waitReady(t)
	}
	return c
}

// launch starts node i+1 with its command (the same every time).
func (c *procCluster) launch(t testing.TB, i int) *broker {
	return launchStrata(t, c.bin, append([]string{"--listen", c.addrs[i], "--data-dir", c.dirs[i],
		"--set", "node.id=" + strconv.Itoa(i+1), "--set", "controller.quorum.voters=" + c.voters}, c.extra...)...)
}

// client returns a client of node i+1 alone; req sends to that node, not to the
// controller.
func (c *procCluster) client(t testing.TB, i int) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs[i]), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func req[R kmsg.Response](ctx context.Context, cl *kgo.Client, r kmsg.Request) (R, error) {
	resp, err := cl.SeedBrokers()[0].Request(ctx, r)
	if err != nil {
		var zero R
		return zero, err
	}
	return resp.(R), nil
}

// metadata is node i+1's Metadata of every topic.
func (c *procCluster) metadata(ctx context.Context, cl *kgo.Client) (*kmsg.MetadataResponse, error) {
	r := kmsg.NewPtrMetadataRequest()
	return req[*kmsg.MetadataResponse](ctx, cl, r)
}

// createTopic creates a topic through the client's node; it returns the error code.
func createTopic(ctx context.Context, cl *kgo.Client, name string, partitions int32) (int16, error) {
	r := kmsg.NewPtrCreateTopicsRequest()
	r.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	r.Topics = append(r.Topics, rt)
	resp, err := req[*kmsg.CreateTopicsResponse](ctx, cl, r)
	if err != nil {
		return -1, err
	}
	return resp.Topics[0].ErrorCode, nil
}

// digest is a canonical summary of a Metadata answer: the brokers, the controller and
// every topic with its id and each partition's leader, epoch, replicas and ISR. Two
// nodes with the same metadata image answer the same digest.
func digest(m *kmsg.MetadataResponse) string {
	var lines []string
	for _, b := range m.Brokers {
		lines = append(lines, fmt.Sprintf("broker %d %s:%d", b.NodeID, b.Host, b.Port))
	}
	lines = append(lines, fmt.Sprintf("controller %d", m.ControllerID))
	for _, tp := range m.Topics {
		for _, p := range tp.Partitions {
			lines = append(lines, fmt.Sprintf("topic %s %x %d leader %d epoch %d replicas %v isr %v offline %v", *tp.Topic, tp.TopicID, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas))
		}
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}

// converge waits until every node in live answers the same digest, and returns it.
func (c *procCluster) converge(t *testing.T, ctx context.Context, live []int) string {
	t.Helper()
	var last []string
	for ctx.Err() == nil {
		last = last[:0]
		for _, i := range live {
			m, err := c.metadata(ctx, c.client(t, i))
			if err != nil {
				last = append(last, err.Error())
				continue
			}
			last = append(last, digest(m))
		}
		if len(slices.Compact(slices.Clone(last))) == 1 {
			return last[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the nodes %v do not converge: digests %v", live, last)
	return ""
}

// waitMetadata polls node i+1's Metadata until ok accepts it.
func (c *procCluster) waitMetadata(t *testing.T, ctx context.Context, i int, what string, ok func(*kmsg.MetadataResponse) bool) *kmsg.MetadataResponse {
	t.Helper()
	cl := c.client(t, i)
	for {
		m, err := c.metadata(ctx, cl)
		if err == nil && ok(m) {
			return m
		}
		if ctx.Err() != nil {
			t.Fatalf("node %d: %s: %v", i+1, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status runs `strata cluster status -o json` against node i+1.
func (c *procCluster) status(t *testing.T, i int) *client.ClusterStatus {
	t.Helper()
	r := cli(t, c.addrs[i], 0, "", "cluster", "status", "-o", "json")
	var st client.ClusterStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("cluster status: %v\n%s", err, r.stdout)
	}
	return &st
}

func brokerIDs(m *kmsg.MetadataResponse) []int32 {
	var ids []int32
	for _, b := range m.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids
}

// TestClusterProcess drives a three-process cluster through issue 13's failure
// scenarios: it forms (every node lists the three brokers and the same controller);
// topics are created through each node and are in that node's Metadata at once, their
// leaders spread one per broker; the controller is killed (SIGKILL) while a node keeps
// creating topics: no acknowledged creation is lost, a new controller is named within
// 5 s, creation works again, and topics created from the new controller's election on
// (not only once the dead broker is fenced) have partitions on live brokers only; the
// killed node restarts with the same command and catches up; a stopped node (SIGSTOP)
// is fenced and its partitions go offline, and rejoins on SIGCONT; after each step every
// live node answers the same metadata digest.
func TestClusterProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three strata processes")
	}
	c := startProcCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	// Form.
	var controller int32 = -1
	for i := range 3 {
		m := c.waitMetadata(t, ctx, i, "three brokers and a controller", func(m *kmsg.MetadataResponse) bool {
			return len(m.Brokers) == 3 && m.ControllerID > 0
		})
		if controller != -1 && m.ControllerID != controller {
			c.converge(t, ctx, []int{0, 1, 2}) // a node may still be learning of the controller
			break
		}
		controller = m.ControllerID
	}
	t.Logf("formed, controller %d, digest %s", controller, c.converge(t, ctx, []int{0, 1, 2}))
	st := c.status(t, 1)
	if !st.Quorum || st.Controller != controller || len(st.Nodes) != 3 || len(st.OfflinePartitions) != 0 {
		t.Fatalf("cluster status: %+v", st)
	}
	for _, n := range st.Nodes {
		want := "Follower"
		if n.ID == controller {
			want = "Leader"
		}
		if strings.Join(n.Roles, ",") != "broker,controller" || n.Fenced || n.Raft == nil || n.Raft.State != want || n.Raft.Leader != controller || n.Raft.LastIndex < 1 {
			t.Errorf("cluster status of node %d: %+v raft %+v", n.ID, n, n.Raft)
		}
	}

	// Topics through each node: in that node's Metadata at once, one leader per broker.
	for i := range 3 {
		cl := c.client(t, i)
		name := fmt.Sprintf("via-%d", i+1)
		if code, err := createTopic(ctx, cl, name, 3); err != nil || code != 0 {
			t.Fatalf("create %s through node %d: %v %v", name, i+1, err, kerr.ErrorForCode(code))
		}
		m, err := c.metadata(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(m.Topics, func(tp kmsg.MetadataResponseTopic) bool { return *tp.Topic == name })
		if i < 0 {
			t.Fatalf("%s not in the Metadata of the node that created it", name)
		}
		leaders := map[int32]bool{}
		for _, p := range m.Topics[i].Partitions {
			leaders[p.Leader] = true
		}
		if len(leaders) != 3 {
			t.Errorf("%s: leaders %v, want one per broker", name, leaders)
		}
	}
	c.converge(t, ctx, []int{0, 1, 2})

	// Kill -9 the controller while another node creates topics.
	dead := int(controller - 1)
	via := (dead + 1) % 3
	other := (dead + 2) % 3
	var (
		mu         sync.Mutex
		acked      []string // acknowledged creations
		afterElect []string // creations started once a new controller was named
		elected    bool
		firstOK    time.Time // the first acknowledged creation after the kill
		killedAt   time.Time
	)
	stop := make(chan struct{})
	creatorDone := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs[via]), kgo.RequestRetries(0))
		if err != nil {
			creatorDone <- err
			return
		}
		defer cl.Close()
		for n := 0; ; n++ {
			select {
			case <-stop:
				creatorDone <- nil
				return
			default:
			}
			name := fmt.Sprintf("during-%d", n)
			mu.Lock()
			started := elected
			mu.Unlock()
			code, err := createTopic(ctx, cl, name, 2)
			if err != nil || code != 0 {
				continue // a creation the failover interrupted: not acknowledged
			}
			mu.Lock()
			acked = append(acked, name)
			if started {
				afterElect = append(afterElect, name)
			}
			if !killedAt.IsZero() && firstOK.IsZero() {
				firstOK = time.Now()
			}
			mu.Unlock()
		}
	}()
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	c.nodes[dead].kill(t)
	m := c.waitMetadata(t, ctx, other, "a new controller", func(m *kmsg.MetadataResponse) bool {
		return m.ControllerID > 0 && m.ControllerID != controller
	})
	electedAfter := time.Since(killedAt)
	mu.Lock()
	elected = true
	mu.Unlock()
	c.waitMetadata(t, ctx, other, "the dead broker fenced", func(m *kmsg.MetadataResponse) bool {
		return !slices.Contains(brokerIDs(m), controller)
	})
	fencedAfter := time.Since(killedAt)
	for {
		mu.Lock()
		n := len(afterElect)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no creation acknowledged after the election")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-creatorDone; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	recovered := firstOK.Sub(killedAt)
	mu.Unlock()
	t.Logf("controller %d killed: controller %d named after %v, broker fenced after %v, first creation acknowledged after %v (%d acknowledged)",
		controller, m.ControllerID, electedAfter, fencedAfter, recovered, len(acked))
	if electedAfter > 5*time.Second || recovered > 5*time.Second {
		t.Errorf("new controller after %v, creation again after %v: want both within 5 s", electedAfter, recovered)
	}
	live := []int{via, other}
	c.converge(t, ctx, live)
	m, err := c.metadata(ctx, c.client(t, other))
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]kmsg.MetadataResponseTopic{}
	for _, tp := range m.Topics {
		topics[*tp.Topic] = tp
	}
	for _, name := range acked {
		if _, ok := topics[name]; !ok {
			t.Errorf("acknowledged topic %s lost", name)
		}
	}
	for _, name := range afterElect {
		for _, p := range topics[name].Partitions {
			if slices.Contains(p.Replicas, controller) || p.Leader == controller {
				t.Errorf("%s partition %d on the dead broker %d: replicas %v leader %d", name, p.Partition, controller, p.Replicas, p.Leader)
			}
		}
	}

	// cluster status names the new controller, the dead node fenced and (with a factor
	// of 1) its partitions offline.
	st = c.status(t, other)
	offline := 0
	for _, tp := range m.Topics {
		for _, p := range tp.Partitions {
			if p.Leader < 0 {
				offline++
			}
		}
	}
	if st.Controller == controller || len(st.OfflinePartitions) != offline || offline == 0 {
		t.Errorf("cluster status after the kill: controller %d, offline %v (Metadata: %d)", st.Controller, st.OfflinePartitions, offline)
	}
	for _, n := range st.Nodes {
		if n.Fenced != (n.ID == controller) || n.Fenced && n.Raft != nil || !n.Fenced && n.Raft == nil || strings.Join(n.Roles, ",") != "broker,controller" {
			t.Errorf("cluster status after the kill, node %d: %+v", n.ID, n)
		}
	}

	// Restart the killed node with the same command: it rejoins and catches up.
	restarted := time.Now()
	c.nodes[dead] = c.launch(t, dead)
	c.nodes[dead].waitReady(t)
	c.waitMetadata(t, ctx, other, "the restarted broker unfenced", func(m *kmsg.MetadataResponse) bool {
		return slices.Contains(brokerIDs(m), controller)
	})
	d := c.converge(t, ctx, []int{0, 1, 2})
	t.Logf("node %d restarted, caught up after %v, digest %s", controller, time.Since(restarted), d)

	// SIGSTOP a node that is not the controller: fenced, its partitions offline; SIGCONT:
	// it rejoins and leads them again.
	m, err = c.metadata(ctx, c.client(t, via))
	if err != nil {
		t.Fatal(err)
	}
	stopped := int32(dead + 1) // no longer the controller
	if m.ControllerID == stopped {
		t.Fatalf("restarted node %d is the controller again", stopped)
	}
	watch := int(m.ControllerID - 1)
	if err := c.nodes[dead].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	c.waitMetadata(t, ctx, watch, "the stopped broker fenced, its partitions offline", func(m *kmsg.MetadataResponse) bool {
		if slices.Contains(brokerIDs(m), stopped) {
			return false
		}
		for _, tp := range m.Topics {
			if *tp.Topic == "via-1" {
				for _, p := range tp.Partitions {
					if p.Leader == stopped {
						return false
					}
				}
			}
		}
		return true
	})
	t.Logf("node %d stopped: fenced after %v", stopped, time.Since(stoppedAt))
	if err := c.nodes[dead].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.waitMetadata(t, ctx, watch, "the continued broker back, leading its partitions", func(m *kmsg.MetadataResponse) bool {
		if !slices.Contains(brokerIDs(m), stopped) {
			return false
		}
		for _, tp := range m.Topics {
			if *tp.Topic == "via-1" {
				for _, p := range tp.Partitions {
					if p.Leader < 0 {
						return false
					}
				}
			}
		}
		return true
	})
	c.converge(t, ctx, []int{0, 1, 2})

	// Replace a node (a new machine, same node.id and addresses, an empty data
	// directory): it receives the metadata from the quorum and rejoins.
	c.nodes[via].kill(t)
	if err := os.RemoveAll(c.dirs[via]); err != nil {
		t.Fatal(err)
	}
	replaced := time.Now()
	c.nodes[via] = c.launch(t, via)
	c.nodes[via].waitReady(t)
	d = c.converge(t, ctx, []int{0, 1, 2})
	t.Logf("node %d replaced on an empty data directory, caught up after %v, digest %s", via+1, time.Since(replaced), d)
}

// TestClusterProcessReplaceNode: node 3 is replaced by a node 4 with another id and
// addresses: `strata cluster remove-voter 3`, node 3 stopped, node 4 started with
// strata.cluster.join=true on an empty data directory and added with `strata cluster
// add-voter 4@HOST:PORT` (removing node 3 again exits 3, not found; adding voter 1
// again exits 4, conflict); node 4 catches up and registers, topics are created through
// it, `strata cluster status` shows the voters 1, 2 and 4, and when the controller is
// killed the two others (a majority of the new quorum only) elect a new one.
func TestClusterProcessReplaceNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs four strata processes")
	}
	c := startProcCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	c.waitMetadata(t, ctx, 0, "three brokers and a controller", func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	if code, err := createTopic(ctx, c.client(t, 0), "before", 3); err != nil || code != 0 {
		t.Fatalf("create before: %v %v", err, kerr.ErrorForCode(code))
	}

	r := cli(t, c.addrs[0], codeOK, "", "cluster", "remove-voter", "3")
	mustContain(t, "remove-voter", r.stdout, "removed voter 3")
	// Stopped at once, as the operator does: a removed node still running has no quorum
	// and answers what a client routes to it (the voter requests too) REQUEST_TIMED_OUT.
	c.nodes[2].kill(t)
	r = cli(t, c.addrs[1], codeNotFound, "", "cluster", "remove-voter", "3")
	mustContain(t, "remove-voter again", r.stderr, "voter 3 does not exist")
	cli(t, c.addrs[1], codeConflict, "", "cluster", "add-voter", "1@"+strings.Split(c.voters, ",")[0][2:])
	addrs := freeAddrs(t, 2)
	voters := strings.Split(c.voters, ",")
	voters[2] = "4@" + addrs[1]
	n4 := launchStrata(t, c.bin, "--listen", addrs[0], "--data-dir", t.TempDir(), "--set", "node.id=4",
		"--set", "controller.quorum.voters="+strings.Join(voters, ","), "--set", "strata.cluster.join=true")
	r = cli(t, c.addrs[1], codeOK, "", "cluster", "add-voter", voters[2])
	mustContain(t, "add-voter", r.stdout, "added voter "+voters[2])
	n4.waitReady(t)
	c.addrs = append(c.addrs, addrs[0])
	c.nodes = append(c.nodes, n4)
	if code, err := createTopic(ctx, c.client(t, 3), "via-4", 3); err != nil || code != 0 {
		t.Fatalf("create through node 4: %v %v", err, kerr.ErrorForCode(code))
	}
	d := c.converge(t, ctx, []int{0, 1, 3})
	st := c.status(t, 3)
	var quorum []int32
	for _, n := range st.Nodes {
		if slices.Contains(n.Roles, "controller") {
			quorum = append(quorum, n.ID)
		}
	}
	if !slices.Equal(quorum, []int32{1, 2, 4}) || !st.Quorum {
		t.Fatalf("cluster status: voters %v, want [1 2 4]: %+v", quorum, st)
	}
	t.Logf("node 3 replaced by node 4, digest %s", d)

	controller := st.Controller
	dead := slices.IndexFunc([]int32{1, 2, 0, 4}, func(id int32) bool { return id == controller })
	c.nodes[dead].kill(t)
	live := slices.DeleteFunc([]int{0, 1, 3}, func(i int) bool { return i == dead })
	c.waitMetadata(t, ctx, live[0], "a new controller", func(m *kmsg.MetadataResponse) bool {
		return m.ControllerID > 0 && m.ControllerID != controller
	})
	if code, err := createTopic(ctx, c.client(t, live[1]), "after", 2); err != nil || code != 0 {
		t.Fatalf("create after the controller was killed: %v %v", err, kerr.ErrorForCode(code))
	}
	c.converge(t, ctx, live)
}

// TestClusterProcessDataDirChecks: a node refuses a data directory of another node id,
// and one of another cluster (here a single node's), naming both.
func TestClusterProcessDataDirChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs strata processes")
	}
	bin := buildStrata(t)
	dir := t.TempDir()
	b := startStrata(t, bin, dir) // a single node, node.id 0
	b.kill(t)
	data, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	var single string
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "cluster.id="); ok {
			single = v
		}
	}
	quorum := freeAddrs(t, 1)[0]
	for _, tc := range []struct {
		node string
		want []string
	}{
		{"1", []string{"stored node.id 0 does not match configured node.id 1"}},
		{"0", []string{"belongs to cluster " + single + ", not to this node's cluster "}},
	} {
		b := launchStrata(t, bin, "--listen", "127.0.0.1:0", "--data-dir", dir, "--set", "node.id="+tc.node,
			"--set", "controller.quorum.voters="+tc.node+"@"+quorum)
		select {
		case err := <-b.done:
			b.done <- err
			for _, w := range tc.want {
				if err == nil || !strings.Contains(b.log.String(), w) {
					t.Errorf("node.id %s: exit %v, want an error with %q:\n%s", tc.node, err, w, b.log)
				}
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("node.id %s on another node's data directory still running", tc.node)
		}
	}
}

// benchTopics numbers the topics of BenchmarkClusterProcessCreateTopic (-count runs its
// sub-benchmarks again on the same cluster).
var benchTopics atomic.Int64

// BenchmarkClusterProcessCreateTopic creates one-partition topics one at a time through
// the controller's node and through another node (forwarded to the controller, answered
// once that node applied the record) of a three-process cluster.
func BenchmarkClusterProcessCreateTopic(b *testing.B) {
	c := startProcCluster(b)
	ctx := b.Context()
	m, err := c.metadata(ctx, c.client(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	leader := int(m.ControllerID - 1)
	for _, bc := range []struct {
		name string
		node int
	}{{"leader", leader}, {"follower", (leader + 1) % 3}} {
		b.Run(bc.name, func(b *testing.B) {
			cl := c.client(b, bc.node)
			for b.Loop() {
				if code, err := createTopic(ctx, cl, fmt.Sprintf("bench-%d", benchTopics.Add(1)), 1); err != nil || code != 0 {
					b.Fatalf("create: %v %v", err, kerr.ErrorForCode(code))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// TestClusterProcessLibrdkafka drives librdkafka (Debian's python3-confluent-kafka, a
// client written by others) against three strata processes: it creates a topic of
// replication factor 3 with the AdminClient and waits until its ISR is full, commits two
// transactions and aborts one in between with a transactional producer (acks=all), and a
// read_committed consumer group reads exactly the committed records, once each
// (testdata/librdkafka_txn.py). make test installs the package; the test fails, not
// skips, without it.
func TestClusterProcessLibrdkafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three strata processes")
	}
	const python = "/usr/bin/python3" // Debian's, with Debian's confluent_kafka
	if err := exec.Command(python, "-c", "import confluent_kafka").Run(); err != nil {
		t.Fatalf("python3-confluent-kafka is not installed (make test installs it: apt-get install -y python3-confluent-kafka): %v", err)
	}
	c := startProcCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	c.waitMetadata(t, ctx, 0, "three brokers", func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
	cmd := exec.CommandContext(ctx, python, "testdata/librdkafka_txn.py")
	cmd.Env = append(os.Environ(), "BROKERS="+strings.Join(c.addrs, ","))
	out, err := cmd.CombinedOutput()
	t.Logf("librdkafka: %s", out)
	if err != nil || !strings.Contains(string(out), "OK ") {
		t.Fatalf("librdkafka against the cluster: %v", err)
	}
}
