package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// E2E measures end-to-end latency: producers send at c.Rate records/s (default 1000)
// with the send time in the first 8 bytes of each value, and a consumer reading the topic
// directly records receive time minus send time. Both run in this process, on one clock.
// Records sent during c.Warmup (default 1s) are not counted, so connection setup does not
// land in the tail.
func E2E(ctx context.Context, c Config) (*Result, error) {
	c.EnsureDefaults()
	if c.Rate == 0 {
		c.Rate = 1000
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.RecordSize < 8 {
		return nil, errors.New("bench: e2e needs --record-size of at least 8 (the send time)")
	}
	if err := ensureTopic(ctx, &c); err != nil {
		return nil, err
	}
	defer cleanup(&c, "")

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumeTopics(c.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, fmt.Errorf("bench: consumer: %w", err)
	}
	defer cl.Close()
	// Let the consumer load metadata and park its first fetch before the clock starts.
	if err := cl.Ping(ctx); err != nil {
		return nil, fmt.Errorf("bench: consumer: %w", err)
	}

	var (
		e2e       Histogram
		recv      atomic.Int64
		recvBytes atomic.Int64
		cerr      atomic.Pointer[error]
	)
	warmEnd := time.Now().Add(c.Warmup).UnixNano()
	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					err = fmt.Errorf("bench: fetch %s/%d: %w", t, p, err)
					cerr.CompareAndSwap(nil, &err)
				}
			})
			now := time.Now().UnixNano()
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Value) >= 8 {
					sent := int64(binary.BigEndian.Uint64(r.Value))
					if sent >= warmEnd {
						e2e.Record(time.Duration(now - sent))
					}
				}
				recv.Add(1)
				recvBytes.Add(int64(len(r.Value)))
			})
		}
	}()

	meter, err := startMeter(c.BrokerPID)
	if err != nil {
		stopConsumer()
		<-consumed
		return nil, err
	}
	st, elapsed, perr := producePhase(ctx, &c, "e2e", true)
	// Wait (up to 10 s) for the consumer to see every acknowledged record.
	if st != nil {
		deadline := time.Now().Add(10 * time.Second)
		for recv.Load() < st.acked.Load() && time.Now().Before(deadline) && cerr.Load() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	stopConsumer()
	<-consumed
	var acked int64
	if st != nil {
		acked = st.ackedBytes.Load()
	}
	bs, merr := meter.finish(acked)
	if perr != nil {
		return nil, perr
	}
	if ep := cerr.Load(); ep != nil {
		return nil, *ep
	}
	if merr != nil {
		return nil, merr
	}
	r := &Result{}
	r.fill(&c, "e2e")
	r.setThroughput(st.acked.Load(), st.ackedBytes.Load(), elapsed)
	r.Errors = st.errs.Load()
	r.Missing = max(st.acked.Load()-recv.Load(), 0)
	r.AckLatency = st.acks.Summary()
	r.E2ELatency = e2e.Summary()
	r.BrokerStats = bs
	return r, nil
}
