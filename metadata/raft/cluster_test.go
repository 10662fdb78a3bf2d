package raft

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/stratalog/strata/metadata"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashNodeEnv) != "" {
		os.Exit(runCrashNode()) // a node process of TestRaftCrash
	}
	goleak.VerifyTestMain(m)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testCluster runs voters in process, on hashicorp/raft's in-memory transport, each
// with its Raft files in a temporary directory; it is their Forwarder too. Nodes can be
// stopped (as a crash: no leadership hand-off) and started again on their files.
type testCluster struct {
	t      testing.TB
	voters []Voter
	dirs   map[int32]string
	rules  metadata.Rules
	opts   func(*Options) // adjusts every node's options

	mu     sync.Mutex
	stores map[int32]*Store
	trans  map[int32]*hraft.InmemTransport
	tcp    bool               // nodes talk over TCP on loopback (Network), not in memory
	nets   map[int32]*Network // tcp: the nodes' listeners
	cut    map[int32]bool     // in memory: nodes whose forwarded commands do not get through
}

// newTCPCluster is newTestCluster with nodes on TCP listeners on loopback (free ports;
// a restarted node listens on its port again).
func newTCPCluster(t testing.TB, n int, rules metadata.Rules) *testCluster {
	t.Helper()
	c := newTestCluster(t, n, rules)
	c.tcp, c.nets = true, map[int32]*Network{}
	for i := range c.voters {
		nw, err := Listen("127.0.0.1:0", &NetworkOptions{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		c.voters[i].Addr = nw.Addr()
		c.nets[c.voters[i].ID] = nw
	}
	t.Cleanup(func() {
		for _, v := range c.voters {
			c.stop(v.ID)
		}
		for _, nw := range c.nets { // the listeners of nodes never started
			nw.Close()
		}
	})
	return c
}

func newTestCluster(t testing.TB, n int, rules metadata.Rules) *testCluster {
	t.Helper()
	watchHang(t)
	c := &testCluster{t: t, dirs: map[int32]string{}, rules: rules, stores: map[int32]*Store{}, trans: map[int32]*hraft.InmemTransport{}}
	for i := int32(1); i <= int32(n); i++ {
		c.voters = append(c.voters, Voter{ID: i, Addr: fmt.Sprintf("node%d:9093", i)})
		c.dirs[i] = t.TempDir()
	}
	t.Cleanup(func() {
		for _, v := range c.voters {
			c.stop(v.ID)
		}
	})
	return c
}

// hangAfter bounds a test cluster's life: its tests take seconds even on a loaded
// machine, so one still running after this is hung.
const hangAfter = 2 * time.Minute

// watchHang makes a hung test fail within hangAfter, with every goroutine's stack,
// rather than block until go test's timeout (15 minutes in make test). Cleanups run last
// first: registered before the cluster's, it covers stopping the nodes too. Benchmarks
// may run longer and are not watched.
func watchHang(t testing.TB) {
	if _, ok := t.(*testing.T); !ok {
		return
	}
	name := t.Name()
	fired := make(chan struct{})
	timer := time.AfterFunc(hangAfter, func() {
		defer close(fired)
		debug.SetTraceback("all")
		panic(fmt.Sprintf("%s: hung: its Raft cluster is still running after %v (the stacks below show where it blocks)", name, hangAfter))
	})
	t.Cleanup(func() {
		if !timer.Stop() {
			<-fired
		}
	})
}

// startAll starts every node that is not running.
func (c *testCluster) startAll() {
	for _, v := range c.voters {
		if c.store(v.ID) == nil {
			c.start(v.ID)
		}
	}
}

func (c *testCluster) start(id int32) *Store {
	c.t.Helper()
	o := &Options{NodeID: id, Dir: c.dirs[id], Voters: c.voters, Forwarder: nodeForwarder{c, id}, Logger: quietLogger(), Rules: c.rules}
	var nw *Network
	if c.tcp {
		c.mu.Lock()
		nw = c.nets[id]
		c.mu.Unlock()
		if nw == nil {
			var err error
			if nw, err = Listen(c.voters[id-1].Addr, &NetworkOptions{Logger: quietLogger()}); err != nil {
				c.t.Fatalf("node %d listens again: %v", id, err)
			}
		}
		o.Transport, o.Forwarder = nw.Transport(), nw
	} else {
		addr, tr := hraft.NewInmemTransport(hraft.ServerAddress(c.voters[id-1].Addr))
		c.mu.Lock()
		for _, other := range c.trans {
			tr.Connect(other.LocalAddr(), other)
			other.Connect(addr, tr)
		}
		c.trans[id] = tr
		c.mu.Unlock()
		o.Transport = tr
	}
	if c.opts != nil {
		c.opts(o)
	}
	st, err := Open(o)
	if err != nil {
		c.t.Fatalf("open node %d: %v", id, err)
	}
	if nw != nil {
		nw.Handle(st.ServeForward)
	}
	c.mu.Lock()
	c.stores[id] = st
	if nw != nil {
		c.nets[id] = nw
	}
	c.mu.Unlock()
	return st
}

// stop closes node id's store and cuts it off its peers.
func (c *testCluster) stop(id int32) {
	c.mu.Lock()
	st, tr := c.stores[id], c.trans[id]
	delete(c.stores, id)
	delete(c.trans, id)
	delete(c.nets, id) // closed with the store's transport
	for _, other := range c.trans {
		if tr != nil {
			other.Disconnect(tr.LocalAddr())
		}
	}
	c.mu.Unlock()
	if st != nil {
		if err := st.Close(); err != nil {
			c.t.Errorf("close node %d: %v", id, err)
		}
	}
}

func (c *testCluster) store(id int32) *Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stores[id]
}

// nodeForwarder delivers a node's forwarded commands in process.
type nodeForwarder struct {
	c    *testCluster
	from int32
}

func (f nodeForwarder) Forward(ctx context.Context, to Voter, req []byte) ([]byte, error) {
	f.c.mu.Lock()
	st, cut := f.c.stores[to.ID], f.c.cut[f.from] || f.c.cut[to.ID]
	f.c.mu.Unlock()
	if st == nil || cut {
		return nil, fmt.Errorf("%w: node %d is down or cut off", ErrUnreachable, to.ID)
	}
	return st.ServeForward(req), nil
}

// isolate cuts node id (in memory) off its peers, Raft and forwarded commands (raft:
// false keeps its Raft connections: only its commands and heartbeats stop), or (heal)
// reconnects it.
func (c *testCluster) isolate(id int32, raft, heal bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut == nil {
		c.cut = map[int32]bool{}
	}
	c.cut[id] = !heal
	if !raft {
		return
	}
	tr := c.trans[id]
	for oid, other := range c.trans {
		if oid == id {
			continue
		}
		if heal {
			tr.Connect(other.LocalAddr(), other)
			other.Connect(tr.LocalAddr(), tr)
		} else {
			tr.Disconnect(other.LocalAddr())
			other.Disconnect(tr.LocalAddr())
		}
	}
}

// waitFor polls cond until it holds, failing the test after a generous deadline (an
// election on a loaded machine takes a few heartbeat timeouts).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leader waits until a running node is the ready controller and returns it.
func (c *testCluster) leader() *Store {
	c.t.Helper()
	var l *Store
	waitFor(c.t, "a ready controller", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, st := range c.stores {
			if st.ready() {
				l = st
				return true
			}
		}
		return false
	})
	return l
}

// lead makes node id the ready controller (by a Raft leadership transfer).
func (c *testCluster) lead(id int32) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("node %d to lead", id), func() bool {
		l := c.leader()
		if l.node == id {
			return true
		}
		if l.raft.State() == hraft.Leader {
			// An error: the leadership moved meanwhile; the next poll tries again.
			l.raft.LeadershipTransferToServer(serverID(id), hraft.ServerAddress(c.voters[id-1].Addr)).Error()
		}
		return false
	})
}

// digest is an image's content, for comparing nodes.
func digest(im *metadata.Image) []byte { return encodeVersioned(snapshotVersion, newSnapshot(im, 0)) }

// converged waits until every running node has the same image, and returns it.
func (c *testCluster) converged() *metadata.Image {
	c.t.Helper()
	var im *metadata.Image
	waitFor(c.t, "the images to converge", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		var first []byte
		for _, st := range c.stores {
			d := digest(st.Image())
			if first == nil {
				first, im = d, st.Image()
			} else if !bytes.Equal(first, d) {
				return false
			}
		}
		return true
	})
	return im
}
