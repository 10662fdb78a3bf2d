package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stratalog/strata/coord"
)

// Topic is the internal topic holding the transactions' state.
const Topic = "__transaction_state"

// Defaults, with Kafka's names.
const (
	DefaultNumPartitions      = 50                 // transaction.state.log.num.partitions
	DefaultMaxTimeout         = 15 * time.Minute   // transaction.max.timeout.ms (900000)
	DefaultAbortInterval      = 10 * time.Second   // transaction.abort.timed.out.transaction.cleanup.interval.ms
	DefaultIDExpiration       = 7 * 24 * time.Hour // transactional.id.expiration.ms (604800000)
	DefaultExpirationInterval = time.Hour          // transaction.remove.expired.transaction.cleanup.interval.ms
	DefaultRetryBackoff       = 100 * time.Millisecond
	DefaultEndWait            = time.Second
)

// Marker is a transaction marker the coordinator has written to a partition of a
// transaction: it commits or aborts producer ProducerID's transaction there.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32 // the leader epoch of the coordinator's __transaction_state partition
}

// MarkerWriter writes markers to the partitions of transactions (Kafka's WriteTxnMarkers).
// The server implements it with the replica manager for the partitions it leads: the
// partition's AppendMarker, then the wait until the marker is committed (durable, covered
// by the high watermark); on a cluster, with WriteTxnMarkers to the leader of another's. For a __consumer_offsets partition it also tells the group
// coordinator, which makes the transaction's offsets visible or drops them.
type MarkerWriter interface {
	// WriteMarker appends m to tp and returns once it is committed. ErrUnknownPartition
	// (wrapped): tp does not exist any more; the coordinator skips it. Any other error
	// is retried after Options.RetryBackoff until it succeeds or the coordinator stops
	// hosting the transaction (ctx is then done).
	WriteMarker(ctx context.Context, tp TopicPartition, m Marker) error
}

// Options configures a Coordinator.
type Options struct {
	// OpenLog returns partition p of __transaction_state, creating the topic if needed.
	// nil: a coord.MemLog per partition.
	OpenLog func(p int32) (coord.Log, error)
	// NumPartitions is transaction.state.log.num.partitions. Default 50.
	NumPartitions int32
	// Markers writes the transactions' markers. Required.
	Markers MarkerWriter
	// NewProducerID hands out a producer id never handed out before (the broker's
	// allocator, shared with idempotent producers). Required.
	NewProducerID func(ctx context.Context) (int64, error)
	// MaxTimeout is transaction.max.timeout.ms: a longer transaction.timeout.ms is
	// INVALID_TRANSACTION_TIMEOUT. Default 15 minutes.
	MaxTimeout time.Duration
	// AbortInterval is transaction.abort.timed.out.transaction.cleanup.interval.ms: how
	// often transactions past their timeout are looked for and aborted. Default 10 s.
	AbortInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: a transactional id without a
	// transaction and unused for this long is forgotten (a tombstone). Default 7 days.
	IDExpiration time.Duration
	// ExpirationInterval is transaction.remove.expired.transaction.cleanup.interval.ms.
	// Default 1 hour.
	ExpirationInterval time.Duration
	// RetryBackoff is the wait before a failed marker or state write is retried.
	// Default 100 ms.
	RetryBackoff time.Duration
	// EndWait is how long InitProducerId and AddPartitions of an id whose previous
	// transaction's markers are being written wait for them (usually a few ms) before
	// answering ErrConcurrentTransactions; Kafka answers at once, and clients back off
	// (kgo 20 ms) and retry. Default 1 s; negative: no wait, as Kafka.
	EndWait time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Clock; nil means coord.RealClock.
	Clock coord.Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.NumPartitions == 0 {
		o.NumPartitions = DefaultNumPartitions
	}
	if o.MaxTimeout == 0 {
		o.MaxTimeout = DefaultMaxTimeout
	}
	if o.AbortInterval == 0 {
		o.AbortInterval = DefaultAbortInterval
	}
	if o.IDExpiration == 0 {
		o.IDExpiration = DefaultIDExpiration
	}
	if o.ExpirationInterval == 0 {
		o.ExpirationInterval = DefaultExpirationInterval
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.EndWait == 0 {
		o.EndWait = DefaultEndWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = coord.RealClock
	}
}

// Validate reports an invalid option (call after EnsureDefaults).
func (o *Options) Validate() error {
	switch {
	case o.NumPartitions < 1:
		return fmt.Errorf("txn: transaction.state.log.num.partitions %d < 1", o.NumPartitions)
	case o.Markers == nil:
		return errors.New("txn: no marker writer")
	case o.NewProducerID == nil:
		return errors.New("txn: no producer id allocator")
	case o.MaxTimeout <= 0 || o.MaxTimeout.Milliseconds() > 1<<31-1:
		return fmt.Errorf("txn: transaction.max.timeout.ms %d out of range", o.MaxTimeout.Milliseconds())
	case o.AbortInterval <= 0 || o.ExpirationInterval <= 0 || o.IDExpiration <= 0 || o.RetryBackoff <= 0:
		return errors.New("txn: cleanup intervals, transactional.id.expiration.ms and the retry backoff must be positive")
	}
	return nil
}
