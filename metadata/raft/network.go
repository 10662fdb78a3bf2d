package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
)

// The first byte of every connection to a node's quorum listener says what it carries;
// the dialer's identity follows it (peer), then what the kind says.
const (
	kindRaft    byte = 'r' // hashicorp/raft's NetworkTransport protocol
	kindForward byte = 'f' // forwarded commands: frames of a 4-byte big-endian length, then the message
)

// peer is who dials a quorum listener, as the connection says after its kind byte: its
// quorum address (its own controller.quorum.voters entry) and its cluster id (empty
// until it knows one), each a length byte then the string. The node refuses a
// connection from another cluster (Store.admit): the leader of another quorum that
// reaches this address (one of its own stopped voters' address, reused by this node)
// would otherwise become the leader this node follows, and overwrite its log and image
// with its own cluster's (Kafka's controllers refuse a request of another cluster id:
// INCONSISTENT_CLUSTER_ID).
type peer struct {
	addr      string
	clusterID string
}

// maxPeerField bounds each string of a peer (a length byte).
const maxPeerField = 255

func appendPeer(b []byte, p peer) []byte {
	b = append(append(b, byte(len(p.addr))), p.addr...)
	return append(append(b, byte(len(p.clusterID))), p.clusterID...)
}

func readPeer(r io.Reader) (peer, error) {
	var fields [2]string
	for i := range fields {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return peer{}, err
		}
		b := make([]byte, n[0])
		if _, err := io.ReadFull(r, b); err != nil {
			return peer{}, err
		}
		fields[i] = string(b)
	}
	return peer{addr: fields[0], clusterID: fields[1]}, nil
}

// guard is how the Store on a Network identifies its node to the peers it dials, and
// admits the connections it accepts (set by Open).
type guard struct {
	clusterID func() string
	// admit returns why a connection of kind from p is refused, nil to accept it.
	admit func(kind byte, p peer) error
}

// NetworkOptions configures a Network.
type NetworkOptions struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds Raft's network I/O with a peer (hashicorp/raft's NetworkTransport
	// timeout; snapshots get longer) and the first byte of an accepted connection; zero
	// means DefaultNetworkTimeout.
	Timeout time.Duration
	// MaxMessageBytes bounds a forwarded command or its answer; zero means
	// DefaultMaxMessageBytes. A larger one closes the connection.
	MaxMessageBytes int
}

const (
	DefaultNetworkTimeout  = 5 * time.Second
	DefaultMaxMessageBytes = 16 << 20
)

// Network is a node's one TCP listener for the controller quorum, on the address of its
// own entry in controller.quorum.voters: Raft's messages (Transport) and Strata's
// forwarded commands (Forward, Handle) share it, told apart by a connection's first
// byte. It is the Forwarder of the node's Store.
//
// Concurrency: safe for concurrent use. It owns an accept goroutine and one goroutine
// per accepted connection until it is routed (Raft's connections then belong to
// hashicorp/raft's transport, forwarding ones stay with their goroutine); Close closes
// the listener and every connection, accepted or dialled, and waits for them, and for
// the transport's handlers of the accepted Raft connections to close theirs.
type Network struct {
	addr    string
	ln      net.Listener
	log     *slog.Logger
	timeout time.Duration
	maxMsg  int
	raftCh  chan net.Conn
	handler atomic.Pointer[func([]byte) []byte]
	guard   atomic.Pointer[guard] // nil until a Store opens on the Network: Raft's connections are refused

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	// raftConns counts the accepted Raft connections not yet closed by their owner,
	// hashicorp/raft's handler goroutine. That goroutine runs Raft's heartbeat handler,
	// which can write the term to the Store's stable store: Close waits for it, so
	// that the Store closes its files only once no handler can use them.
	raftConns sync.WaitGroup
	mu        struct {
		sync.Mutex
		conns  map[net.Conn]struct{}
		closed bool
	}
}

var _ Forwarder = (*Network)(nil)

// Listen listens on addr (host:port, the node's voters entry), which it also gives its
// peers as its own address.
func Listen(addr string, opts *NetworkOptions) (*Network, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft: listen on %s: %w", addr, err)
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		addr = ln.Addr().String() // a test's free port
	}
	return Serve(ln, addr, opts), nil
}

// Serve is Listen on a listener already bound; addr is the node's voters address.
func Serve(ln net.Listener, addr string, opts *NetworkOptions) *Network {
	n := &Network{addr: addr, ln: ln, raftCh: make(chan net.Conn), closing: make(chan struct{})}
	if opts != nil {
		n.log, n.timeout, n.maxMsg = opts.Logger, opts.Timeout, opts.MaxMessageBytes
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.timeout = orDefault(n.timeout, DefaultNetworkTimeout)
	n.maxMsg = orDefault(n.maxMsg, DefaultMaxMessageBytes)
	n.mu.conns = map[net.Conn]struct{}{}
	n.wg.Add(1)
	go n.accept()
	return n
}

// Addr is the node's quorum address: the one Listen was given, with the port chosen for
// a port 0.
func (n *Network) Addr() string { return n.addr }

// Transport returns hashicorp/raft's NetworkTransport on this listener, for Options.
// The Network must be created with the voters address the peers know it by.
//
// It does not pipeline AppendEntries (MaxRPCsInFlight 1: one request in flight per
// follower). hashicorp/raft v1.7's pipeline can deadlock when a pipelined append fails
// (the follower stops, or rejects it): its decoder stops reading while the sender,
// which only looks for that between two sends, blocks handing over one more request. The leader then never sends
// that follower another entry, while its heartbeats keep the follower from starting an
// election, and Raft's Shutdown waits for the stuck sender forever (hashicorp/raft
// issue 612). Commands run one at a time anyway: a forwarded one takes about 2 ms more
// without pipelining (docs/benchmarks.md).
func (n *Network) Transport() hraft.Transport {
	return hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream: &streamLayer{n: n}, MaxPool: 3, Timeout: n.timeout, Logger: newHCLogger(n.log),
		MaxRPCsInFlight: 1,
	})
}

// hello is the start of a connection of kind this node dials: the kind byte and its
// identity.
func (n *Network) hello(kind byte) ([]byte, error) {
	p := peer{addr: n.addr}
	if g := n.guard.Load(); g != nil {
		p.clusterID = g.clusterID()
	}
	if len(p.addr) > maxPeerField || len(p.clusterID) > maxPeerField {
		return nil, fmt.Errorf("raft: quorum address %q or cluster id %q longer than %d bytes", p.addr, p.clusterID, maxPeerField)
	}
	return appendPeer([]byte{kind}, p), nil
}

// Handle sets the function that answers forwarded commands (the Store's ServeForward);
// until it is set, they are answered "not the leader".
func (n *Network) Handle(fn func(req []byte) []byte) { n.handler.Store(&fn) }

// Forward sends req to the voter's node and returns its answer. Failing to connect or
// to send the request wraps ErrUnreachable (the request did not run); a failure after
// that leaves its outcome unknown.
func (n *Network) Forward(ctx context.Context, to Voter, req []byte) ([]byte, error) {
	if len(req) > n.maxMsg {
		return nil, fmt.Errorf("raft: forwarded command of %d bytes, above %d", len(req), n.maxMsg)
	}
	hello, err := n.hello(kindForward)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", to.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrUnreachable, to, err)
	}
	if c = n.track(c); c == nil {
		return nil, fmt.Errorf("%w: closed", ErrUnreachable)
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })()
	frame := binary.BigEndian.AppendUint32(hello, uint32(len(req)))
	frame = append(frame, req...)
	// A frame not written whole is never read whole: the command did not run.
	if _, err := c.Write(frame); err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrUnreachable, to, err)
	}
	resp, err := readFrame(bufio.NewReader(c), n.maxMsg)
	if err != nil {
		return nil, fmt.Errorf("raft: answer of %v: %w", to, err)
	}
	return resp, nil
}

// Close closes the listener and every connection, and waits for the goroutines: its
// own, and hashicorp/raft's handlers of the accepted Raft connections (they return
// once their connection fails; the transport, which calls Close, has stopped
// dispatching to Raft by then).
func (n *Network) Close() error {
	var err error
	n.closeOnce.Do(func() {
		close(n.closing)
		err = n.ln.Close()
		n.mu.Lock()
		n.mu.closed = true
		for c := range n.mu.conns {
			c.Close()
		}
		n.mu.Unlock()
		n.wg.Wait()
		n.raftConns.Wait()
	})
	return err
}

func (n *Network) accept() {
	defer n.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := n.ln.Accept()
		if err != nil {
			select {
			case <-n.closing:
				return
			case <-time.After(backoff):
			}
			n.log.Warn("raft listener: accept failed; retrying", "err", err, "backoff", backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if c = n.track(c); c == nil {
			return
		}
		n.wg.Add(1)
		go n.route(c)
	}
}

// route reads the connection's kind and its dialer's identity, and hands it over if the
// Store admits it.
func (n *Network) route(c net.Conn) {
	defer n.wg.Done()
	var kind [1]byte
	c.SetReadDeadline(time.Now().Add(n.timeout))
	if _, err := io.ReadFull(c, kind[:]); err != nil {
		c.Close()
		return
	}
	if kind[0] != kindRaft && kind[0] != kindForward {
		n.log.Warn("raft listener: connection of an unknown kind closed (a node of an older Strata build?)", "remote", c.RemoteAddr(), "kind", kind[0])
		c.Close()
		return
	}
	p, err := readPeer(c)
	if err != nil {
		c.Close()
		return
	}
	switch g := n.guard.Load(); {
	case g == nil && kind[0] == kindRaft:
		// Raft's peers retry; nothing may reach this node's Raft unchecked.
		n.log.Debug("raft listener: Raft connection refused before the Store opened", "remote", c.RemoteAddr(), "peer", p.addr)
		c.Close()
		return
	case g != nil:
		if err := g.admit(kind[0], p); err != nil {
			n.log.Warn("raft listener: connection refused", "remote", c.RemoteAddr(), "peer", p.addr, "cluster.id", p.clusterID, "err", err)
			c.Close()
			return
		}
	}
	c.SetReadDeadline(time.Time{})
	switch kind[0] {
	case kindRaft:
		n.raftConns.Add(1)
		c.(*trackedConn).owned = &n.raftConns
		select {
		case n.raftCh <- c:
		case <-n.closing:
			c.Close()
		}
	case kindForward:
		n.serveForward(c)
	}
}

// serveForward answers the forwarded commands of one connection until it closes.
func (n *Network) serveForward(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		req, err := readFrame(r, n.maxMsg)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				n.log.Warn("raft listener: bad forwarded command; connection closed", "remote", c.RemoteAddr(), "err", err)
			}
			return
		}
		var resp []byte
		if h := n.handler.Load(); h != nil {
			resp = (*h)(req)
		} else {
			resp = encodeMessage(&response{NotLeader: true})
		}
		frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(resp)), uint32(len(resp)))
		if _, err := c.Write(append(frame, resp...)); err != nil {
			return
		}
	}
}

// errFrameTooLarge: a frame above the size limit.
var errFrameTooLarge = errors.New("raft: forwarded message too large")

func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if uint64(size) > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", errFrameTooLarge, size, limit)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// track registers c to be closed by Close, and returns it wrapped so that closing it
// unregisters it; nil (c closed) once the Network is closed.
func (n *Network) track(c net.Conn) net.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.closed {
		c.Close()
		return nil
	}
	n.mu.conns[c] = struct{}{}
	return &trackedConn{Conn: c, n: n}
}

type trackedConn struct {
	net.Conn
	n     *Network
	owned *sync.WaitGroup // an accepted Raft connection's: Done at the first Close
	once  sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.n.mu.Lock()
		delete(t.n.mu.conns, t.Conn)
		t.n.mu.Unlock()
		if t.owned != nil {
			t.owned.Done()
		}
	})
	return t.Conn.Close()
}

// streamLayer is the Network as hashicorp/raft's StreamLayer.
type streamLayer struct{ n *Network }

func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.n.raftCh:
		return c, nil
	case <-s.n.closing:
		return nil, net.ErrClosed
	}
}

func (s *streamLayer) Close() error { return s.n.Close() }

// Addr is the voters address (what Raft tells its peers), not the bound one.
func (s *streamLayer) Addr() net.Addr { return voterAddr(s.n.addr) }

func (s *streamLayer) Dial(addr hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	hello, err := s.n.hello(kindRaft)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if c = s.n.track(c); c == nil {
		return nil, net.ErrClosed
	}
	if _, err := c.Write(hello); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

type voterAddr string

func (a voterAddr) Network() string { return "tcp" }
func (a voterAddr) String() string  { return string(a) }
