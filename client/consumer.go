package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A Handler processes one record. Returning an error stops Consumer.Run; wrap a
// handler with Retry to retry and dead-letter instead, or with Filter to skip
// records.
type Handler func(ctx context.Context, r *Record) error

// A Consumer reads topics, alone or as a member of a consumer group, and hands
// each record to a Handler.
//
// With a group, the group's members share the partitions, and offsets are
// committed after the handler returns (at-least-once: a record is redelivered if
// the process dies before its commit) or, with AtMostOnce, before it is handled.
// Without a group, the consumer reads every partition (or those chosen with
// Partitions) from StartAt and commits nothing.
//
// Run is meant to be called once; Close releases the consumer.
type Consumer struct {
	cfg   *config
	admin *Admin

	mu struct {
		sync.Mutex
		cl      *kgo.Client
		running bool
		closed  bool
	}
}

// NewConsumer returns a consumer of topics in group; an empty group means no group.
//
// Options: Brokers, ClientID, Logger, Timeout, StartAt, AtMostOnce, StopAtEnd,
// MaxRecords, Partitions (without a group), SessionTimeout, AutoCreateTopics,
// KgoOptions.
func NewConsumer(group string, topics []string, opts ...Option) (*Consumer, error) {
	if len(topics) == 0 {
		return nil, kindf(ErrInvalid, "new consumer: no topics")
	}
	cfg := newConfig(opts)
	cfg.group, cfg.topics = group, append([]string(nil), topics...)
	if group != "" && len(cfg.partitions) > 0 {
		return nil, kindf(ErrInvalid, "new consumer: Partitions cannot be used with a group")
	}
	adm, err := NewAdmin(opts...)
	if err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, admin: adm}, nil
}

// MaxRecords makes Consumer.Run return nil after handling n records (n > 0).
func MaxRecords(n int) Option { return optFunc(func(c *config) { c.maxRecords = n }) }

// Ping checks that a broker answers, failing with an *UnreachableError if none does.
func (c *Consumer) Ping(ctx context.Context) error { return c.admin.Ping(ctx) }

// Close stops the consumer. A group member leaves its group, so its partitions
// move to other members at once. Close is idempotent and makes a running Run
// return.
func (c *Consumer) Close() {
	c.mu.Lock()
	cl := c.mu.cl
	already := c.mu.closed
	c.mu.closed = true
	c.mu.Unlock()
	if already {
		return
	}
	if cl != nil {
		cl.Close() // leaves the group
	}
	c.admin.Close()
}

// Run consumes until ctx is done (returning ctx's error), the handler fails
// (returning its error, after committing the records handled before it), Close is
// called (returning ErrClosed), or StopAtEnd or MaxRecords says it is done
// (returning nil).
//
// Records of one partition are handled in order, one at a time, on the calling
// goroutine.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return kindf(ErrInvalid, "consume: nil handler")
	}
	cfg := c.cfg
	opts := cfg.kgoOpts()

	// remaining tracks, for StopAtEnd, the partitions not yet read to their end.
	var remaining map[string]map[int32]int64
	if cfg.group == "" {
		at, ends, err := c.admin.resolve(ctx, cfg.topics, cfg.partitions, cfg.start)
		if err != nil {
			return err
		}
		parts := make(map[string]map[int32]kgo.Offset)
		for t, ps := range at {
			parts[t] = make(map[int32]kgo.Offset)
			for p, o := range ps {
				parts[t][p] = kgo.NewOffset().At(o)
			}
		}
		opts = append(opts, kgo.ConsumePartitions(parts))
		if cfg.stopAtEnd {
			remaining = pending(at, ends)
		}
	} else {
		opts = append(opts,
			kgo.ConsumerGroup(cfg.group),
			kgo.ConsumeTopics(cfg.topics...),
			kgo.ConsumeResetOffset(cfg.start.kgoOffset()),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
		)
		if cfg.sessTimeout > 0 {
			opts = append(opts, kgo.SessionTimeout(cfg.sessTimeout))
		}
		if cfg.stopAtEnd {
			var err error
			if remaining, err = c.groupPending(ctx); err != nil {
				return err
			}
		}
	}
	if cfg.stopAtEnd && len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(opts, cfg.extra...)...)
	if err != nil {
		return fmt.Errorf("client: consume: %w", err)
	}
	c.mu.Lock()
	if c.mu.closed || c.mu.running {
		c.mu.Unlock()
		cl.Close()
		if c.mu.running {
			return kindf(ErrInvalid, "consume: Run called twice")
		}
		return ErrClosed
	}
	c.mu.cl, c.mu.running = cl, true
	c.mu.Unlock()
	defer func() {
		cl.AllowRebalance() // a blocked rebalance would make Close (leaving the group) wait forever
		cl.Close()
	}()

	handled := 0
	for {
		fs := cl.PollRecords(ctx, cfg.maxPoll)
		if fs.IsClientClosed() {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if fetchErr := cfg.fetchErr(fs); fetchErr != nil {
			cl.AllowRebalance()
			return fetchErr
		}
		recs := fs.Records()
		if cfg.maxRecords > 0 && handled+len(recs) > cfg.maxRecords {
			recs = recs[:cfg.maxRecords-handled]
		}
		if cfg.group != "" && cfg.atMostOnce && len(recs) > 0 {
			if err := cl.CommitRecords(ctx, recs...); err != nil {
				cl.AllowRebalance()
				return cfg.wrap(err, "commit", "")
			}
		}
		done := recs[:0:0]
		var herr error
		for _, kr := range recs {
			if herr = h(ctx, fromKgo(kr)); herr != nil {
				break
			}
			done = append(done, kr)
			handled++
			if remaining != nil {
				if ps := remaining[kr.Topic]; ps != nil {
					if end, ok := ps[kr.Partition]; ok && kr.Offset+1 >= end {
						delete(ps, kr.Partition)
						if len(ps) == 0 {
							delete(remaining, kr.Topic)
						}
					}
				}
			}
		}
		if cfg.group != "" && !cfg.atMostOnce && len(done) > 0 {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
			err := cl.CommitRecords(cctx, done...)
			cancel()
			if err != nil && herr == nil {
				herr = cfg.wrap(err, "commit", "")
			}
		}
		cl.AllowRebalance()
		if herr != nil {
			return herr
		}
		if cfg.maxRecords > 0 && handled >= cfg.maxRecords {
			return nil
		}
		if remaining != nil && len(remaining) == 0 {
			return nil
		}
	}
}

// fetchErr is the first error of fs other than a cancellation, wrapped.
func (c *config) fetchErr(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first == nil && !errors.Is(err, context.Canceled) {
			first = c.wrap(err, fmt.Sprintf("fetch %s[%d]", t, p), fmt.Sprintf("topic %q partition %d", t, p))
		}
	})
	return first
}

// pending returns the partitions whose position is before their end.
func pending(at, ends map[string]map[int32]int64) map[string]map[int32]int64 {
	out := make(map[string]map[int32]int64)
	for t, ps := range at {
		for p, o := range ps {
			if e := ends[t][p]; o < e {
				if out[t] == nil {
					out[t] = make(map[int32]int64)
				}
				out[t][p] = e
			}
		}
	}
	return out
}

// groupPending is pending for a group: positions are the committed offsets, or
// StartAt where nothing is committed. It assumes this is the only member.
func (c *Consumer) groupPending(ctx context.Context) (map[string]map[int32]int64, error) {
	at, ends, err := c.admin.resolve(ctx, c.cfg.topics, nil, c.cfg.start)
	if err != nil {
		return nil, err
	}
	committed, err := c.admin.adm.FetchOffsets(ctx, c.cfg.group)
	if err == nil {
		for t, ps := range at {
			for p := range ps {
				if o, ok := committed.Lookup(t, p); ok && o.Err == nil && o.At >= 0 {
					ps[p] = o.At
				}
			}
		}
	}
	return pending(at, ends), nil
}
