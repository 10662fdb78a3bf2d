package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// maxInFlight bounds the requests one connection may have read but not yet answered;
// the reader stops reading while the queue is full (back pressure).
const maxInFlight = 64

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

	pending  chan *inflight // in request order; closed by the reader when it stops
	draining chan struct{}  // closed by drain: stop reading new requests
	drainOne sync.Once
}

// inflight is a request whose response has not been written yet.
type inflight struct {
	hdr  wire.RequestHeader
	resp kmsg.Response // valid once done is closed; nil means no response
	done chan struct{}
	// fixedVersion marks a response whose version differs from the request's (the
	// KIP-511 ApiVersions fallback).
	fixedVersion bool
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		s: s, nc: nc, ctx: ctx, cancel: cancel,
		log:      s.log.With("remote", nc.RemoteAddr().String()),
		pending:  make(chan *inflight, maxInFlight),
		draining: make(chan struct{}),
	}
}

// drain makes the connection stop reading new requests; the ones already read are
// answered, then the connection closes.
func (c *conn) drain() {
	c.drainOne.Do(func() {
		close(c.draining)
		// Unblock a reader waiting for the next request.
		c.nc.SetReadDeadline(time.Now())
	})
}

// serve runs the connection until the peer goes away, a protocol error, or shutdown.
func (c *conn) serve() {
	var wg sync.WaitGroup // handler goroutines of later replies
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop(&wg)
	close(c.pending)
	<-writerDone
	c.cancel()
	wg.Wait()
	c.nc.Close()
}

func (c *conn) readLoop(wg *sync.WaitGroup) {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var buf []byte
	idle := c.s.opts.IdleTimeout
	for {
		select {
		case <-c.draining:
			return
		case <-c.ctx.Done():
			return
		default:
		}
		if idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		frame, err := wire.ReadFrame(br, buf, c.s.opts.MaxRequestBytes)
		if err != nil {
			c.logReadError(err)
			return
		}
		// Keep small buffers for reuse; handlers must not retain frame bytes past
		// returning, except where they copy (see handler docs).
		if cap(frame) <= 1<<20 {
			buf = frame[:0]
		} else {
			buf = nil
		}
		if !c.dispatch(frame, wg) {
			return
		}
	}
}

func (c *conn) logReadError(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		select {
		case <-c.draining:
		default:
			c.log.Debug("closing idle connection", "idle", c.s.opts.IdleTimeout)
		}
	default:
		c.log.Info("closing connection", "err", err)
	}
}

// dispatch decodes one frame, runs its handler and queues the reply. It reports false when
// the connection must close.
func (c *conn) dispatch(frame []byte, wg *sync.WaitGroup) bool {
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
	rep := a.handle(c.s, r)
	switch {
	case rep.none():
		return true
	case rep.now != nil:
		c.enqueue(&inflight{hdr: hdr, resp: rep.now, done: closedChan})
	default:
		f := &inflight{hdr: hdr, done: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(f.done)
			f.resp = rep.later()
		}()
		c.enqueue(f)
	}
	return true
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *conn) enqueue(f *inflight) {
	c.pending <- f
}

// writeLoop writes responses in request order.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	broken := false
	for f := range c.pending {
		<-f.done
		if broken || f.resp == nil {
			continue
		}
		if !f.fixedVersion {
			f.resp.SetVersion(f.hdr.APIVersion)
		}
		buf = wire.AppendResponse(buf[:0], f.hdr, f.resp)
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := bw.Write(buf)
		if err == nil && len(c.pending) == 0 {
			err = bw.Flush() // coalesce writes while more responses are queued
		}
		if err != nil {
			c.log.Info("closing connection: write failed", "err", err)
			broken = true
			c.cancel()
			c.nc.Close() // unblocks the reader
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
	if !broken {
		bw.Flush()
	}
}
