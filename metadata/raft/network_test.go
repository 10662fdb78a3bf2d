package raft

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/metadata"
)

func listen(t *testing.T) *Network {
	t.Helper()
	nw, err := Listen("127.0.0.1:0", &NetworkOptions{Logger: quietLogger(), MaxMessageBytes: 1024, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	nw.guard.Store(&guard{clusterID: func() string { return "" }, admit: func(byte, peer) error { return nil }}) // no Store: admit all
	return nw
}

// TestRaftNetworkForward: forwarded commands travel in frames and get the handler's
// answer ("not the leader" before a handler is set); a connection that opens with an
// unknown byte or sends a frame above the limit is closed; a node that does not listen
// is unreachable (the command certainly did not run); Close stops everything.
func TestRaftNetworkForward(t *testing.T) {
	srv, cli := listen(t), listen(t)
	to := Voter{ID: 1, Addr: srv.Addr()}
	resp, err := cli.Forward(t.Context(), to, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := decodeResponse(resp); err != nil || !r.NotLeader {
		t.Fatalf("answer without a handler: %+v, %v", r, err)
	}
	srv.Handle(func(req []byte) []byte { return append([]byte("echo:"), req...) })
	for _, req := range [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{7}, 1000)} {
		resp, err := cli.Forward(t.Context(), to, req)
		if err != nil || !bytes.Equal(resp, append([]byte("echo:"), req...)) {
			t.Fatalf("forward %d bytes: %q, %v", len(req), resp, err)
		}
	}
	if _, err := cli.Forward(t.Context(), to, make([]byte, 1025)); err == nil {
		t.Fatal("forwarded a command above the limit")
	}

	closed := func(first []byte) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(first); err != nil {
			t.Fatal(err)
		}
		if err := readClosed(c); err != nil {
			t.Fatalf("connection opened with %q: %v", first, err)
		}
	}
	closed([]byte{'X'})
	closed(binary.BigEndian.AppendUint32(appendPeer([]byte{kindForward}, peer{addr: cli.Addr()}), 1025))
	closed([]byte{'R'}) // an older build's Raft connection, without its identity

	addr := srv.Addr()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Forward(t.Context(), Voter{ID: 1, Addr: addr}, []byte("x")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("forward to a closed node: %v", err)
	}
}

// TestRaftNetworkAdmit: a connection says who dials (its quorum address and cluster
// id) and the guard decides: a forwarded command of a refused peer is not handled (the
// connection closes), an admitted one is; without a guard (no Store opened yet) Raft's
// connections are refused and forwarded commands answered.
func TestRaftNetworkAdmit(t *testing.T) {
	srv, cli := listen(t), listen(t)
	cli.guard.Store(&guard{clusterID: func() string { return "a" }, admit: func(byte, peer) error { return nil }})
	got := make(chan peer, 10)
	srv.guard.Store(&guard{clusterID: func() string { return "b" }, admit: func(kind byte, p peer) error {
		got <- p
		if p.clusterID != "b" {
			return errForeignPeer
		}
		return nil
	}})
	var handled atomic.Int32
	srv.Handle(func(req []byte) []byte { handled.Add(1); return req })
	to := Voter{ID: 1, Addr: srv.Addr()}
	if _, err := cli.Forward(t.Context(), to, []byte("x")); err == nil || handled.Load() != 0 {
		t.Fatalf("forwarded from another cluster: %v, handled %d", err, handled.Load())
	}
	if p, want := <-got, (peer{addr: cli.Addr(), clusterID: "a"}); p != want {
		t.Fatalf("the guard saw %+v, want %+v", p, want)
	}
	cli.guard.Store(&guard{clusterID: func() string { return "b" }, admit: func(byte, peer) error { return nil }})
	if resp, err := cli.Forward(t.Context(), to, []byte("x")); err != nil || string(resp) != "x" || handled.Load() != 1 {
		t.Fatalf("forwarded within the cluster: %q, %v, handled %d", resp, err, handled.Load())
	}

	srv.guard.Store(nil)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(appendPeer([]byte{kindRaft}, peer{addr: cli.Addr()})); err != nil {
		t.Fatal(err)
	}
	if err := readClosed(c); err != nil {
		t.Fatalf("Raft connection before a Store: %v", err)
	}
	if resp, err := cli.Forward(t.Context(), to, []byte("y")); err != nil || string(resp) != "y" {
		t.Fatalf("forwarded before a Store: %q, %v", resp, err)
	}
}

// FuzzRaftPeer fuzzes the reader of a connection's identity. Invariants: no panic; an
// identity read is the one written back.
func FuzzRaftPeer(f *testing.F) {
	f.Add(appendPeer(nil, peer{addr: "127.0.0.1:9093", clusterID: "kDUigSq9Io-wTSETNzterw"}))
	f.Add([]byte{3, 'a'})
	f.Add([]byte{0, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPeer(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := readPeer(bytes.NewReader(appendPeer(nil, p)))
		if err != nil || again != p {
			t.Fatalf("round trip of %+v: %+v, %v", p, again, err)
		}
	})
}

// TestRaftNetworkCloseConnections: Close closes the connections a peer holds open, so
// that every goroutine on both sides ends (goleak checks at the end of the package).
func TestRaftNetworkCloseConnections(t *testing.T) {
	srv := listen(t)
	srv.Handle(func(req []byte) []byte { return req })
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{kindForward}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := readClosed(c); err != nil {
		t.Fatal(err)
	}
}

// readClosed checks that the peer closes c (EOF or a reset, not a timeout or data).
func readClosed(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n > 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("read %d bytes, %v; want the connection closed", n, err)
	}
	return nil
}

// FuzzRaftFrame fuzzes the frame reader of forwarded commands. Invariants: no panic; a
// frame is read only whole and within the limit, and a frame written back reads the same.
func FuzzRaftFrame(f *testing.F) {
	f.Add(binary.BigEndian.AppendUint32(nil, 3), []byte("abc"))
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<31), []byte{})
	f.Add([]byte{0, 0}, []byte{})
	f.Fuzz(func(t *testing.T, hdr, body []byte) {
		const limit = 1 << 10
		data := append(hdr, body...)
		got, err := readFrame(bufio.NewReader(bytes.NewReader(data)), limit)
		if err != nil {
			return
		}
		if len(got) > limit || len(data) < 4+len(got) || int(binary.BigEndian.Uint32(data)) != len(got) || !bytes.Equal(got, data[4:4+len(got)]) {
			t.Fatalf("read %d bytes from %x", len(got), data)
		}
		again, err := readFrame(bufio.NewReader(bytes.NewReader(append(binary.BigEndian.AppendUint32(nil, uint32(len(got))), got...))), limit)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestRaftNetworkNoPipeline: the transport does not pipeline AppendEntries, whose
// hashicorp/raft implementation can deadlock the leader's replication to a follower
// that answered a failure (a restarted follower: TestRaftStoreConformance/FollowerTCP/
// Restart hung until the test timeout under load); see Network.Transport.
func TestRaftNetworkNoPipeline(t *testing.T) {
	tr := listen(t).Transport()
	defer tr.(hraft.WithClose).Close()
	peer := listen(t)
	p, err := tr.AppendEntriesPipeline("2", hraft.ServerAddress(peer.Addr()))
	if p != nil {
		p.Close()
	}
	if !errors.Is(err, hraft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("AppendEntriesPipeline: %v, want %v (no pipelining)", err, hraft.ErrPipelineReplicationNotSupported)
	}
}

// TestRaftNetworkCloseWaitsForHeartbeatHandler: closing the transport waits for
// hashicorp/raft's heartbeat handler, which runs on the connection's goroutine and can
// write the term to the stable store: the Store closes its files after the transport,
// and a handler still running then panicked ("failed to save current term: database
// not open").
func TestRaftNetworkCloseWaitsForHeartbeatHandler(t *testing.T) {
	srv := listen(t)
	tr := srv.Transport()
	entered := make(chan struct{})
	var done atomic.Bool
	tr.SetHeartbeatHandler(func(rpc hraft.RPC) {
		close(entered)
		<-srv.closing
		time.Sleep(50 * time.Millisecond) // a Close that does not wait returns meanwhile
		done.Store(true)
		rpc.Respond(&hraft.AppendEntriesResponse{}, nil)
	})
	cli := listen(t).Transport()
	defer cli.(hraft.WithClose).Close()
	go cli.AppendEntries("1", hraft.ServerAddress(srv.Addr()), &hraft.AppendEntriesRequest{
		RPCHeader: hraft.RPCHeader{ID: []byte("2"), Addr: []byte("peer")}, Term: 1,
	}, &hraft.AppendEntriesResponse{})
	<-entered
	if err := tr.(hraft.WithClose).Close(); err != nil {
		t.Fatal(err)
	}
	if !done.Load() {
		t.Fatal("the transport closed while its heartbeat handler still ran")
	}
}

// TestRaftForeignQuorumRefused: a voter of quorum A stops; a node of quorum B listens
// on its address now (a free port reused). A's leader goes on sending that voter its
// AppendEntries: B's node refuses the connections (another cluster, an address none of
// its voters has), and B's images keep their own cluster and brokers. Before, B's node
// followed A's leader, and A's records and cluster id replaced B's in its image (a
// broker with another listener's endpoints: TestClusterShareGroupFailover's "broker 1
// has no endpoint of the inter-broker listener PLAINTEXT", next to a test cluster of
// TestClusterInterBrokerSecured, whose listener is SASL_SSL).
func TestRaftForeignQuorumRefused(t *testing.T) {
	register := func(c *testCluster, listener string) *metadata.Image {
		t.Helper()
		for _, v := range c.voters {
			b := metadata.Broker{ID: v.ID, Endpoints: []metadata.Endpoint{{Listener: listener, Host: "h", Port: 1}}}
			if err := c.leader().RegisterBroker(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		return c.converged()
	}
	a := newTCPCluster(t, 3, metadata.Rules{})
	a.startAll()
	imA := register(a, "SSL")
	addr := a.voters[2].Addr
	a.stop(3)

	b := newTCPCluster(t, 3, metadata.Rules{})
	b.nets[2].Close()
	refused := make(chan string, 100)
	nw, err := Listen(addr, &NetworkOptions{Logger: slog.New(&msgHandler{msgs: refused})})
	if err != nil {
		t.Fatal(err)
	}
	b.nets[2], b.voters[1].Addr = nw, addr
	b.startAll()
	imB := register(b, "PLAINTEXT")
	if imA.ClusterID() == imB.ClusterID() {
		t.Fatalf("two quorums with one cluster id %s", imA.ClusterID())
	}
	deadline := time.After(20 * time.Second)
	for foreign := false; !foreign; { // only A's nodes dial B's with another identity
		select {
		case m := <-refused:
			foreign = strings.Contains(m, errForeignPeer.Error())
		case <-deadline:
			t.Fatal("A's leader never reached B's node, or B's node admitted it")
		}
	}
	if d := digest(b.converged()); !bytes.Equal(d, digest(imB)) {
		t.Fatalf("B's image changed to %s", d)
	}
}

// msgHandler sends the message and attributes of every record to msgs (dropped when
// full).
type msgHandler struct{ msgs chan string }

func (h *msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *msgHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *msgHandler) WithGroup(string) slog.Handler            { return h }
func (h *msgHandler) Handle(_ context.Context, r slog.Record) error {
	m := r.Message
	r.Attrs(func(a slog.Attr) bool { m += " " + a.String(); return true })
	select {
	case h.msgs <- m:
	default:
	}
	return nil
}

// TestRaftAdmit: a Store admits a connection of its own cluster id or of a node that
// does not know one yet, Raft's only from a voter's address (also before the cluster
// has an id: the first election), and forwarded commands from any address (a node
// joining forwards its own AddVoter).
func TestRaftAdmit(t *testing.T) {
	s := &Store{voters: []Voter{{ID: 1, Addr: "a:1"}, {ID: 2, Addr: "a:2"}}}
	s.image.Store(metadata.NewImage("", metadata.NoLeader))
	admitted := func(kind byte, p peer) bool { return s.admit(kind, p) == nil }
	for _, c := range []struct {
		cluster string
		kind    byte
		p       peer
		want    bool
	}{
		{"", kindRaft, peer{addr: "a:2"}, true},
		{"", kindRaft, peer{addr: "a:2", clusterID: "x"}, true},
		{"", kindRaft, peer{addr: "b:2"}, false},
		{"", kindForward, peer{addr: "b:2"}, true},
		{"c", kindRaft, peer{addr: "a:2", clusterID: "c"}, true},
		{"c", kindRaft, peer{addr: "a:2"}, true},
		{"c", kindRaft, peer{addr: "a:2", clusterID: "x"}, false},
		{"c", kindForward, peer{addr: "b:2", clusterID: "x"}, false},
		{"c", kindForward, peer{addr: "b:2"}, true},
	} {
		s.image.Store(metadata.NewImage(c.cluster, metadata.NoLeader))
		if got := admitted(c.kind, c.p); got != c.want {
			t.Errorf("cluster %q admits %c from %+v: %v, want %v", c.cluster, c.kind, c.p, got, c.want)
		}
	}
}
