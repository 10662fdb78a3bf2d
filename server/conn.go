package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// maxInFlight bounds the requests one connection may have read but not yet answered;
// the reader stops reading while the queue is full (back pressure).
const maxInFlight = 64

// framePool recycles the frame buffers of produce requests.
var framePool wire.FramePool

// readBufferSize is the read-ahead buffer of a connection, held for its whole life. It is
// small so that idle connections cost little (3,000 of them in well under 100 MiB, issue
// 20): small requests still come several to a read, and a frame larger than it is read
// from the socket straight into the frame's buffer (bufio reads directly once its buffer
// is drained), so at most readBufferSize bytes of a produce frame are copied twice.
const readBufferSize = 4 << 10

// writeTimeout bounds how long one response write may take before the peer is considered
// dead.
const writeTimeout = 30 * time.Second

// conn is one client connection.
type conn struct {
	s        *Server
	nc       net.Conn
	listener *listener // the listener it came in on
	client   netip.Addr
	ctx      context.Context
	cancel   context.CancelFunc
	log      interface {
		Debug(string, ...any)
		Info(string, ...any)
		Warn(string, ...any)
	}

	pending chan *inflight // in request order; closed by the reader when it stops

	// auth is the connection's authentication state, read and written by the reader
	// goroutine only (dispatch, and handlers' synchronous parts through login).
	auth struct {
		principal     *Principal // never modified: login replaces it
		authenticated bool       // false on a SASL listener until the client logs in
		sasl          saslState  // the SASL handshake and conversation (sasl.go)
		// expires is when the SASL login ends (connections.max.reauth.ms, KIP-368);
		// zero: never. reauth: a re-authentication is under way.
		expires time.Time
		reauth  bool
		// closing: the request just handled ends the connection (a failed
		// authentication); its answer is written, no further request is read.
		closing bool
	}
	// mutedUntil (unix nanoseconds) holds the reader back until then: the quota
	// throttle (KIP-219) set by the writer.
	mutedUntil atomic.Int64

	mu struct {
		sync.Mutex
		draining bool // set by drain: read no new request
	}
	// shareSessions is set once the connection opened a share session: they close with
	// it (shares.go).
	shareSessions atomic.Bool
	// ordered is closed when the last coordinator request (orderedAPI) has its answer;
	// nil when it was answered at once. Reader goroutine only (dispatch).
	ordered chan struct{}
}

// inflight is a request whose response has not been written yet.
type inflight struct {
	r    *request
	resp kmsg.Response // valid once done is closed; nil means no response
	done chan struct{}
	// fixedVersion marks a response whose version differs from the request's (the
	// KIP-511 ApiVersions fallback).
	fixedVersion bool
	// failed marks a request whose handler panicked: nothing more may be written, since
	// the client would take the next response for this one.
	failed bool
}

func newConn(s *Server, nc net.Conn, l *listener) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s: s, nc: nc, listener: l, ctx: ctx, cancel: cancel,
		log:     s.log.With("remote", nc.RemoteAddr().String()),
		pending: make(chan *inflight, maxInFlight),
	}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.client = ap.Addr().Unmap()
	}
	c.auth.principal = anonymous
	c.auth.authenticated = !l.SecurityProtocol.usesSASL()
	return c
}

// drain makes the connection stop reading new requests; the ones already read are
// answered, then the connection closes.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.draining = true
	c.nc.SetReadDeadline(time.Now()) // unblock a reader waiting for the next request
}

// armRead sets the read deadline for the next request (the idle timeout) unless the
// connection is draining; it reports false then. Holding mu orders it with drain, so a
// drain is never overwritten by a later deadline.
func (c *conn) armRead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.draining {
		return false
	}
	var deadline time.Time
	if idle := c.s.opts.IdleTimeout; idle > 0 {
		deadline = time.Now().Add(idle)
	}
	c.nc.SetReadDeadline(deadline)
	return true
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.draining
}

// serve runs the connection until the peer goes away, a protocol error, or shutdown.
func (c *conn) serve() {
	// The end of a graceful shutdown (the server's context) closes the socket, which ends
	// a read or write blocked on it.
	stop := context.AfterFunc(c.s.ctx, func() { c.nc.Close() })
	defer stop()
	if !c.handshake() {
		c.cancel()
		c.nc.Close()
		return
	}
	var wg sync.WaitGroup // handler goroutines of later replies
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop(&wg)
	if !c.isDraining() {
		// The peer went away, idled out or broke the protocol: handlers still waiting
		// (long-poll fetch, joins) answer now rather than at their deadlines. Responses
		// are still written. A draining connection (graceful shutdown) instead lets them
		// finish until the shutdown's deadline.
		c.cancel()
	}
	close(c.pending)
	<-writerDone
	c.cancel()
	wg.Wait()
	c.nc.Close()
	if c.shareSessions.Load() {
		c.s.closeShareSessions(c)
	}
}

func (c *conn) readLoop(wg *sync.WaitGroup) {
	br := bufio.NewReaderSize(c.nc, readBufferSize)
	for {
		if c.ctx.Err() != nil || !c.armRead() {
			return
		}
		// A buffer of its own per request: decoded bodies alias the frame (kmsg does not
		// copy byte fields such as produced record batches), and a handler's later
		// function may still use them while the next request is read. Only a Produce
		// frame goes back to the pool once dispatched: its handler has appended (copied)
		// the records before returning and keeps nothing that aliases the frame.
		frame, err := wire.ReadFrameAlloc(br, c.s.opts.MaxRequestBytes, framePool.Get)
		if err != nil {
			c.logReadError(err)
			return
		}
		// A muted connection (a quota throttle) has its next request held here, after it
		// was read: a reader already waiting for it when the mute began is held too.
		if !c.waitUnmuted() || !c.dispatch(frame, wg) {
			return
		}
		if len(frame) >= 2 && frame[0] == 0 && frame[1] == 0 { // api key 0: Produce
			framePool.Put(frame)
		}
	}
}

func (c *conn) logReadError(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !c.isDraining() {
			c.log.Debug("closing idle connection", "idle", c.s.opts.IdleTimeout)
		}
	default:
		c.log.Info("closing connection", "err", err)
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *conn) enqueue(f *inflight) {
	c.pending <- f
}

// waitUnmuted waits until the connection is no longer muted (a quota throttle); it
// reports false when the connection ends meanwhile.
func (c *conn) waitUnmuted() bool {
	if until := c.mutedUntil.Load(); until != 0 {
		if d := time.Until(time.Unix(0, until)); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
		}
	}
	return c.ctx.Err() == nil
}

// A responseWriter is a response that writes its own frame, such as a Fetch whose record
// bytes stay in the segment files (chunkedFetch). The connection writer calls
// writeResponse, which releases what the response holds whatever happens, or release when
// the response is dropped unwritten.
type responseWriter interface {
	kmsg.Response
	// writeResponse writes the response frame for h to w and returns its size.
	writeResponse(w *connWriter, h wire.RequestHeader) (int, error)
	release()
	// response is the kmsg response written (for the metrics' error codes).
	response() kmsg.Response
}

// connWriter is the write side of a connection: a buffered writer on the socket and the
// scratch buffers reused across responses, owned by the writer goroutine. It holds them
// only while it has responses to write: idle (everything flushed, nothing queued) it
// gives the buffered writer back to writerPool and drops scratch buffers larger than
// idleScratch, so that an idle connection holds no write buffer.
type connWriter struct {
	nc  net.Conn
	bw  *bufio.Writer // nil while idle; see buffered
	buf []byte        // encoded responses
	sp  splicer       // chunked fetch responses
}

// writerPool holds the buffered writers of connections that are not writing, scratchPool
// their encoding buffers above idleScratch (*[]byte) and splicerPool their fetch
// splicers (*splicer), so that a large response's buffers are reused, not grown anew,
// by the next connection to write one.
var (
	writerPool  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
	scratchPool sync.Pool
	splicerPool sync.Pool
)

// idleScratch is the largest scratch buffer an idle connection keeps.
const idleScratch = 4 << 10

// buffered returns the connection's buffered writer, taking one from the pool if idle.
func (w *connWriter) buffered() *bufio.Writer {
	if w.bw == nil {
		w.bw = writerPool.Get().(*bufio.Writer)
		w.bw.Reset(w.nc)
	}
	return w.bw
}

// flush writes what is buffered.
func (w *connWriter) flush() error {
	if w.bw == nil {
		return nil
	}
	return w.bw.Flush()
}

// idle gives back the buffers held for writing; what is still buffered (after a failed
// flush) keeps the writer.
func (w *connWriter) idle() {
	if w.bw != nil && w.bw.Buffered() == 0 {
		w.bw.Reset(nil)
		writerPool.Put(w.bw)
		w.bw = nil
	}
	if cap(w.buf) > idleScratch {
		b := w.buf[:0]
		scratchPool.Put(&b)
		w.buf = nil
	}
	if w.sp.size() > idleScratch {
		sp := w.sp
		splicerPool.Put(&sp)
		w.sp = splicer{}
	}
}

// splicer returns the connection's fetch splicer, with a pooled one's buffers if its
// own were given back.
func (w *connWriter) splicer() *splicer {
	if w.sp.size() == 0 {
		if sp, ok := splicerPool.Get().(*splicer); ok {
			w.sp = *sp
		}
	}
	return &w.sp
}

// write writes resp as the response to h and returns the frame's size.
func (w *connWriter) write(h wire.RequestHeader, resp kmsg.Response) (int, error) {
	if rw, ok := resp.(responseWriter); ok {
		return rw.writeResponse(w, h)
	}
	if w.buf == nil {
		if b, ok := scratchPool.Get().(*[]byte); ok {
			w.buf = *b
		}
	}
	w.buf = wire.AppendResponse(w.buf[:0], h, resp)
	n, err := w.buffered().Write(w.buf)
	if cap(w.buf) > 1<<20 { // not kept even while busy
		w.buf = nil
	}
	return n, err
}

// writeLoop writes responses in request order. Responses are buffered while the next one
// is ready too, and flushed before waiting for one that is not (a long-poll fetch behind
// a quick answer must not hold that answer back).
func (c *conn) writeLoop() {
	w := &connWriter{nc: c.nc}
	broken := false
	for f := range c.pending {
		select {
		case <-f.done:
		default:
			if !broken {
				broken = c.writeFailed(c.flush(w))
			}
			w.idle()
			<-f.done
		}
		if f.failed && !broken {
			c.flush(w) // the responses before it are good
			broken = true
			c.cancel()
			c.nc.Close()
		}
		if broken || f.resp == nil {
			if rw, ok := f.resp.(responseWriter); ok {
				rw.release()
			}
			continue
		}
		if !f.fixedVersion {
			f.resp.SetVersion(f.r.hdr.APIVersion)
		}
		c.throttle(f)
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		n, err := w.write(f.r.hdr, f.resp)
		idle := len(c.pending) == 0
		if err == nil && idle {
			err = w.flush()
		}
		broken = c.writeFailed(err)
		c.record(f.r, f.resp, n)
		if idle {
			w.idle()
		}
	}
	if !broken {
		c.flush(w)
	}
	w.idle()
}

// flush writes what w buffers, if anything.
func (c *conn) flush(w *connWriter) error {
	if w.bw == nil || w.bw.Buffered() == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.flush()
}

// writeFailed reports whether err is a write error, and if so ends the connection: the
// reader stops, and the responses still queued are dropped.
func (c *conn) writeFailed(err error) bool {
	if err == nil {
		return false
	}
	c.log.Info("closing connection: write failed", "err", err)
	c.cancel()
	c.nc.Close() // unblocks the reader
	return true
}
