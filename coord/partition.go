package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// Record is one key/value record of an internal topic. A nil Value is a tombstone: the
// key is deleted (compaction drops it after delete.retention.ms).
type Record struct {
	Key, Value []byte
}

// Meta says where a replayed record was stored and by whom: its offset and the producer
// fields of its batch. Shards that only write with Write see ProducerID -1 and neither
// flag; transactional writers (issue 15: transactional offset commits) and their markers
// are told apart by them.
type Meta struct {
	Offset        int64
	ProducerID    int64
	ProducerEpoch int16
	// Transactional: the record's batch belongs to a transaction (attribute bit 4).
	Transactional bool
	// Control: the record is a control record (a transaction marker, attribute bit 5);
	// Key and Value are Kafka's control key and value.
	Control bool
}

// Partition is the runtime's handle on one loaded partition of the internal topic, given
// to the shard when it is built: the shard writes its records, reads the clock and sets
// its timers through it. The handle stops when the partition is unloaded (or the runtime
// closed): Done is closed, every timer set through it is stopped, and Write refuses.
//
// Concurrency: every method is safe for concurrent use.
type Partition struct {
	index  int32
	epoch  int32
	topic  string
	codec  int
	clock  Clock
	logger *slog.Logger
	log    Log // set by Load before the shard is built

	done    chan struct{}
	aborted atomic.Bool    // Unload asked a load in progress to stop
	wg      sync.WaitGroup // running timer callbacks

	mu struct {
		sync.Mutex
		err    error // why the handle stopped; nil while it serves
		timers map[*timer]struct{}
	}
}

func newPartition(o *Options, index, epoch int32) *Partition {
	p := &Partition{
		index:  index,
		epoch:  epoch,
		topic:  o.Topic,
		codec:  o.Compression,
		clock:  o.Clock,
		logger: o.Logger.With("partition", index),
		done:   make(chan struct{}),
	}
	p.mu.timers = make(map[*timer]struct{})
	return p
}

// Index is the partition's number in the internal topic.
func (p *Partition) Index() int32 { return p.index }

// Epoch is the leader epoch the partition was loaded at.
func (p *Partition) Epoch() int32 { return p.epoch }

// Now is the runtime clock's time.
func (p *Partition) Now() time.Time { return p.clock.Now() }

// Logger is the runtime's logger, with the partition.
func (p *Partition) Logger() *slog.Logger { return p.logger }

// Done is closed when the handle stops: waiters on the shard's behalf select on it and
// return Err.
func (p *Partition) Done() <-chan struct{} { return p.done }

// Err is nil while the partition is loaded, then why it stopped: ErrNotCoordinator after
// an unload, ErrNotAvailable after the runtime's Close.
func (p *Partition) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.err
}

// Write appends recs to the partition as one batch (compressed with the runtime's codec)
// and returns once the Log reports it committed. The caller orders its writes: records of
// concurrent Writes land in some order. Errors: Err's once the handle has stopped; an
// error wrapping ErrStorage when the storage failed; otherwise one wrapping
// ErrNotAvailable (logged here).
func (p *Partition) Write(recs []Record) error {
	return p.write(recs, -1, -1)
}

// WriteTxn is Write for records of producer pid's transaction at epoch (the group
// coordinator's transactional offset commits, KIP-447): the batch carries the producer
// id and epoch and the transactional attribute, with no sequence (the Log appends it as
// a coordinator's: see Log). The records count only once a commit marker of the producer
// follows them in the partition.
func (p *Partition) WriteTxn(pid int64, epoch int16, recs []Record) error {
	return p.write(recs, pid, epoch)
}

func (p *Partition) write(recs []Record, pid int64, epoch int16) error {
	if len(recs) == 0 {
		return nil
	}
	if err := p.Err(); err != nil {
		return err
	}
	rs := make([]records.Record, len(recs))
	for i, r := range recs {
		rs[i] = records.Record{Key: r.Key, Value: r.Value}
	}
	bt := records.NewBatch(p.clock.Now().UnixMilli(), rs)
	if pid >= 0 {
		bt.Header.ProducerID, bt.Header.ProducerEpoch = pid, epoch
		bt.Header.Attributes |= batch.TransactionalBit
	}
	b, err := records.Encode(nil, bt, p.codec)
	if err == nil {
		_, err = p.log.Append(b)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrStorage):
		// The log reports its failed state (once, not per request).
		return fmt.Errorf("%w: %s-%d: %v", ErrStorage, p.topic, p.index, err)
	case errors.Is(err, ErrNotCoordinator):
		return fmt.Errorf("%w: %s-%d: %v", ErrNotCoordinator, p.topic, p.index, err)
	default:
		p.logger.Error("append to "+p.topic+" failed", "err", err)
		return fmt.Errorf("%w: %s-%d: %v", ErrNotAvailable, p.topic, p.index, err)
	}
}

// AfterFunc runs f after d on the runtime's clock, in a goroutine the handle owns: once
// the handle stops, the timer is stopped, f does not start any more, and the unload (or
// Close) waits for an f already running. f must not itself unload the partition or close
// the runtime.
func (p *Partition) AfterFunc(d time.Duration, f func()) Timer {
	t := &timer{p: p}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.err != nil {
		return t // never fires
	}
	p.mu.timers[t] = struct{}{}
	// The callback takes p.mu, which is held until t is registered (Clock.AfterFunc does
	// not call f before returning).
	t.t = p.clock.AfterFunc(d, func() {
		p.mu.Lock()
		if _, live := p.mu.timers[t]; !live || p.mu.err != nil {
			p.mu.Unlock()
			return
		}
		delete(p.mu.timers, t)
		p.wg.Add(1)
		p.mu.Unlock()
		defer p.wg.Done()
		f()
	})
	return t
}

// timer is a Timer set through a Partition.
type timer struct {
	p *Partition
	t Timer // nil when the handle had stopped already
}

func (t *timer) Stop() bool {
	t.p.mu.Lock()
	_, live := t.p.mu.timers[t]
	delete(t.p.mu.timers, t)
	t.p.mu.Unlock()
	if t.t != nil {
		t.t.Stop()
	}
	return live
}

// stop ends the handle with err: Done closes, Write and AfterFunc refuse, pending timers
// are stopped, and running callbacks are waited for. It is idempotent.
func (p *Partition) stop(err error) {
	p.mu.Lock()
	if p.mu.err != nil {
		p.mu.Unlock()
		return
	}
	p.mu.err = err
	timers := p.mu.timers
	p.mu.timers = nil
	p.mu.Unlock()
	close(p.done)
	for t := range timers {
		t.t.Stop()
	}
	p.wg.Wait()
}
