package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/quota"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server: closed")

// ErrTooManyConnections is returned by ServeConn when max.connections are open.
var ErrTooManyConnections = errors.New("server: max.connections reached")

// Server is a single-node Kafka-protocol broker.
//
// Concurrency: all exported methods are safe for concurrent use. Each listener has an
// accept loop; each connection is served by a reader goroutine (decodes and dispatches
// requests in order) and a writer goroutine (writes responses in request order); handlers
// may defer slow work to goroutines of their own, all owned by the connection.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics // request metrics (metrics.go)
	// quota is the quota seam (dispatch.go, throttle): how long the client must wait
	// after the response to r (quotas.go); nil: no quotas.
	quota  func(r *request, resp kmsg.Response) time.Duration
	quotas *quotas // the client quotas; read-only after New
	// tls holds the TLS side of each listener whose security protocol uses TLS, by
	// listener name; set by New.
	tls map[string]*listenerTLS
	// plainSlots bounds the SASL PLAIN logins verified at once (sasl.go).
	plainSlots chan struct{}

	ctx    context.Context // cancelled by Shutdown: ends every connection
	cancel context.CancelFunc

	data serverData // data directory, topics and partitions (data.go)

	// floors are the lowest request version accepted per API key under
	// strata.protocol.min.version (versions.go); read-only after New.
	floors map[int16]int16

	wg sync.WaitGroup // accept loops and connections

	mu struct {
		sync.Mutex
		listeners []*listener // bound, in the order bound
		conns     map[*conn]struct{}
		perIP     map[netip.Addr]int // open connections by client address
		closing   bool
	}
	// perIP and perIPOverrides are max.connections.per.ip and its overrides; read-only
	// after New.
	perIP          int
	perIPOverrides map[netip.Addr]int
	// created is the rate of connections accepted on every listener, and createdMax its
	// limit (max.connection.creation.rate, KIP-612).
	created      *quota.Rate
	createdMax   float64
	shutdownOnce sync.Once
	shutdownErr  error
}

// New opens the data directory and prepares a broker; Start, Listen and ListenAndServe,
// or Serve start it.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, metrics: newMetrics(), plainSlots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.conns = make(map[*conn]struct{})
	s.mu.perIP = make(map[netip.Addr]int)
	if err := s.openData(); err != nil {
		s.cancel()
		return nil, err
	}
	s.floors = s.protocolFloors()
	s.quotas = s.newQuotas()
	s.quota = s.quotas.throttle
	s.created, s.createdMax = quota.NewRate(s.quotaWindow("")), float64(s.data.broker.Int64("max.connection.creation.rate"))
	s.perIP = int(s.data.broker.Int64("max.connections.per.ip"))
	s.perIPOverrides, _ = config.PerIPOverrides(s.data.broker.String("max.connections.per.ip.overrides")) // validated with the settings
	if err := s.configureAuthorizer(); err != nil {
		s.closeData()
		s.cancel()
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := s.openSecurity(); err != nil {
		s.closeData()
		s.cancel()
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

// loadTLS loads the TLS side of the TLS listeners (their PEM files); openData calls it,
// before the replication that may connect through them starts.
func (s *Server) loadTLS() error {
	s.tls = map[string]*listenerTLS{}
	for _, l := range s.opts.listeners() {
		if !l.SecurityProtocol.usesTLS() {
			continue
		}
		t, err := newListenerTLS(l, s.opts.Settings, s.log)
		if err != nil {
			return err
		}
		s.tls[l.Name] = t
	}
	return nil
}

// openSecurity creates the SCRAM credentials of bootstrap.user and of
// strata.inter.broker.sasl.user.
func (s *Server) openSecurity() error {
	if err := s.bootstrapUser(s.ctx, "bootstrap.user"); err != nil {
		return err
	}
	return s.bootstrapUser(s.ctx, "strata.inter.broker.sasl.user")
}

// Start is New followed by Listen and serving in the background; it returns once every
// listener is bound, so Addr is valid. This is the embedding API: tests (ours and users')
// start a broker on 127.0.0.1:0 with a temporary data directory, talk to Addr(), and call
// Shutdown.
func Start(opts *Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := s.Listen(); err != nil {
		s.closeData()
		return nil, err
	}
	if _, err := s.serveBound(); err != nil {
		s.closeData()
		return nil, err
	}
	return s, nil
}

// Listen binds every listener of the Options not bound yet (Options.Listener is used for
// the Listen shorthand when set) without accepting connections: ListenAndServe does. On
// an error the listeners it bound are closed again.
func (s *Server) Listen() error {
	var bound []*listener
	for i, cfg := range s.opts.listeners() {
		if s.listenerNamed(cfg.Name) != nil {
			continue
		}
		ln := s.opts.Listener
		if i > 0 || ln == nil {
			var err error
			if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
				for _, l := range bound {
					l.ln.Close()
				}
				return fmt.Errorf("server: listen on %s (%s): %w", cfg.Addr, cfg.Name, err)
			}
		}
		bound = append(bound, s.newListener(cfg, ln))
	}
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		for _, l := range bound {
			l.ln.Close()
		}
		return ErrServerClosed
	}
	s.mu.listeners = append(s.mu.listeners, bound...)
	s.mu.Unlock()
	s.registerBroker() // the addresses clients reach are known now (ports may have been 0)
	return nil
}

// ListenAndServe binds the listeners not bound yet (Listen) and accepts connections on
// every bound listener not served yet, until Shutdown; it returns ErrServerClosed then, or
// the first listener's accept error (the other listeners go on until Shutdown).
func (s *Server) ListenAndServe() error {
	if err := s.Listen(); err != nil {
		return err
	}
	errs, err := s.serveBound()
	if err != nil {
		return err
	}
	if cap(errs) == 0 {
		<-s.ctx.Done()
		return ErrServerClosed
	}
	return <-errs
}

// serveBound starts an accept loop for every bound listener not served yet; each loop's
// end (its error) is sent on errs, which has room for all of them.
func (s *Server) serveBound() (errs chan error, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closing {
		return nil, ErrServerClosed
	}
	var todo []*listener
	for _, l := range s.mu.listeners {
		if !l.serving {
			l.serving = true
			todo = append(todo, l)
		}
	}
	errs = make(chan error, len(todo))
	s.wg.Add(len(todo))
	for _, l := range todo {
		go func() {
			defer s.wg.Done()
			errs <- s.acceptLoop(l)
		}()
	}
	return errs, nil
}

// Serve accepts connections on ln, as the first listener of the Options (its name,
// security protocol and advertised address), until Shutdown; it returns ErrServerClosed
// then.
func (s *Server) Serve(ln net.Listener) error {
	l := s.newListener(s.opts.listeners()[0], ln)
	l.serving = true
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.wg.Add(1)
	s.mu.listeners = append(s.mu.listeners, l)
	s.mu.Unlock()
	defer s.wg.Done()
	s.registerBroker()
	return s.acceptLoop(l)
}

// boundListeners returns the listeners bound so far.
func (s *Server) boundListeners() []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mu.listeners)
}

// listenerNamed returns the bound listener called name, nil if there is none.
func (s *Server) listenerNamed(name string) *listener {
	for _, l := range s.boundListeners() {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Addr is the address of the first listener bound, nil before one is.
func (s *Server) Addr() net.Addr {
	if ls := s.boundListeners(); len(ls) > 0 {
		return ls[0].ln.Addr()
	}
	return nil
}

// ListenerAddr is the address of the listener called name (in any case: Kafka
// normalises listener names to upper case), nil if it is not bound.
func (s *Server) ListenerAddr(name string) net.Addr {
	if l := s.listenerNamed(strings.ToUpper(name)); l != nil {
		return l.ln.Addr()
	}
	return nil
}

// Ready reports whether the broker serves clients: its data directory is open (New
// recovered the storage), every listener is bound and accepting, and Shutdown has not
// begun (it turns false at Shutdown's first step, before the listeners close: the
// HTTP listener's /readyz).
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closing || len(s.mu.listeners) < len(s.opts.listeners()) {
		return false
	}
	for _, l := range s.mu.listeners {
		if !l.serving {
			return false
		}
	}
	return true
}

// ServeConn serves nc, a connection made elsewhere (such as one end of a net.Pipe: the
// HTTP console's in-process client), as if it had come in on the first listener: same
// security protocol, principal and limits (but no TLS: the connection is already in
// process; on a SASL listener it must log in); it counts in that listener's connections.
// It returns at once; the connection belongs to the Server from then on, which closes it
// at Shutdown. It fails with ErrServerClosed once Shutdown has begun, and before a
// listener is bound.
func (s *Server) ServeConn(nc net.Conn) error { return s.serveConn(nc, nil) }

// ServeConnAs is ServeConn with the connection already logged in as p, whatever the first
// listener's protocol: no SASL exchange is needed (nor possible) on it. It is for
// in-process clients whose user the host has authenticated itself (the HTTP console acts
// for its logged-in user, see CheckPassword); the ACLs check p as any client's principal.
func (s *Server) ServeConnAs(nc net.Conn, p Principal) error { return s.serveConn(nc, &p) }

// serveConn serves nc on the first listener, logged in as *as if not nil.
func (s *Server) serveConn(nc net.Conn, as *Principal) error {
	ls := s.boundListeners()
	if len(ls) == 0 || s.closing() {
		nc.Close()
		return ErrServerClosed
	}
	return s.startConn(nc, ls[0], as)
}

// acceptLoop accepts the connections of l until Shutdown or an accept error that is not
// temporary.
func (s *Server) acceptLoop(l *listener) error {
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
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
			s.log.Error("listener stopped: accept failed", "listener", l.Name, "err", err)
			return fmt.Errorf("server: accept on %s: %w", l.Name, err)
		}
		backoff = 0
		if l.tls != nil {
			nc = tls.Server(nc, l.tls.base) // the handshake runs on the connection's goroutine
		}
		_ = s.startConn(nc, l, nil)            // a refused connection is closed and logged
		if d := s.creationThrottle(l); d > 0 { // KIP-612: the next accept waits
			select {
			case <-time.After(d):
			case <-s.ctx.Done():
				return ErrServerClosed
			}
		}
	}
}

// creationThrottle records a connection accepted on l and returns how long to wait
// before the next accept: the longer of what max.connection.creation.rate, over all
// listeners, and l's own limit ask.
func (s *Server) creationThrottle(l *listener) time.Duration {
	now := time.Now()
	return max(s.created.Record(1, s.createdMax, now), l.created.Record(1, l.createdMax, now))
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

// startConn serves nc in a goroutine of its own. A connection refused is closed: the
// error is ErrServerClosed once Shutdown has begun, ErrTooManyConnections when
// max.connections are open, or max.connections.per.ip from its address.
func (s *Server) startConn(nc net.Conn, l *listener, as *Principal) error {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		nc.Close()
		return ErrServerClosed
	}
	if len(s.mu.conns) >= s.opts.MaxConnections {
		s.mu.Unlock()
		s.log.Warn("connection refused: max.connections reached", "remote", nc.RemoteAddr(), "max", s.opts.MaxConnections)
		nc.Close()
		return ErrTooManyConnections
	}
	c := newConn(s, nc, l)
	if as != nil {
		c.login(*as)
	}
	if limit := s.perIPLimit(c.client); c.client.IsValid() && s.mu.perIP[c.client] >= limit { // not in-process ones (ServeConn)
		s.mu.Unlock()
		s.log.Warn("connection refused: max.connections.per.ip reached", "remote", nc.RemoteAddr(), "max", limit)
		c.cancel()
		nc.Close()
		return ErrTooManyConnections
	}
	if d := s.quotas.connectionThrottle(c.client, time.Now()); d > 0 {
		// Over its address's connection_creation_rate (KIP-612): held open, unread, for
		// the throttle time, then closed, which slows a client reconnecting in a loop.
		s.mu.Unlock()
		s.log.Info("connection refused: connection_creation_rate exceeded", "remote", nc.RemoteAddr(), "throttle", d)
		c.cancel()
		time.AfterFunc(min(d, 10*time.Second), func() { nc.Close() })
		return ErrTooManyConnections
	}
	s.mu.perIP[c.client]++
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	l.conns.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		l.conns.Add(-1)
		s.mu.Lock()
		delete(s.mu.conns, c)
		if s.mu.perIP[c.client]--; s.mu.perIP[c.client] == 0 {
			delete(s.mu.perIP, c.client)
		}
		s.mu.Unlock()
	}()
	return nil
}

// Shutdown stops the broker gracefully: a cluster node first has the controller move its
// leaderships away (controlled shutdown); then it stops accepting, lets every connection
// finish the requests it has read, closes the connections, then flushes and closes the
// logs (writing the clean-shutdown marker). If ctx ends first, connections are closed at once
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
	// A cluster node has the controller move its leaderships away first, while its
	// listeners still serve (Kafka's controlled shutdown comes before its socket server
	// stops): the requests in flight that wait for the followers (acks=all, transaction
	// markers) then end (NOT_LEADER_OR_FOLLOWER when this replica becomes a follower)
	// instead of holding the drain below until the ISR shrinks to this broker alone,
	// which left its partitions without a leader to fail over to.
	s.controlledShutdown()
	s.mu.Lock()
	s.mu.closing = true
	lns := slices.Clone(s.mu.listeners)
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, l := range lns {
		l.ln.Close()
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

// perIPLimit is how many connections may be open from addr at once
// (max.connections.per.ip and its overrides).
func (s *Server) perIPLimit(addr netip.Addr) int {
	if n, ok := s.perIPOverrides[addr]; ok {
		return n
	}
	return s.perIP
}
