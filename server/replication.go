package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/replica"
	"github.com/stratalog/strata/wire"
)

// fetchOptions are the follower fetchers' settings: replica.fetch.*,
// replica.lag.time.max.ms and strata.replica.page.cache.keep, from the effective broker settings. As Kafka requires,
// replica.fetch.wait.max.ms may not exceed replica.lag.time.max.ms: a caught-up follower
// must fetch often enough to stay in the ISR.
func fetchOptions(broker config.Resolved) (replica.FetchOptions, error) {
	lag := broker.Millis("replica.lag.time.max.ms")
	o := replica.FetchOptions{
		MaxWait:           broker.Millis("replica.fetch.wait.max.ms"),
		MinBytes:          int32(broker.Int64("replica.fetch.min.bytes")),
		PartitionMaxBytes: int32(broker.Int64("replica.fetch.max.bytes")),
		ResponseMaxBytes:  int32(broker.Int64("replica.fetch.response.max.bytes")),
		Backoff:           broker.Millis("replica.fetch.backoff.ms"),
		LagTimeMax:        lag,
		KeepPageCache:     broker.Bool("strata.replica.page.cache.keep"),
	}
	if o.MaxWait > lag {
		return o, fmt.Errorf("server: replica.fetch.wait.max.ms (%d) must not exceed replica.lag.time.max.ms (%d)", o.MaxWait.Milliseconds(), lag.Milliseconds())
	}
	return o, nil
}

// replicaTransport carries the follower fetchers' requests (replica.Transport) to the
// other brokers of a cluster: one connection per broker, to its endpoint of the
// inter-broker listener in the metadata image, secured and logged in as that listener
// asks (interbroker.go), one request at a time (the replica manager runs one fetcher per
// source broker, which waits for each answer), dialled again after any error.
//
// Concurrency: safe for concurrent use; Close closes every connection and makes later
// requests fail.
type replicaTransport struct {
	image    func() *metadata.Image
	ib       *interBroker
	clientID string
	dialer   net.Dialer

	mu struct {
		sync.Mutex
		conns  map[int32]*brokerConn
		closed bool
	}
}

// brokerConn is the connection to one broker; mu serialises its requests.
type brokerConn struct {
	mu   sync.Mutex
	nc   net.Conn // nil: dial at the next request
	corr int32
}

// maxReplicaResponse bounds a response frame a follower reads (a fetch answer is bounded
// by its MaxBytes, plus one batch of up to max.message.bytes).
const maxReplicaResponse = 1 << 30

var errTransportClosed = errors.New("server: replication transport closed")

func newReplicaTransport(node int32, image func() *metadata.Image, ib *interBroker) *replicaTransport {
	t := &replicaTransport{image: image, ib: ib, clientID: "strata-replica-" + strconv.Itoa(int(node))}
	t.mu.conns = map[int32]*brokerConn{}
	return t
}

// Request implements replica.Transport.
func (t *replicaTransport) Request(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error) {
	resp, _, err := t.RequestBuffer(ctx, broker, req, nil)
	return resp, err
}

// RequestBuffer implements replica.BufferTransport: the answer is read into buf when it
// is large enough (else into a new buffer), which it returns.
func (t *replicaTransport) RequestBuffer(ctx context.Context, broker int32, req kmsg.Request, buf []byte) (kmsg.Response, []byte, error) {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return nil, buf, errTransportClosed
	}
	bc := t.mu.conns[broker]
	if bc == nil {
		bc = &brokerConn{}
		t.mu.conns[broker] = bc
	}
	t.mu.Unlock()

	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.nc == nil {
		if err := t.connect(ctx, broker, bc); err != nil {
			return nil, buf, err
		}
	}
	resp, frame, err := bc.roundTrip(ctx, t.clientID, req, buf)
	if err != nil {
		t.mu.Lock()
		bc.nc.Close()
		bc.nc = nil
		t.mu.Unlock()
		return nil, buf, fmt.Errorf("server: replication: broker %d: %w", broker, err)
	}
	return resp, frame, nil
}

// connect dials broker's endpoint of the inter-broker listener and logs in; bc.mu is held.
func (t *replicaTransport) connect(ctx context.Context, broker int32, bc *brokerConn) error {
	addr, err := t.ib.addr(t.image(), broker)
	if err != nil {
		return fmt.Errorf("server: replication: %w", err)
	}
	nc, err := t.ib.dial(ctx, &t.dialer, addr)
	if err != nil {
		return fmt.Errorf("server: replication: dial broker %d at %s: %w", broker, addr, err)
	}
	t.mu.Lock()
	closed := t.mu.closed
	if !closed {
		bc.nc = nc
	}
	t.mu.Unlock()
	if closed {
		nc.Close()
		return errTransportClosed
	}
	err = t.ib.authenticate(ctx, addr, func(req kmsg.Request) (kmsg.Response, error) {
		resp, _, err := bc.roundTrip(ctx, t.clientID, req, nil)
		return resp, err
	})
	if err != nil {
		t.mu.Lock()
		bc.nc.Close()
		bc.nc = nil
		t.mu.Unlock()
		return fmt.Errorf("server: replication: broker %d at %s: %w", broker, addr, err)
	}
	return nil
}

// roundTrip writes req and reads its answer, into buf if it is large enough, and returns
// it with the frame it was read into (the response's byte fields alias it); ctx
// interrupts both. bc.mu is held.
func (bc *brokerConn) roundTrip(ctx context.Context, clientID string, req kmsg.Request, buf []byte) (kmsg.Response, []byte, error) {
	nc := bc.nc
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	bc.corr++
	_, err := nc.Write(wire.AppendRequest(nil, bc.corr, clientID, req))
	var frame []byte
	if err == nil {
		frame, err = wire.ReadFrame(nc, buf, maxReplicaResponse)
	}
	if !stop() { // ctx is done: the deadline is set, or being set
		return nil, nil, errors.Join(err, ctx.Err())
	}
	if err != nil {
		return nil, nil, err
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != bc.corr {
		return nil, nil, fmt.Errorf("response to correlation id %d, want %d", corr, bc.corr)
	}
	body := frame[4:]
	if req.IsFlexible() {
		if body, err = skipTaggedFields(body); err != nil {
			return nil, nil, err
		}
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, nil, fmt.Errorf("decode %T: %w", resp, err)
	}
	return resp, frame, nil
}

// skipTaggedFields skips a response header's tagged fields (header v1).
func skipTaggedFields(b []byte) ([]byte, error) {
	n, sz := binary.Uvarint(b)
	if sz <= 0 {
		return nil, wire.ErrMalformed
	}
	b = b[sz:]
	for range n {
		_, sz := binary.Uvarint(b) // tag
		if sz <= 0 {
			return nil, wire.ErrMalformed
		}
		b = b[sz:]
		l, sz := binary.Uvarint(b)
		if sz <= 0 || l > uint64(len(b)-sz) {
			return nil, wire.ErrMalformed
		}
		b = b[sz+int(l):]
	}
	return b, nil
}

// Close closes every connection; later requests fail.
func (t *replicaTransport) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.closed = true
	for _, bc := range t.mu.conns {
		if bc.nc != nil { // read under t.mu: set and cleared under it too
			bc.nc.Close()
		}
	}
}
