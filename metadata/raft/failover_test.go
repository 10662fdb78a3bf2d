package raft

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/metadata"
)

func registerAll(t testing.TB, c *testCluster) {
	t.Helper()
	for _, v := range c.voters {
		if err := c.store(v.ID).RegisterBroker(t.Context(), metadata.Broker{ID: v.ID, Endpoints: []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9092 + v.ID}}}); err != nil {
			t.Fatalf("register %d: %v", v.ID, err)
		}
	}
}

func mustCreate(t *testing.T, st *Store, name string, partitions int32) *metadata.Topic {
	t.Helper()
	tp, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: name, Partitions: partitions, ReplicationFactor: -1})
	if err != nil {
		t.Fatalf("create %s through node %d: %v", name, st.node, err)
	}
	return tp
}

// TestRaftFormAndPlace: commands through every node apply once, cluster-wide, and each
// node sees its own command's result when it returns; replicas spread round-robin over
// the registered brokers (3 partitions of factor 1 on 3 brokers: one leader each), a
// factor above the broker count is refused; every node converges on one image.
func TestRaftFormAndPlace(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	registerAll(t, c)
	for _, v := range c.voters {
		st := c.store(v.ID)
		tp := mustCreate(t, st, "via"+strconv.Itoa(int(v.ID)), 1)
		if got, ok := st.Image().TopicByID(tp.ID); !ok || got.Name != tp.Name {
			t.Fatalf("node %d does not see the topic it created", v.ID)
		}
	}
	spread := mustCreate(t, c.store(2), "spread", 3)
	var leaders []int32
	for _, p := range spread.Partitions {
		leaders = append(leaders, p.Leader)
	}
	if slices.Sort(leaders); !slices.Equal(leaders, []int32{1, 2, 3}) {
		t.Fatalf("leaders %v, want one per broker", leaders)
	}
	rf3, err := c.store(3).CreateTopic(t.Context(), metadata.CreateTopic{Name: "rf3", Partitions: 2, ReplicationFactor: 3})
	if err != nil || len(rf3.Partitions[0].Replicas) != 3 {
		t.Fatalf("replication factor 3: %+v, %v", rf3, err)
	}
	if _, err := c.store(1).CreateTopic(t.Context(), metadata.CreateTopic{Name: "rf4", Partitions: 1, ReplicationFactor: 4}); !errors.Is(err, metadata.ErrInvalidReplicationFactor) {
		t.Fatalf("replication factor 4 on 3 brokers: %v", err)
	}
	im := c.converged()
	if len(im.Topics()) != 5 || len(im.Brokers()) != 3 || im.Controller() != c.leader().node || im.ClusterID() == "" {
		t.Fatalf("image: %d topics, %d brokers, controller %d (leader %d), cluster %q", len(im.Topics()), len(im.Brokers()), im.Controller(), c.leader().node, im.ClusterID())
	}
}

// TestRaftControllerFailover: the controller stops (as a crash) while every node creates
// topics; a new controller is elected and records itself, commands through every live
// node work again, no acknowledged creation is lost; the old controller restarts on its
// files (and port), catches up, and every node has the same image. In memory and on TCP.
func TestRaftControllerFailover(t *testing.T) {
	t.Run("InMemory", func(t *testing.T) { testControllerFailover(t, newTestCluster(t, 3, metadata.Rules{})) })
	t.Run("TCP", func(t *testing.T) { testControllerFailover(t, newTCPCluster(t, 3, metadata.Rules{})) })
}

func testControllerFailover(t *testing.T, c *testCluster) {
	c.startAll()
	registerAll(t, c)
	old := c.leader().node
	cluster := c.store(old).Image().ClusterID()

	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, v := range c.voters {
		st := c.store(v.ID)
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("n%d-%d", st.node, i)
				_, err := st.CreateTopic(t.Context(), metadata.CreateTopic{Name: name, Partitions: 1, ReplicationFactor: 1})
				switch {
				case err == nil:
					mu.Lock()
					acked[name] = true
					mu.Unlock()
				case errors.Is(err, metadata.ErrClosed):
					return
				case !errors.Is(err, metadata.ErrNotController) && !errors.Is(err, metadata.ErrTopicExists):
					t.Errorf("create %s: %v", name, err)
					return
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor(t, "creations before the crash", func() bool { return count() >= 20 })
	killed := time.Now()
	c.stop(old)
	before := count()
	next := c.leader()
	elected := time.Since(killed)
	waitFor(t, "creations after the crash", func() bool { return count() >= before+20 })
	close(stop)
	wg.Wait()
	t.Logf("controller %d stopped; %d ready as controller after %v; %d creations acknowledged", old, next.node, elected, count())

	waitFor(t, "the old controller's broker to be fenced", func() bool { return c.fenced(old) })
	t.Logf("broker %d fenced %v after the crash", old, time.Since(killed))
	for _, v := range c.voters {
		if st := c.store(v.ID); st != nil {
			for _, p := range mustCreate(t, st, fmt.Sprintf("after-%d", v.ID), 4).Partitions {
				if p.HasReplica(old) {
					t.Fatalf("a partition created after the crash placed on fenced broker %d", old)
				}
			}
		}
	}
	c.start(old)
	if err := c.store(old).RegisterBroker(t.Context(), metadata.Broker{ID: old}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c.store(old), "restarted", 1)
	im := c.converged()
	if im.Controller() != next.node || im.ClusterID() != cluster {
		t.Fatalf("controller %d (want %d), cluster %q (was %q)", im.Controller(), next.node, im.ClusterID(), cluster)
	}
	if b, _ := im.Broker(old); b.Fenced {
		t.Fatalf("broker %d still fenced after it registered again", old)
	}
	mu.Lock()
	defer mu.Unlock()
	for name := range acked {
		if _, ok := im.Topic(name); !ok {
			t.Errorf("acknowledged topic %s lost", name)
		}
	}
}

// TestRaftSnapshotCatchUp: a node that was down while the others compacted their logs
// into snapshots catches up from the leader's snapshot (its watchers follow, as deltas
// from its image to the snapshot's and on); a node restarts from its own snapshot.
func TestRaftSnapshotCatchUp(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.opts = func(o *Options) { o.TrailingLogs = 2 }
	c.startAll()
	registerAll(t, c)
	mustCreate(t, c.store(3), "early", 1)
	c.converged()
	c.stop(3)
	for i := range 10 {
		mustCreate(t, c.store(1), fmt.Sprint("t", i), 1)
	}
	for _, id := range []int32{1, 2} {
		if err := c.store(id).raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot on node %d: %v", id, err)
		}
	}
	st := c.start(3)
	var mu sync.Mutex
	var deltas []*metadata.Delta
	start, cancel := st.Watch(func(d *metadata.Delta) error { mu.Lock(); deltas = append(deltas, d); mu.Unlock(); return nil })
	defer cancel()
	im := c.converged()
	waitFor(t, "node 3 to install a snapshot", func() bool { return st.raft.Stats()["last_snapshot_index"] != "0" })
	mu.Lock()
	prev, created := start, map[string]bool{}
	for _, d := range deltas {
		if d.Old != prev {
			t.Fatal("the watcher's deltas do not chain")
		}
		for _, tp := range d.Created {
			created[tp.Name] = true
		}
		prev = d.New
	}
	mu.Unlock()
	if prev != st.Image() {
		t.Fatalf("the watcher followed to version %d, the image is at %d", prev.Version(), st.Image().Version())
	}
	for i := range 10 {
		if !created[fmt.Sprint("t", i)] {
			t.Fatalf("the watcher did not see t%d created (saw %v)", i, created)
		}
	}
	c.stop(1)
	c.start(1)
	mustCreate(t, c.store(1), "last", 1)
	if im2 := c.converged(); len(im2.Topics()) != len(im.Topics())+1 {
		t.Fatalf("%d topics after restarting node 1, want %d", len(im2.Topics()), len(im.Topics())+1)
	}
}

// TestRaftStatus: every node reports the same leader, term and voters; the leader is
// ready and in contact with itself, followers heard from it; applied entries are
// committed ones.
func TestRaftStatus(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	c.lead(2)
	registerAll(t, c)
	c.converged()
	for _, v := range c.voters {
		st, err := c.store(v.ID).Status()
		if err != nil {
			t.Fatal(err)
		}
		leader := v.ID == 2
		if st.Node != v.ID || st.Leader != 2 || st.Ready != leader || (st.State == "Leader") != leader || st.Term == 0 ||
			!slices.Equal(st.Voters, c.voters) || st.AppliedIndex == 0 || st.AppliedIndex > st.CommitIndex || st.CommitIndex > st.LastIndex {
			t.Fatalf("node %d: %+v", v.ID, st)
		}
		if leader && st.LastContact != 0 || !leader && (st.LastContact < 0 || st.LastContact > 10*time.Second) {
			t.Fatalf("node %d: last contact %v", v.ID, st.LastContact)
		}
	}
}

// TestRaftReplaceVoter: a voter is removed from the quorum and a new node, started to
// join (not to bootstrap), is added in its place (adding a voter twice, or removing a
// node that is not one, fails with ErrDuplicateVoter or ErrVoterNotFound); it receives
// the metadata, and the new quorum survives the loss of its controller.
func TestRaftReplaceVoter(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	registerAll(t, c)
	mustCreate(t, c.store(1), "before", 2)
	c.voters = append(c.voters, Voter{ID: 4, Addr: "node4:9093"})
	c.dirs[4] = t.TempDir()
	c.opts = func(o *Options) { o.Join = o.NodeID == 4 }

	if err := c.store(2).AddVoter(t.Context(), Voter{ID: 1, Addr: "elsewhere:9093"}); !errors.Is(err, ErrDuplicateVoter) {
		t.Fatalf("adding voter 1 again: %v", err)
	}
	if err := c.store(2).RemoveVoter(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	if err := c.store(1).RemoveVoter(t.Context(), 3); !errors.Is(err, ErrVoterNotFound) {
		t.Fatalf("removing voter 3 again: %v", err)
	}
	c.stop(3)
	c.start(4)
	if err := c.store(1).AddVoter(t.Context(), Voter{ID: 4, Addr: "node4:9093"}); err != nil {
		t.Fatal(err)
	}
	if err := c.store(4).RegisterBroker(t.Context(), metadata.Broker{ID: 4}); err != nil {
		t.Fatal(err)
	}
	im := c.converged()
	if _, ok := im.Topic("before"); !ok {
		t.Fatal("the new voter did not get the metadata")
	}
	st, err := c.store(4).Status()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	for _, v := range st.Voters {
		ids = append(ids, v.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, []int32{1, 2, 4}) {
		t.Fatalf("voters %v", st.Voters)
	}
	c.stop(c.leader().node)
	next := c.leader()
	mustCreate(t, next, "after", 1)
	if next.node != 4 {
		mustCreate(t, c.store(4), "via-4", 1)
	}
}

// TestRaftRemoveLeaderVoter: a controller that removes itself from the quorum steps
// down and stays up as a follower outside it (Raft does not shut itself down: Close
// could not wait for its goroutines then, and closed the stable store under them); the
// other voters elect a controller, and the removed node closes cleanly.
func TestRaftRemoveLeaderVoter(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	registerAll(t, c)
	old := c.leader()
	if err := old.RemoveVoter(t.Context(), old.node); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removed controller to step down", func() bool { return old.raft.State() != hraft.Leader })
	if st := old.raft.State(); st != hraft.Follower {
		t.Fatalf("the removed controller is %v, want Follower", st)
	}
	var next *Store
	waitFor(t, "another controller", func() bool { next = c.leader(); return next != old })
	mustCreate(t, next, "after", 1)
	c.stop(old.node)
}
