package partition

import (
	"sync"
	"time"

	"github.com/stratalog/strata/log"
)

// cleaner is the Manager's background goroutine that applies every partition's
// cleanup.policy (retention, compaction) every log.retention.check.interval.ms.
type cleaner struct {
	m        *Manager
	interval time.Duration
	res      CleanerResources
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
	c.res = CleanerResources{
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
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
		}
		c.pass()
	}
}

// pass cleans every open partition once.
func (c *cleaner) pass() {
	for _, t := range c.m.Topics() {
		for _, p := range t.Partitions() {
			if c.stopped() {
				return
			}
			res, err := p.Cleanup(c.res)
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
