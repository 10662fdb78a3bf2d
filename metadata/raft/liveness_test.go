package raft

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

// fenced reports whether the controller's image has broker b fenced.
func (c *testCluster) fenced(b int32) bool {
	br, ok := c.leader().Image().Broker(b)
	return ok && br.Fenced
}

// TestRaftFencing: a broker that stops (crash), whose Raft connection fails (cut off),
// or whose heartbeats stop (stalled) is fenced: the partitions it led go offline (leader
// -1, epoch up, the ISR keeps it) and new partitions go to the live brokers only; when it
// registers or heartbeats again it is unfenced and leads them again.
func TestRaftFencing(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	tp := mustCreate(t, c.store(1), "t", 3)
	led := func(b int32) int32 { // the index of t's partition led by b
		return int32(slices.IndexFunc(tp.Partitions, func(p metadata.PartitionState) bool { return p.Leader == b }))
	}
	state := func(i int32) metadata.PartitionState {
		cur, _ := c.leader().Image().Topic("t")
		return cur.Partitions[i]
	}
	checkFenced := func(t *testing.T, b int32, what string, since time.Time, epoch int32) {
		t.Helper()
		waitFor(t, "broker to be fenced: "+what, func() bool { return c.fenced(b) })
		t.Logf("%s: broker %d fenced after %v", what, b, time.Since(since))
		if p := state(led(b)); p.Leader != metadata.NoLeader || p.LeaderEpoch != epoch || !slices.Equal(p.ISR, []int32{b}) {
			t.Fatalf("%s: partition of fenced broker %d: %+v", what, b, p)
		}
		u := mustCreate(t, c.leader(), "u-"+what, 4)
		for _, p := range u.Partitions {
			if p.Leader == b {
				t.Fatalf("%s: a new partition placed on fenced broker %d", what, b)
			}
		}
	}
	checkBack := func(t *testing.T, b int32, what string, epoch int32) {
		t.Helper()
		waitFor(t, "broker to be unfenced: "+what, func() bool { return !c.fenced(b) })
		if p := state(led(b)); p.Leader != b || p.LeaderEpoch != epoch {
			t.Fatalf("%s: partition of unfenced broker %d: %+v", what, b, p)
		}
	}

	t.Run("Crash", func(t *testing.T) {
		now := time.Now()
		c.stop(3)
		checkFenced(t, 3, "crash", now, 1)
		st := c.start(3)
		if err := st.RegisterBroker(t.Context(), metadata.Broker{ID: 3}); err != nil {
			t.Fatal(err)
		}
		checkBack(t, 3, "crash", 2)
	})
	t.Run("CutOff", func(t *testing.T) {
		now := time.Now()
		c.isolate(2, true, false)
		checkFenced(t, 2, "cut-off", now, 1)
		c.isolate(2, true, true)
		checkBack(t, 2, "cut-off", 2)
	})
	t.Run("Stalled", func(t *testing.T) {
		// Raft still reaches it; its heartbeats do not reach the controller.
		now := time.Now()
		c.isolate(3, false, false)
		checkFenced(t, 3, "stalled", now, 3)
		// Not the fast path of an unreachable voter (two heartbeat intervals), the session
		// (counted from the last heartbeat, which a loaded machine may have delayed).
		if d := time.Since(now); d < DefaultSessionTimeout/2 {
			t.Fatalf("fenced after %v, before the session timeout", d)
		}
		c.isolate(3, false, true)
		checkBack(t, 3, "stalled", 4)
	})
}

// TestRaftControlledShutdown: a controller that shuts down in a controlled way fences
// its own broker first (its partitions' leadership moves or goes offline at once, not
// after a session) and hands the Raft leadership over (no election timeout).
func TestRaftControlledShutdown(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	rf3, err := c.store(2).CreateTopic(t.Context(), metadata.CreateTopic{Name: "rf3", Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c.store(2), "rf1", 3)
	start := time.Now()
	if err := c.store(1).ControlledShutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.stop(1)
	next := c.leader()
	t.Logf("controlled shutdown of the controller: %v until controller %d was ready", time.Since(start), next.node)
	im := next.Image()
	if b, _ := im.Broker(1); !b.Fenced {
		t.Fatal("broker 1 not fenced by its controlled shutdown")
	}
	for _, name := range []string{"rf1", "rf3"} {
		tp, _ := im.Topic(name)
		for i, p := range tp.Partitions {
			if p.Leader == 1 {
				t.Fatalf("%s-%d still led by the broker that shut down", name, i)
			}
		}
	}
	// With the ISR the leader alone (no replication yet), a factor of 3 does not help.
	for i, p := range rf3.Partitions {
		if p.Leader == 1 {
			if got, _ := im.Topic("rf3"); got.Partitions[i].Leader != metadata.NoLeader {
				t.Fatalf("rf3-%d: %+v", i, got.Partitions[i])
			}
		}
	}
}

// TestRaftPlacementAfterTakeOver: a new controller places new partitions only on the
// brokers that have heartbeated to it, from its election on (not only once it fenced
// the others): a broker whose heartbeats stopped before the election, not fenced yet
// (the session is long here), gets nothing; a creation right after the election waits
// for the live brokers' first heartbeats and spreads over all of them; once the broker
// heartbeats again it gets partitions again.
func TestRaftPlacementAfterTakeOver(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.opts = func(o *Options) { o.HeartbeatInterval, o.SessionTimeout = 400*time.Millisecond, time.Minute }
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	leaders := func(tp *metadata.Topic) []int32 {
		var out []int32
		for _, p := range tp.Partitions {
			if !slices.Contains(out, p.Leader) {
				out = append(out, p.Leader)
			}
		}
		slices.Sort(out)
		return out
	}

	c.isolate(3, false, false) // its heartbeats stop; Raft still reaches it
	c.lead(2)
	start := time.Now()
	tp := mustCreate(t, c.store(2), "right-after", 4)
	t.Logf("created %v after the new controller was ready", time.Since(start))
	if c.fenced(3) {
		t.Fatal("broker 3 fenced: the session should outlast the test")
	}
	if got := leaders(tp); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("leaders right after the election %v, want [1 2] (broker 3 unheard)", got)
	}
	if err := c.store(1).CreatePartitions(t.Context(), metadata.CreatePartitions{Topic: "right-after", Total: 6}); err != nil {
		t.Fatal(err)
	}
	grown, _ := c.store(1).Image().Topic("right-after")
	for _, p := range grown.Partitions[4:] {
		if p.HasReplica(3) {
			t.Fatalf("a new partition placed on unheard broker 3: %+v", p)
		}
	}

	c.isolate(3, false, true)
	waitFor(t, "broker 3 to heartbeat to the new controller", func() bool { return c.store(2).live.heardSince(3) })
	if got := leaders(mustCreate(t, c.store(3), "heard-again", 3)); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("leaders once broker 3 heartbeats again %v, want one each", got)
	}
}

// TestRaftUncleanElectionOnConfigChange: a partition whose only in-sync replica is fenced
// stays offline while a live replica out of its ISR could lead it; once its topic's
// unclean.leader.election.enable is turned on (AlterTopicConfigs through any node) the
// controller elects that replica at once, alone in the ISR, as Kafka's controller does
// on the config change.
func TestRaftUncleanElectionOnConfigChange(t *testing.T) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	// Two brokers other than the controller: the first leads, alone in the ISR.
	var b []int32
	for _, v := range c.voters {
		if v.ID != c.leader().node {
			b = append(b, v.ID)
		}
	}
	if _, err := c.store(b[1]).CreateTopic(t.Context(), metadata.CreateTopic{Name: "u", Partitions: -1, ReplicationFactor: -1,
		Assignments: [][]int32{b}}); err != nil {
		t.Fatal(err)
	}
	state := func() metadata.PartitionState {
		cur, _ := c.leader().Image().Topic("u")
		return cur.Partitions[0]
	}
	if p := state(); p.Leader != b[0] || !slices.Equal(p.ISR, b[:1]) {
		t.Fatalf("new partition: %+v, want leader %d alone in the ISR", p, b[0])
	}
	c.isolate(b[0], false, false) // its heartbeats stop: fenced
	defer c.isolate(b[0], false, true)
	waitFor(t, "the leader's broker to be fenced", func() bool { return c.fenced(b[0]) })
	if p := state(); p.Leader != metadata.NoLeader {
		t.Fatalf("partition whose only in-sync replica is fenced: %+v, want offline", p)
	}
	if err := c.store(b[1]).AlterTopicConfigs(t.Context(), metadata.AlterTopicConfigs{Topic: "u",
		Alters: []config.Alter{{Name: "unclean.leader.election.enable", Op: config.OpSet, Value: "true"}}}); err != nil {
		t.Fatal(err)
	}
	if p := state(); p.Leader != b[1] || !slices.Equal(p.ISR, b[1:]) || p.LeaderEpoch != 2 {
		t.Fatalf("after unclean.leader.election.enable=true: %+v, want leader %d alone in the ISR at epoch 2", p, b[1])
	}
}

// TestRaftLivenessPredecessor: a new controller counts its predecessor's silence from its
// Raft's last contact with it, not from the take-over: unreachable by Raft (suspect), it
// is fenced at the first check, where any other broker first gets two heartbeat
// intervals; reachable, it keeps its session; a contact after the take-over is ignored.
func TestRaftLivenessPredecessor(t *testing.T) {
	im := metadata.NewImage("c", 1, metadata.Broker{ID: 1}, metadata.Broker{ID: 2}, metadata.Broker{ID: 3})
	hb, session := 250*time.Millisecond, 1500*time.Millisecond
	now := time.Now()
	var l liveness
	l.reset(now)
	l.heardAt(3, now.Add(-700*time.Millisecond)) // the old controller, last heard 0.7 s ago
	l.heardAt(2, now.Add(time.Second))           // not before the take-over: ignored
	if got := l.expired(im, 1, now, session, 2*hb); len(got) != 0 {
		t.Fatalf("expired %v with no broker suspect", got)
	}
	l.setSuspect(3, true)
	l.setSuspect(2, true)
	if got := l.expired(im, 1, now.Add(10*time.Millisecond), session, 2*hb); !slices.Equal(got, []int32{3}) {
		t.Fatalf("expired %v, want the unreachable predecessor 3 at once", got)
	}
	if got := l.expired(im, 1, now.Add(2*hb+20*time.Millisecond), session, 2*hb); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("expired %v, want 2 too after two heartbeat intervals", got)
	}
	if l.heardSince(3) {
		t.Error("the predecessor counts as heard since the take-over")
	}
}

// TestRaftPlacementLateHeartbeat: a creation of replication factor 3 right after an
// election, while one of the three brokers has not heartbeated to the new controller yet,
// waits for it past the first two heartbeat intervals (it is late, not dead) and places a
// replica on every broker, rather than failing with INVALID_REPLICATION_FACTOR.
func TestRaftPlacementLateHeartbeat(t *testing.T) {
	const hb = 200 * time.Millisecond
	c := newTestCluster(t, 3, metadata.Rules{})
	c.opts = func(o *Options) { o.HeartbeatInterval, o.SessionTimeout = hb, time.Minute }
	c.startAll()
	c.lead(1)
	registerAll(t, c)

	c.isolate(3, false, false) // its heartbeats stop; Raft still reaches it
	c.lead(2)
	late := time.AfterFunc(4*hb, func() { c.isolate(3, false, true) })
	defer late.Stop()
	tp, err := c.store(2).CreateTopic(t.Context(), metadata.CreateTopic{Name: "late", Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		t.Fatalf("create with factor 3 while broker 3's heartbeat is late: %v", err)
	}
	for _, p := range tp.Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition placed on %v, want the three brokers", p.Replicas)
		}
	}
}

// TestRaftPlacementUnheardForASession: the wait for brokers not heard since the take-over
// is bounded by the session: a broker that never heartbeats to the new controller does
// not count, and a creation of replication factor 3 fails with
// INVALID_REPLICATION_FACTOR once the session since the take-over is over.
func TestRaftPlacementUnheardForASession(t *testing.T) {
	const hb, session = 100 * time.Millisecond, time.Second
	c := newTestCluster(t, 3, metadata.Rules{})
	c.opts = func(o *Options) { o.HeartbeatInterval, o.SessionTimeout = hb, session }
	c.startAll()
	c.lead(1)
	registerAll(t, c)

	c.isolate(3, false, false)
	c.lead(2)
	_, err := c.store(2).CreateTopic(t.Context(), metadata.CreateTopic{Name: "dead", Partitions: 3, ReplicationFactor: 3})
	if !errors.Is(err, metadata.ErrInvalidReplicationFactor) {
		t.Fatalf("create with factor 3, broker 3 unheard for a session: %v, want %v", err, metadata.ErrInvalidReplicationFactor)
	}
	if _, ok := c.store(2).Image().Topic("dead"); ok {
		t.Fatal("the topic was created")
	}
}

// TestRaftHeartbeatWhileBusy: the controller counts an unfenced broker's heartbeat as it
// arrives, even while a command holds it (ctrl, held here as a slow Raft commit holds it
// on a loaded machine): the forwarded heartbeat is answered and the broker heard without
// waiting for the commands before it, so that a busy controller does not fence a live
// broker whose heartbeats queued behind them (KAFKA-17793). The heartbeat of a fenced
// broker, which unfences it (a record), still runs as a command.
func TestRaftHeartbeatWhileBusy(t *testing.T) {
	c, ctl := startQuietController(t)
	heard := func(b int32) time.Time {
		ctl.live.Lock()
		defer ctl.live.Unlock()
		return ctl.live.seen[b]
	}

	before := time.Now()
	ctl.ctrl.Lock()
	done := make(chan error, 1)
	go func() {
		b := int32(2)
		_, err := c.store(2).submit(t.Context(), &request{Heartbeat: &b})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second): // without the fix it waits for ctrl: forever here
	}
	ctl.ctrl.Unlock()
	if err != nil {
		t.Fatalf("heartbeat while the controller is busy: %v", err)
	}
	if heard(2).Before(before) {
		t.Fatalf("broker 2 last heard at %v, before its heartbeat (%v): it waited for the busy controller", heard(2), before)
	}

	b := int32(3)
	if _, err := ctl.submit(t.Context(), &request{FenceBroker: &b}); err != nil {
		t.Fatal(err)
	}
	if ctl.heartbeat(3) {
		t.Fatal("the heartbeat of fenced broker 3 was taken outside the commands")
	}
	if _, err := c.store(3).submit(t.Context(), &request{Heartbeat: &b}); err != nil {
		t.Fatal(err)
	}
	if c.fenced(3) {
		t.Fatal("broker 3 still fenced after its heartbeat")
	}
}

// TestRaftFenceRechecksExpiry: a session expiry's fence that waited for the commands
// before it does not fence a broker heard meanwhile; one still unheard is fenced.
func TestRaftFenceRechecksExpiry(t *testing.T) {
	c, ctl := startQuietController(t)
	setSeen := func(b int32, at time.Time) {
		ctl.live.Lock()
		defer ctl.live.Unlock()
		ctl.live.seen[b] = at
	}
	long := time.Now().Add(-2 * time.Hour)
	setSeen(2, long)
	setSeen(3, long)
	if got := ctl.live.expired(ctl.Image(), ctl.node, time.Now(), ctl.session, 2*ctl.hbInterval); len(got) != 2 {
		t.Fatalf("expired brokers %v, want 2 and 3", got)
	}

	ctl.ctrl.Lock() // the fence waits for a command in progress
	done := make(chan *response, 1)
	go func() {
		b := int32(2)
		done <- ctl.serve(&request{FenceBroker: &b, expiredOnly: true})
	}()
	// Broker 2 is heard while its fence waits; the fence cannot have run yet (ctrl).
	setSeen(2, time.Now())
	ctl.ctrl.Unlock()
	if resp := <-done; resp.Err != nil || resp.Index != 0 {
		t.Fatalf("fence of broker 2 heard meanwhile: %+v, want nothing appended", resp)
	}
	if c.fenced(2) {
		t.Fatal("broker 2 fenced though heard while its fence waited")
	}

	b := int32(3)
	if resp := ctl.serve(&request{FenceBroker: &b, expiredOnly: true}); resp.Err != nil || resp.Index == 0 {
		t.Fatalf("fence of broker 3, still unheard: %+v", resp)
	}
	if !c.fenced(3) {
		t.Fatal("broker 3, unheard for its session, not fenced")
	}
}

// startQuietController starts three registered nodes, node 1 the controller (returned),
// whose own heartbeats (one a minute) and session expiry (an hour) stay out of the way.
func startQuietController(t *testing.T) (*testCluster, *Store) {
	c := newTestCluster(t, 3, metadata.Rules{})
	c.opts = func(o *Options) { o.HeartbeatInterval, o.SessionTimeout = time.Minute, time.Hour }
	c.startAll()
	c.lead(1)
	registerAll(t, c)
	return c, c.store(1)
}
