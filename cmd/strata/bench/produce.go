package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/client"
)

// producerOpts returns the kgo options of a producer client for c.
func producerOpts(c *Config) []kgo.Opt {
	codec, _ := client.ParseCompression(strings.ToLower(c.Compression)) // checked by Validate
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordRetries(10),
	}
	switch c.Acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	return opts
}

// produceStats are the counters of a produce phase, shared by its producers.
type produceStats struct {
	sent, acked, ackedBytes, errs atomic.Int64
	firstErr                      atomic.Pointer[error]
	acks                          Histogram
	lastAck                       atomic.Int64 // unix nanos
}

// producePhase runs c.Producers producer clients until c.Count records are acknowledged
// or c.Duration has passed, at c.Rate records/s if set. Each value is RecordSize random
// bytes; when stamp is set, its first 8 bytes carry the send time (unix nanoseconds,
// big-endian) for the end-to-end consumer, and each record gets its own buffer.
func producePhase(ctx context.Context, c *Config, phase string, stamp bool) (*produceStats, time.Duration, error) {
	st := &produceStats{}
	template := make([]byte, c.RecordSize)
	rand.Read(template) // incompressible, so that compression cannot flatter a broker

	clients := make([]*kgo.Client, c.Producers)
	for i := range clients {
		cl, err := kgo.NewClient(producerOpts(c)...)
		if err != nil {
			for _, cl := range clients[:i] {
				cl.Close()
			}
			return nil, 0, fmt.Errorf("bench: producer: %w", err)
		}
		clients[i] = cl
	}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()

	start := time.Now()
	var deadline time.Time
	if c.Count <= 0 {
		deadline = start.Add(c.Duration)
	}
	prog := startProgress(c.Progress, phase, c.Count, c.Duration*time.Duration(boolInt(c.Count <= 0)), &st.acked, &st.ackedBytes)

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, cl := range clients {
		n := int64(-1)
		if c.Count > 0 {
			n = c.Count / int64(c.Producers)
			if int64(i) < c.Count%int64(c.Producers) {
				n++
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			produceLoop(pctx, cl, c, st, template, n, deadline, c.Rate/float64(c.Producers), stamp)
			cl.Flush(ctx) //nolint:errcheck // a cancelled flush leaves errors in the promises
		}()
	}
	wg.Wait()
	prog.end()
	elapsed := time.Since(start)
	if last := st.lastAck.Load(); last > 0 {
		elapsed = time.Unix(0, last).Sub(start)
	}
	if ep := st.firstErr.Load(); ep != nil && st.acked.Load() == 0 {
		return st, elapsed, fmt.Errorf("bench: produce: %w", *ep)
	}
	return st, elapsed, ctx.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// produceLoop produces n records (n < 0: until deadline) on cl at rate records/s (0: as
// fast as the client's buffer allows).
func produceLoop(ctx context.Context, cl *kgo.Client, c *Config, st *produceStats, template []byte, n int64, deadline time.Time, rate float64, stamp bool) {
	size := int64(len(template))
	start := time.Now()
	for i := int64(0); n < 0 || i < n; i++ {
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if !deadline.IsZero() && now.After(deadline) {
			return
		}
		if rate > 0 {
			// Pace against the schedule from the start, not from the previous send, so
			// that oversleeping is caught up and the average rate holds.
			if due := start.Add(time.Duration(float64(i) / rate * float64(time.Second))); due.After(now) {
				select {
				case <-time.After(due.Sub(now)):
				case <-ctx.Done():
					return
				}
				now = time.Now()
			}
		}
		val := template
		if stamp {
			val = make([]byte, len(template))
			copy(val, template)
			binary.BigEndian.PutUint64(val, uint64(now.UnixNano()))
		}
		t0 := now
		st.sent.Add(1)
		// The ack latency runs from the Produce call, so with an unlimited rate it includes
		// the wait for room in the client's buffer, as kafka-producer-perf-test's does.
		cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				st.errs.Add(1)
				st.firstErr.CompareAndSwap(nil, &err)
				return
			}
			t1 := time.Now()
			st.acks.Record(t1.Sub(t0))
			st.acked.Add(1)
			st.ackedBytes.Add(size)
			st.lastAck.Store(t1.UnixNano())
		})
	}
}

// Produce creates the topic if needed, produces the workload and reports throughput,
// acknowledgement latency and, with c.BrokerPID, broker CPU per GiB and peak RSS.
func Produce(ctx context.Context, c Config) (*Result, error) {
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ensureTopic(ctx, &c); err != nil {
		return nil, err
	}
	defer cleanup(&c, "")
	meter, err := startMeter(c.BrokerPID)
	if err != nil {
		return nil, err
	}
	st, elapsed, err := producePhase(ctx, &c, "produce", false)
	if st == nil {
		meter.finish(0) //nolint:errcheck // the produce error is the one to report
		return nil, err
	}
	bs, merr := meter.finish(st.ackedBytes.Load())
	if err != nil {
		return nil, err
	}
	if merr != nil {
		return nil, merr
	}
	r := &Result{}
	r.fill(&c, "produce")
	r.setThroughput(st.acked.Load(), st.ackedBytes.Load(), elapsed)
	r.Errors = st.errs.Load()
	r.AckLatency = st.acks.Summary()
	r.BrokerStats = bs
	return r, nil
}
