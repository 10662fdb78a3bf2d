package replica

import (
	"sync"
	"time"

	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/partition"
)

// cleaner is the Manager's background goroutine that applies every hosted partition's
// cleanup.policy: retention every log.retention.check.interval.ms, compaction every
// log.cleaner.backoff.ms (Kafka's cleaner looks for dirty logs that often), none when
// log.cleaner.enable is false.
type cleaner struct {
	m        *Manager
	interval time.Duration // retention
	backoff  time.Duration // compaction; 0: compaction off
	res      partition.CleanerResources
	kick     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func (m *Manager) startCleaner() {
	c := &cleaner{
		m:        m,
		interval: m.broker.Millis("log.retention.check.interval.ms"),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	if m.broker.Bool("log.cleaner.enable") {
		c.backoff = max(m.broker.Millis("log.cleaner.backoff.ms"), time.Millisecond)
	}
	c.res = partition.CleanerResources{
		DedupeBufferBytes:  m.broker.Int64("log.cleaner.dedupe.buffer.size"),
		Throttle:           log.NewThrottle(m.broker.Float("log.cleaner.io.max.bytes.per.second")),
		Stopped:            c.stopped,
		ProducerExpiration: m.broker.Millis("producer.id.expiration.ms"),
	}
	if c.interval <= 0 {
		c.interval = 5 * time.Minute
	}
	m.cleaner = c
	c.wg.Add(1)
	go c.run()
}

func (c *cleaner) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// close stops the goroutine (aborting a compaction in progress) and waits for it.
// Idempotent.
func (c *cleaner) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (c *cleaner) run() {
	defer c.wg.Done()
	retention := time.NewTicker(c.interval)
	defer retention.Stop()
	var compaction <-chan time.Time // nil: never
	if c.backoff > 0 {
		t := time.NewTicker(c.backoff)
		defer t.Stop()
		compaction = t.C
	}
	for {
		r := c.res
		select {
		case <-c.stop:
			return
		case <-retention.C:
			r.SkipCompaction = true
		case <-compaction:
			r.SkipRetention = true
		case <-c.kick:
			r.SkipCompaction = c.backoff == 0
		}
		c.pass(r)
	}
}

// pass cleans every hosted partition once, as r says.
func (c *cleaner) pass(r partition.CleanerResources) {
	for _, p := range c.m.Hosted() {
		if c.stopped() {
			return
		}
		res, err := p.Cleanup(r)
		if err != nil {
			c.m.log.Warn("cleaner: partition cleanup failed", "topic", p.Topic(), "partition", p.Index(), "err", err)
			continue
		}
		if cr := res.Compaction; cr.Segments > 0 {
			c.m.log.Info("cleaner: compacted", "topic", p.Topic(), "partition", p.Index(),
				"segments", cr.Segments, "segments_after", cr.SegmentsAfter, "repaired", cr.Repaired,
				"bytes_before", cr.BytesBefore, "bytes_after", cr.BytesAfter,
				"records_removed", cr.RecordsRemoved, "cleaned_to", cr.CleanedTo)
		}
	}
}

// RunCleaner asks the background cleaner to make a pass now (tools, tests); it does not
// wait for it.
func (m *Manager) RunCleaner() {
	if m.cleaner == nil {
		return
	}
	select {
	case m.cleaner.kick <- struct{}{}:
	default:
	}
}
