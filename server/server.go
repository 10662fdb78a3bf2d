package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server: closed")

// Server is a single-node Kafka-protocol broker.
//
// Concurrency: all exported methods are safe for concurrent use. Each connection is served
// by a reader goroutine (decodes and dispatches requests in order) and a writer goroutine
// (writes responses in request order); handlers may defer slow work to goroutines of their
// own, all owned by the connection.
type Server struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // cancelled by Shutdown: ends every connection
	cancel context.CancelFunc

	data serverData // data directory, topics and partitions (data.go)

	wg sync.WaitGroup // accept loops and connections

	mu struct {
		sync.Mutex
		listeners []net.Listener
		conns     map[*conn]struct{}
		closing   bool
		addr      net.Addr
	}
	shutdownOnce sync.Once
	shutdownErr  error
}

// New opens the data directory and prepares a broker; Serve or ListenAndServe starts it.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.conns = make(map[*conn]struct{})
	if err := s.openData(); err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// Start is New followed by listening on opts.Listen and serving in the background; it
// returns once the listener is bound, so Addr is valid. This is the embedding API: tests
// (ours and users') start a broker on 127.0.0.1:0 with a temporary data directory, talk to
// Addr(), and call Shutdown.
func Start(opts *Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln := s.opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.opts.Listen); err != nil {
			s.closeData()
			return nil, fmt.Errorf("server: listen: %w", err)
		}
	}
	if err := s.addListener(ln); err != nil {
		ln.Close()
		s.closeData()
		return nil, err
	}
	go func() {
		defer s.wg.Done()
		s.acceptLoop(ln)
	}()
	return s, nil
}

// ListenAndServe listens on Options.Listen and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	ln := s.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.opts.Listen); err != nil {
			return fmt.Errorf("server: listen: %w", err)
		}
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown; it returns ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.addListener(ln); err != nil {
		ln.Close()
		return err
	}
	defer s.wg.Done()
	return s.acceptLoop(ln)
}

// addListener registers ln and counts its accept loop in wg (under mu, so that no loop
// starts once Shutdown has begun waiting); the caller runs the loop and calls wg.Done.
// The first listener's address is registered in the metadata (its port may have been 0).
func (s *Server) addListener(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.wg.Add(1)
	s.mu.listeners = append(s.mu.listeners, ln)
	first := s.mu.addr == nil
	if first {
		s.mu.addr = ln.Addr()
	}
	s.mu.Unlock()
	if first {
		if err := s.registerBroker(); err != nil {
			s.log.Warn("registering the listener's address failed", "err", err)
		}
	}
	return nil
}

// Addr is the address of the first listener, nil before one is bound.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.addr
}

// advertised returns the host and port clients should connect to.
func (s *Server) advertised() (string, int32) {
	addr := s.opts.Advertised
	if addr == "" {
		if a := s.Addr(); a != nil {
			addr = a.String()
		} else {
			addr = s.opts.Listen
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 9092
	}
	var p int32
	fmt.Sscan(port, &p)
	return host, p
}

func (s *Server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-s.ctx.Done():
					return ErrServerClosed
				}
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff = 0
		s.startConn(nc)
	}
}

// isTemporary reports a temporary accept error (such as EMFILE), which the accept loop
// retries with backoff.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closing
}

func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.mu.conns) >= s.opts.MaxConnections {
		s.mu.Unlock()
		s.log.Warn("connection refused: max.connections reached", "remote", nc.RemoteAddr(), "max", s.opts.MaxConnections)
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.mu.conns, c)
		s.mu.Unlock()
	}()
}

// Shutdown stops the broker gracefully: it stops accepting, lets every connection finish
// the requests it has read, closes the connections, then flushes and closes the logs
// (writing the clean-shutdown marker). If ctx ends first, connections are closed at once
// and the data is still closed cleanly. Shutdown is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

// Close is Shutdown without waiting for in-flight requests.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.mu.closing = true
	lns := s.mu.listeners
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, c := range conns {
		c.drain() // stop reading; in-flight requests complete
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.cancel() // ends waits of in-flight handlers and every connection
	<-done
	return s.closeData()
}
