package raft

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
)

func listen(t *testing.T) *Network {
	t.Helper()
	nw, err := Listen("127.0.0.1:0", &NetworkOptions{Logger: quietLogger(), MaxMessageBytes: 1024, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
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
	closed(binary.BigEndian.AppendUint32([]byte{kindForward}, 1025))

	addr := srv.Addr()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Forward(t.Context(), Voter{ID: 1, Addr: addr}, []byte("x")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("forward to a closed node: %v", err)
	}
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
