package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers of the request-reply pattern. Any client in any language can play
// either side by setting and copying them.
const (
	HeaderCorrelationID = "strata.correlation-id" // set on a request, copied to its reply
	HeaderReplyTo       = "strata.reply-to"       // the topic the reply goes to
	HeaderReplyError    = "strata.reply-error"    // on a reply: the responder failed, with this text
)

// A Requester sends requests and waits for their replies, RPC-style, over two
// topics: requests go to whatever topic the record names; replies come back on
// the requester's reply topic, matched by a correlation id. Many requesters may
// share a reply topic (each ignores replies it is not waiting for), but one reply
// topic per service instance keeps that traffic small.
//
// A Requester is safe for concurrent use; Close releases it.
type Requester struct {
	cfg   *config
	prod  *Producer
	cl    *kgo.Client
	reply string

	mu struct {
		sync.Mutex
		waiting map[string]chan *Record
	}
	wg   sync.WaitGroup
	done chan struct{} // closed by Close
}

// NewRequester returns a requester whose replies arrive on replyTopic, creating
// that topic (one partition) if it does not exist. It starts reading replyTopic at
// its current end, so it sees every reply to requests it sends afterwards.
//
// Options: those of NewProducer, plus RequestTimeout.
func NewRequester(ctx context.Context, replyTopic string, opts ...Option) (*Requester, error) {
	cfg := newConfig(opts)
	adm, err := NewAdmin(opts...)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	if _, err := adm.CreateTopic(ctx, replyTopic, TopicSpec{Partitions: 1}); err != nil && !errors.Is(err, ErrExists) {
		return nil, err
	}
	at, _, err := adm.resolve(ctx, []string{replyTopic}, nil, Latest)
	for i := 0; errors.Is(err, ErrNotFound) && i < 50; i++ { // a new topic may take a moment to appear
		time.Sleep(20 * time.Millisecond)
		at, _, err = adm.resolve(ctx, []string{replyTopic}, nil, Latest)
	}
	if err != nil {
		return nil, err
	}
	parts := map[string]map[int32]kgo.Offset{replyTopic: {}}
	for p, o := range at[replyTopic] {
		parts[replyTopic][p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(append(cfg.kgoOpts(), kgo.ConsumePartitions(parts)), cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("client: new requester: %w", err)
	}
	prod, err := NewProducer(opts...)
	if err != nil {
		cl.Close()
		return nil, err
	}
	r := &Requester{cfg: cfg, prod: prod, cl: cl, reply: replyTopic, done: make(chan struct{})}
	r.mu.waiting = make(map[string]chan *Record)
	r.wg.Add(1)
	go r.readReplies()
	return r, nil
}

func (r *Requester) readReplies() {
	defer r.wg.Done()
	for {
		fs := r.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		fs.EachRecord(func(kr *kgo.Record) {
			var id string
			for _, h := range kr.Headers {
				if h.Key == HeaderCorrelationID {
					id = string(h.Value)
				}
			}
			r.mu.Lock()
			ch := r.mu.waiting[id]
			delete(r.mu.waiting, id)
			r.mu.Unlock()
			if ch != nil {
				ch <- fromKgo(kr) // buffered: never blocks
			}
		})
	}
}

// ReplyTopic returns the topic replies arrive on.
func (r *Requester) ReplyTopic() string { return r.reply }

// Request sends req (to req.Topic) with a fresh correlation id and this
// requester's reply topic in its headers, and waits for the reply. It fails with
// ErrTimeout if none comes within RequestTimeout or before ctx's deadline, and
// with a *RemoteError if the responder's function failed.
func (r *Requester) Request(ctx context.Context, req *Record) (*Record, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	id := hex.EncodeToString(b[:])
	req.SetHeader(HeaderCorrelationID, []byte(id))
	req.SetHeader(HeaderReplyTo, []byte(r.reply))

	ch := make(chan *Record, 1)
	r.mu.Lock()
	if r.mu.waiting == nil {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.mu.waiting[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.mu.waiting, id)
		r.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	if err := r.prod.Send(ctx, req); err != nil {
		return nil, err
	}
	select {
	case rep := <-ch:
		if msg, ok := rep.Header(HeaderReplyError); ok {
			return rep, &RemoteError{Message: string(msg)}
		}
		return rep, nil
	case <-r.done:
		return nil, ErrClosed
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: no reply to %s on %q (correlation id %s)", ErrTimeout, req, r.reply, id)
		}
		return nil, ctx.Err()
	}
}

// Close stops reading replies and releases the requester; pending Requests fail.
// It is idempotent.
func (r *Requester) Close() {
	r.mu.Lock()
	closed := r.mu.waiting == nil
	r.mu.waiting = nil
	r.mu.Unlock()
	if closed {
		return
	}
	close(r.done)
	r.cl.Close()
	r.wg.Wait()
	r.prod.Close()
}

// A ReplyFunc computes the reply to a request. The reply's Key, Value and Headers
// are sent back; its Topic and Partition are ignored. A nil reply sends an empty
// one. An error is sent back instead, and Request returns it as a *RemoteError.
type ReplyFunc func(ctx context.Context, req *Record) (*Record, error)

// Responder turns fn into a Handler for a Consumer of request topics: for each
// request it calls fn and sends the reply, through p, to the request's reply-to
// topic with its correlation id. Records without a reply-to header are skipped.
// The handler fails only if the reply cannot be sent, so the request is not
// committed and is answered again later; requesters ignore duplicate replies.
func Responder(p *Producer, fn ReplyFunc) Handler {
	return func(ctx context.Context, req *Record) error {
		to, ok := req.Header(HeaderReplyTo)
		if !ok || len(to) == 0 {
			return nil
		}
		id, _ := req.Header(HeaderCorrelationID)
		rep, err := fn(ctx, req)
		if rep == nil {
			rep = &Record{}
		}
		out := &Record{Topic: string(to), Key: rep.Key, Value: rep.Value, Headers: append([]Header(nil), rep.Headers...)}
		out.SetHeader(HeaderCorrelationID, id)
		if err != nil {
			out.SetHeader(HeaderReplyError, []byte(err.Error()))
		}
		if err := p.Send(ctx, out); err != nil {
			return fmt.Errorf("client: reply to %s: %w", req, err)
		}
		return nil
	}
}
