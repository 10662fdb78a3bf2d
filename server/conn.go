package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// maxInFlight bounds the requests one connection may have read but not yet answered;
// the reader stops reading while the queue is full (back pressure).
const maxInFlight = 64

// framePool recycles the frame buffers of produce requests.
var framePool wire.FramePool

// writeTimeout bounds how long one response write may take before the peer is considered
// dead.
const writeTimeout = 30 * time.Second

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	log    interface {
		Debug(string, ...any)
		Info(string, ...any)
		Warn(string, ...any)
	}

	pending chan *inflight // in request order; closed by the reader when it stops

	mu struct {
		sync.Mutex
		draining bool // set by drain: read no new request
	}
}

// inflight is a request whose response has not been written yet.
type inflight struct {
	hdr  wire.RequestHeader
	resp kmsg.Response // valid once done is closed; nil means no response
	done chan struct{}
	// fixedVersion marks a response whose version differs from the request's (the
	// KIP-511 ApiVersions fallback).
	fixedVersion bool
	// failed marks a request whose handler panicked: nothing more may be written, since
	// the client would take the next response for this one.
	failed bool
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		s: s, nc: nc, ctx: ctx, cancel: cancel,
		log:     s.log.With("remote", nc.RemoteAddr().String()),
		pending: make(chan *inflight, maxInFlight),
	}
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
}

func (c *conn) readLoop(wg *sync.WaitGroup) {
	br := bufio.NewReaderSize(c.nc, 64<<10)
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
		if !c.dispatch(frame, wg) {
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

// dispatch decodes one frame, runs its handler and queues the reply. It reports false when
// the connection must close.
func (c *conn) dispatch(frame []byte, wg *sync.WaitGroup) (ok bool) {
	hdr, err := wire.ParseHeaderPrefix(frame)
	if err != nil {
		c.log.Info("closing connection: bad request header", "err", err)
		return false
	}
	a, ok := apis[hdr.APIKey]
	if !ok {
		c.log.Info("closing connection: unsupported api key", "key", hdr.APIKey)
		return false
	}
	if hdr.APIVersion < a.min || hdr.APIVersion > a.max {
		if hdr.APIKey == 18 { // ApiVersions: KIP-511 fallback, v0 body, header v0
			c.enqueue(&inflight{hdr: hdr, resp: apiVersionsFallback(), done: closedChan, fixedVersion: true})
			return true
		}
		c.log.Info("closing connection: unsupported api version", "api", kmsg.NameForKey(hdr.APIKey), "version", hdr.APIVersion)
		return false
	}
	hdr, body, err := wire.Decode(frame)
	if err != nil {
		c.log.Info("closing connection: undecodable request", "err", err)
		return false
	}
	r := &request{ctx: c.ctx, hdr: hdr, body: body, conn: c}
	// A handler that panics is a bug, but it must not take the broker down with every
	// other client: like net/http, log it with the stack and close this connection.
	defer func() {
		if p := recover(); p != nil {
			c.logPanic(hdr, p)
			ok = false
		}
	}()
	rep := a.handle(c.s, r)
	switch {
	case rep.none():
		return true
	case rep.now != nil:
		c.enqueue(&inflight{hdr: hdr, resp: rep.now, done: closedChan})
	case rep.async != nil:
		f := &inflight{hdr: hdr, done: make(chan struct{})}
		rep.async(func(resp kmsg.Response) {
			f.resp = resp
			close(f.done)
		})
		c.enqueue(f)
	default:
		f := &inflight{hdr: hdr, done: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(f.done)
			defer func() {
				if p := recover(); p != nil {
					c.logPanic(hdr, p)
					f.resp, f.failed = nil, true
					c.cancel()
				}
			}()
			f.resp = rep.later()
		}()
		c.enqueue(f)
	}
	return true
}

func (c *conn) logPanic(hdr wire.RequestHeader, p any) {
	c.s.log.Error("handler panic; closing connection", "api", kmsg.NameForKey(hdr.APIKey),
		"version", hdr.APIVersion, "panic", p, "stack", string(debug.Stack()))
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *conn) enqueue(f *inflight) {
	c.pending <- f
}

// writeLoop writes responses in request order. Responses are buffered while the next one
// is ready too, and flushed before waiting for one that is not (a long-poll fetch behind
// a quick answer must not hold that answer back).
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var (
		buf []byte
		sp  splicer
	)
	broken := false
	for f := range c.pending {
		select {
		case <-f.done:
		default:
			if !broken && bw.Buffered() > 0 {
				broken = c.writeFailed(c.flush(bw))
			}
			<-f.done
		}
		if f.failed && !broken {
			c.flush(bw) // the responses before it are good
			broken = true
			c.cancel()
			c.nc.Close()
		}
		cf, chunked := f.resp.(*chunkedFetch)
		if broken || f.resp == nil {
			if chunked {
				cf.release()
			}
			continue
		}
		if !f.fixedVersion {
			f.resp.SetVersion(f.hdr.APIVersion)
		}
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		if chunked {
			err = sp.writeChunked(bw, c.nc, f.hdr, cf)
		} else {
			buf = wire.AppendResponse(buf[:0], f.hdr, f.resp)
			_, err = bw.Write(buf)
		}
		if err == nil && len(c.pending) == 0 {
			err = bw.Flush()
		}
		broken = c.writeFailed(err)
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
	if !broken {
		c.flush(bw)
	}
}

func (c *conn) flush(bw *bufio.Writer) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return bw.Flush()
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
