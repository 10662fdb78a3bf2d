package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicRecords returns the number of records between the start and end offsets of every
// partition of c.Topic.
func topicRecords(ctx context.Context, c *Config) (int64, error) {
	adm, cl, err := admin(c)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	starts, err := adm.ListStartOffsets(ctx, c.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("bench: list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, c.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("bench: list end offsets: %w", err)
	}
	var n int64
	ends.Each(func(e kadm.ListedOffset) {
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			n += e.Offset - s.Offset
		}
	})
	return n, nil
}

// Consume fills the topic (unless c.NoFill) with the produce workload of c, then reads
// every record from the start, in a consumer group (c.Group, or a fresh one) or, with
// c.NoGroup, directly from the partitions. Throughput runs from the first record received
// to the last (FirstRecordMs shows the wait before it, the group join included), and so
// does the broker CPU: one-time work such as joining the group and creating
// __consumer_offsets on a fresh broker is not a cost per byte read.
func Consume(ctx context.Context, c Config) (*Result, error) {
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ensureTopic(ctx, &c); err != nil {
		return nil, err
	}
	group := ""
	if !c.NoGroup {
		group = c.Group
		if group == "" {
			group = "strata-bench-" + randSuffix()
		}
	}
	defer cleanup(&c, group)
	if !c.NoFill {
		if _, _, err := producePhase(ctx, &c, "fill", false); err != nil {
			return nil, err
		}
	}
	target, err := topicRecords(ctx, &c)
	if err != nil {
		return nil, err
	}
	if target == 0 {
		return nil, fmt.Errorf("bench: topic %s is empty; nothing to consume", c.Topic)
	}

	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumeTopics(c.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("bench: consumer: %w", err)
	}
	defer cl.Close()

	var meter *procMeter
	var metered int64 // bytes received before the meter started (the first poll's)
	var recs, bytes atomic.Int64
	start := time.Now()
	prog := startProgress(c.Progress, "consume", target, 0, &recs, &bytes)
	var first, last time.Time
	var perr error
	for recs.Load() < target {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			perr = ctx.Err()
			break
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("bench: fetch %s/%d: %w", t, p, err)
		})
		if ferr != nil {
			perr = ferr
			break
		}
		var n, b int64
		fs.EachRecord(func(r *kgo.Record) {
			n++
			b += int64(len(r.Value) + len(r.Key))
		})
		if n > 0 {
			now := time.Now()
			if first.IsZero() {
				first, metered = now, b
				if meter, perr = startMeter(c.BrokerPID); perr != nil {
					break
				}
			}
			last = now
			recs.Add(n)
			bytes.Add(b)
		}
	}
	prog.end()
	bs, merr := meter.finish(bytes.Load() - metered)
	if group != "" && perr == nil {
		// One commit at the end, so the group's offsets are exercised without
		// putting commits on the measured path.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := cl.CommitUncommittedOffsets(cctx); err != nil {
			perr = fmt.Errorf("bench: commit: %w", err)
		}
		cancel()
	}
	if perr != nil {
		return nil, perr
	}
	if merr != nil {
		return nil, merr
	}
	r := &Result{Group: group}
	r.fill(&c, "consume")
	span := last.Sub(first)
	if span < 10*time.Millisecond { // everything came in one or two polls: count the wait
		span = last.Sub(start)
	}
	r.setThroughput(recs.Load(), bytes.Load(), span)
	r.FirstRecordMs = float64(first.Sub(start)) / 1e6
	r.BrokerStats = bs
	return r, nil
}
