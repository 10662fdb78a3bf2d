package partition

import (
	"errors"
	"time"

	"github.com/stratalog/strata/log"
)

// CleanupOptions is a partition's cleanup.policy and its settings, applied by the
// replica manager's cleaner.
type CleanupOptions struct {
	Delete            bool          // cleanup.policy includes delete: retention.ms / retention.bytes
	Compact           bool          // cleanup.policy includes compact
	MinCleanableRatio float64       // min.cleanable.dirty.ratio
	MinCompactionLag  time.Duration // min.compaction.lag.ms
	MaxCompactionLag  time.Duration // max.compaction.lag.ms
	DeleteRetention   time.Duration // delete.retention.ms
}

// CleanupResult is what one Cleanup did.
type CleanupResult struct {
	SegmentsDeleted  int
	ProducersExpired int // forgotten (producer.id.expiration.ms)
	Compaction       log.CompactResult
}

// CleanerResources are shared by the cleanups of one broker.
type CleanerResources struct {
	DedupeBufferBytes int64         // log.cleaner.dedupe.buffer.size
	Throttle          *log.Throttle // log.cleaner.io.max.bytes.per.second
	Stopped           func() bool   // the cleaner is stopping
	// ProducerExpiration is producer.id.expiration.ms: a producer whose last batch or
	// marker is older than this, without an open transaction, is forgotten by the
	// retention pass, and compaction keeps a producer's last batch (emptied of its
	// records) only while it is younger. 0: never expires.
	ProducerExpiration time.Duration
	// SkipRetention and SkipCompaction leave out one half of the policy in this pass
	// (they run on their own schedules: log.retention.check.interval.ms and
	// log.cleaner.backoff.ms).
	SkipRetention, SkipCompaction bool
}

// Cleanup applies the partition's cleanup policy once: producer expiration and retention
// (delete policy), then compaction (compact policy) when the dirty ratio or the max
// compaction lag calls for it.
// It never blocks appends or fetches for long (see log.EnforceRetention, log.Compact);
// Close waits for a running Cleanup, which it asks to stop.
func (p *Partition) Cleanup(r CleanerResources) (CleanupResult, error) {
	var res CleanupResult
	if p.lg == nil {
		return res, nil
	}
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if p.quit.Load() {
		return res, nil
	}
	cl := p.cleanup.Load()
	var errs []error
	if !r.SkipRetention && r.ProducerExpiration > 0 {
		res.ProducersExpired = p.expireProducers(r.ProducerExpiration)
	}
	if cl.Delete && !r.SkipRetention {
		n, err := p.lg.EnforceRetentionBelow(p.LastStableOffset())
		res.SegmentsDeleted = n
		errs = append(errs, err)
		if n > 0 {
			p.amu.Lock()
			p.startMovedLocked()
			p.amu.Unlock()
		}
	}
	if cl.Compact && !r.SkipCompaction {
		cr, err := p.lg.Compact(log.CompactOptions{
			MinCleanableRatio: cl.MinCleanableRatio,
			MinLag:            cl.MinCompactionLag,
			MaxLag:            cl.MaxCompactionLag,
			DeleteRetention:   cl.DeleteRetention,
			DedupeBufferBytes: r.DedupeBufferBytes,
			Throttle:          r.Throttle,
			Stopped: func() bool {
				return p.quit.Load() || (r.Stopped != nil && r.Stopped())
			},
			ProducerLast: func(pid int64) (int64, bool) { return p.producerLast(pid, r.ProducerExpiration) },
			StableOffset: max(p.LastStableOffset(), 1), // 0 would mean no bound
		})
		res.Compaction = cr
		if errors.Is(err, log.ErrCompactAborted) {
			err = nil
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return res, p.wrap(err)
	}
	return res, nil
}
