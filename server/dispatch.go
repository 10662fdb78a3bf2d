package server

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// The request pipeline. Every request passes through dispatch, the one place that, in
// order:
//
//  1. parses the header and finds the API (an unknown key or version, or one below
//     strata.protocol.min.version's floor, closes the connection, but for the KIP-511
//     ApiVersions fallback);
//  2. gates what may run before authentication: on a SASL listener, only ApiVersions,
//     SaslHandshake and SaslAuthenticate until the connection has logged in; anything
//     else closes the connection, as Kafka does;
//  3. decodes the body and counts the request and its bytes in the metrics registry;
//  4. runs the handler with a request that carries the principal, the listener, the
//     start time and the frame size, and through which the handler asks the Authorizer
//     about each resource (r.authorized); a coordinator request (orderedAPI) first waits
//     until the connection's previous coordinator request has its answer;
//  5. queues the reply for the connection writer.
//
// The writer completes the pipeline for each response, in request order: throttle (the
// quota seam: the throttle time set in the response and the connection muted, KIP-219),
// then the write, then record (latency, bytes out, the error codes the response carries).

// dispatch decodes one frame, runs its handler and queues the reply. It reports false when
// the connection must close.
func (c *conn) dispatch(frame []byte, wg *sync.WaitGroup) (ok bool) {
	start := time.Now()
	if c.auth.sasl.raw && !c.auth.authenticated {
		return c.rawToken(frame, wg, start)
	}
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
	if !c.auth.authenticated && !preAuthAPI(hdr.APIKey) {
		c.log.Info("closing connection: request before authentication", "api", kmsg.NameForKey(hdr.APIKey), "listener", c.listener.Name)
		return false
	}
	if !c.auth.expires.IsZero() && start.After(c.auth.expires) && !preAuthAPI(hdr.APIKey) {
		c.log.Info("closing connection: SASL session expired (connections.max.reauth.ms)", "api", kmsg.NameForKey(hdr.APIKey), "principal", c.auth.principal.String())
		return false
	}
	st := c.s.metrics.api(hdr.APIKey)
	size := len(frame) + 4 // and the size prefix
	if hdr.APIVersion < c.s.minVersion(a) || hdr.APIVersion > a.max {
		if hdr.APIKey == 18 { // ApiVersions: KIP-511 fallback, v0 body, header v0
			st.requests.Add(1)
			st.bytesIn.Add(uint64(size))
			r := &request{ctx: c.ctx, hdr: hdr, conn: c, principal: c.auth.principal, start: start, size: size}
			c.enqueue(&inflight{r: r, resp: c.s.apiVersionsFallback(), done: closedChan, fixedVersion: true})
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
	st.requests.Add(1)
	st.bytesIn.Add(uint64(size))
	r := &request{ctx: c.ctx, hdr: hdr, body: body, conn: c, principal: c.auth.principal, start: start, size: size}
	// A handler that panics is a bug, but it must not take the broker down with every
	// other client: like net/http, log it with the stack and close this connection.
	defer func() {
		if p := recover(); p != nil {
			c.logPanic(hdr, p)
			ok = false
		}
	}()
	if orderedAPI(hdr.APIKey) && !c.awaitOrdered() {
		return false
	}
	rep := a.handle(c.s, r)
	r.handled = time.Since(start)
	defer func() {
		if c.auth.closing {
			ok = false // the reply is queued: written, then the connection closes
		}
	}()
	switch {
	case rep.none(): // acks=0: no response, but a quota still mutes the connection
		c.throttle(&inflight{r: r})
		c.record(r, nil, 0)
	case rep.now != nil:
		c.enqueue(&inflight{r: r, resp: rep.now, done: closedChan})
	case rep.async != nil:
		f := &inflight{r: r, done: make(chan struct{})}
		c.orderAfter(hdr.APIKey, f.done)
		rep.async(func(resp kmsg.Response) {
			f.resp = resp
			close(f.done)
		})
		c.enqueue(f)
	default:
		f := &inflight{r: r, done: make(chan struct{})}
		c.orderAfter(hdr.APIKey, f.done)
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

// orderedAPI reports whether requests of API key are coordinator requests, which Kafka
// processes in request order on a connection (it reads a connection's next request only
// once the previous one is answered): offsets, classic and KIP-848 group membership,
// share group heartbeats and offsets, transactions. Strata runs the later part of most
// handlers concurrently; these must not overtake one another. An OffsetCommit followed
// on the same connection by the ConsumerGroupHeartbeat that acknowledges a revocation
// (franz-go sends both on one connection), or by a LeaveGroup, must commit first, or the
// commit is refused (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) and what the member
// processed is delivered again to the partition's next owner.
func orderedAPI(key int16) bool {
	switch key {
	case 8, 9, 11, 12, 13, 14, // OffsetCommit, OffsetFetch, JoinGroup, Heartbeat, LeaveGroup, SyncGroup
		22, 24, 25, 26, 28, // InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit
		42, 47, // DeleteGroups, OffsetDelete
		68, 76, // ConsumerGroupHeartbeat, ShareGroupHeartbeat
		90, 91, 92: // Describe/Alter/DeleteShareGroupOffsets
		return true
	}
	return false
}

// awaitOrdered waits until the connection's last coordinator request has its answer
// (holding the reader, as Kafka holds a connection until it has answered); false if the
// connection ends meanwhile. Only the reader goroutine calls it.
func (c *conn) awaitOrdered() bool {
	if c.ordered == nil {
		return true
	}
	select {
	case <-c.ordered:
		c.ordered = nil
		return true
	case <-c.ctx.Done():
		return false
	}
}

// orderAfter records done, closed when the reply of a request of API key is ready, as
// what the next coordinator request waits for (a reply ready now needs no wait).
func (c *conn) orderAfter(key int16, done chan struct{}) {
	if orderedAPI(key) {
		c.ordered = done
	}
}

func (c *conn) logPanic(hdr wire.RequestHeader, p any) {
	c.s.log.Error("handler panic; closing connection", "api", kmsg.NameForKey(hdr.APIKey),
		"version", hdr.APIVersion, "panic", p, "stack", string(debug.Stack()))
}

// throttle is the quota seam, run by the writer just before f's response is written (by
// dispatch for a request answered with nothing, acks=0):
// when Server.quota asks for a delay, the response carries it as its throttle time
// (the larger of the two) and the connection reads no further request until it has
// passed (KIP-219: respond at once, then mute). Without quotas it does nothing.
func (c *conn) throttle(f *inflight) {
	if c.s.quota == nil {
		return
	}
	d := c.s.quota(f.r, f.resp)
	if d <= 0 {
		return
	}
	if tr, ok := f.resp.(kmsg.ThrottleResponse); ok {
		if ms, _ := tr.Throttle(); int64(ms) < d.Milliseconds() {
			f.resp.(kmsg.SetThrottleResponse).SetThrottle(int32(min(d.Milliseconds(), 1<<31-1)))
		}
	}
	c.mutedUntil.Store(time.Now().Add(d).UnixNano())
}

// record adds a finished request to the metrics: its latency, the bytes of its response
// (n, 0 when there is none) and the error codes resp carries.
func (c *conn) record(r *request, resp kmsg.Response, n int) {
	st := c.s.metrics.api(r.hdr.APIKey)
	st.latency.observe(time.Since(r.start))
	if resp == nil {
		return
	}
	st.bytesOut.Add(uint64(n))
	if rw, ok := resp.(responseWriter); ok {
		resp = rw.response()
	}
	t := errTally{a: st}
	countErrors(resp, &t)
	t.flush()
}
