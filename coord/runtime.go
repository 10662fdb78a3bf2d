package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// Shard is a coordinator's state for the keys of one partition of its internal topic
// (the groups of one __consumer_offsets partition, say). The runtime builds it when this
// broker becomes the partition's leader, replays the partition into it, and drops it
// when the broker stops being the leader.
type Shard interface {
	// Replay applies one stored record, in log order, while the partition loads. Key and
	// Value are valid only during the call: copy what is kept. An error means the record
	// cannot be read; the runtime logs it and goes on (Kafka skips unknown record
	// versions too).
	Replay(m Meta, r Record) error
	// Loaded is called once the replay is over, before the shard serves any request:
	// the place to start timers and to finish what the log left half done.
	Loaded()
	// Unloaded is called when the partition has been unloaded (or the runtime closed),
	// after its handle stopped: Done is closed, timers are stopped and no callback runs.
	Unloaded()
}

// Options configures a Runtime.
type Options struct {
	// Topic is the internal topic's name (__consumer_offsets …), for errors and logs.
	Topic string
	// NumPartitions is the topic's partition count, fixed for the runtime's life.
	NumPartitions int32
	// OpenLog returns partition p of the topic, creating the topic if needed; Load calls
	// it. nil: a MemLog per partition (kept across unloads).
	OpenLog func(p int32) (Log, error)
	// Compression is the codec of the batches Write builds (batch.CodecNone … CodecZstd);
	// default none. The topic's compression.type still applies on append.
	Compression int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Clock; nil means RealClock.
	Clock Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = RealClock
	}
	if o.OpenLog == nil {
		logs := make([]*MemLog, max(o.NumPartitions, 0))
		for i := range logs {
			logs[i] = NewMemLog()
		}
		o.OpenLog = func(p int32) (Log, error) { return logs[p], nil }
	}
}

// Validate reports an invalid option (call after EnsureDefaults).
func (o *Options) Validate() error {
	switch {
	case o.Topic == "":
		return errors.New("coord: no topic name")
	case o.NumPartitions < 1:
		return fmt.Errorf("coord: %s: %d partitions", o.Topic, o.NumPartitions)
	case o.Compression < batch.CodecNone || o.Compression > batch.CodecZstd:
		return fmt.Errorf("coord: %s: unknown compression codec %d", o.Topic, o.Compression)
	}
	return nil
}

// Runtime hosts the shards of one internal topic: one per partition this broker leads.
// The server tells it when the broker becomes (Load) or stops being (Unload) a
// partition's leader; requests find their shard with Shard(PartitionFor(key)).
//
// Concurrency: every method is safe for concurrent use. Loads and unloads of one
// partition are serialised; lookups take no lock.
type Runtime[S Shard] struct {
	opts     Options
	newShard func(*Partition) S
	slots    []atomic.Pointer[slot[S]] // nil: not hosted
	ops      []sync.Mutex              // per partition: serialises Load and Unload

	mu struct {
		sync.Mutex // guards slot changes (and slot.epoch) and closed
		closed     bool
	}
}

// slot is one hosted partition: loading until active is set.
type slot[S Shard] struct {
	epoch  int32 // leader epoch; guarded by Runtime.mu
	part   *Partition
	shard  S
	active atomic.Bool
}

// New returns a Runtime hosting no partition; newShard builds the shard of a partition
// being loaded.
func New[S Shard](opts *Options, newShard func(*Partition) S) (*Runtime[S], error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.Logger = o.Logger.With("component", "coord", "topic", o.Topic)
	return &Runtime[S]{
		opts:     o,
		newShard: newShard,
		slots:    make([]atomic.Pointer[slot[S]], o.NumPartitions),
		ops:      make([]sync.Mutex, o.NumPartitions),
	}, nil
}

// NumPartitions is the internal topic's partition count.
func (r *Runtime[S]) NumPartitions() int32 { return r.opts.NumPartitions }

// PartitionFor is the partition of key: PartitionFor(key, NumPartitions).
func (r *Runtime[S]) PartitionFor(key string) int32 {
	return PartitionFor(key, r.opts.NumPartitions)
}

// Shard returns the loaded shard of partition p, or ErrLoadInProgress while it loads,
// ErrNotCoordinator when this broker does not host it, ErrNotAvailable once closed.
func (r *Runtime[S]) Shard(p int32) (S, error) {
	var zero S
	if p < 0 || p >= r.opts.NumPartitions {
		return zero, fmt.Errorf("%w: %s has no partition %d", ErrNotCoordinator, r.opts.Topic, p)
	}
	s := r.slots[p].Load()
	switch {
	case s == nil && r.Closed():
		return zero, ErrNotAvailable
	case s == nil:
		return zero, ErrNotCoordinator
	case !s.active.Load():
		return zero, ErrLoadInProgress
	}
	return s.shard, nil
}

// Shards returns the loaded shards in partition order. The error is ErrNotAvailable once
// closed, else ErrLoadInProgress when a partition is loading (the shards are returned
// all the same).
func (r *Runtime[S]) Shards() ([]S, error) {
	if r.Closed() {
		return nil, ErrNotAvailable
	}
	var out []S
	var err error
	for i := range r.slots {
		switch s := r.slots[i].Load(); {
		case s == nil:
		case s.active.Load():
			out = append(out, s.shard)
		default:
			err = ErrLoadInProgress
		}
	}
	return out, err
}

// Closed reports whether Close has been called: a coordinator answers ErrNotAvailable
// before anything else then, as Kafka's does.
func (r *Runtime[S]) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.closed
}

// Load makes this broker the host of partition p as its leader at leader epoch epoch: it
// opens the partition's Log, builds the shard, replays every record into it, calls
// Loaded, and then serves it. Requests for p get ErrLoadInProgress meanwhile. It returns
// when the shard serves, or with the reason it does not: the Log's or a corrupt batch's
// error (the partition stays unhosted; a later Load may retry), ErrNotCoordinator when
// Unload came first, ErrNotAvailable once closed. A Load of a partition already hosted
// only raises its epoch (one not above the hosted epoch changes nothing), as Kafka's
// runtime does; a Load while another loads the partition waits for it.
func (r *Runtime[S]) Load(p, epoch int32) error {
	if p < 0 || p >= r.opts.NumPartitions {
		return fmt.Errorf("coord: %s has no partition %d", r.opts.Topic, p)
	}
	r.ops[p].Lock()
	defer r.ops[p].Unlock()
	r.mu.Lock()
	if r.mu.closed {
		r.mu.Unlock()
		return ErrNotAvailable
	}
	if cur := r.slots[p].Load(); cur != nil {
		if cur.epoch < epoch {
			cur.epoch = epoch
		}
		r.mu.Unlock()
		return nil
	}
	s := &slot[S]{epoch: epoch, part: newPartition(&r.opts, p, epoch)}
	r.slots[p].Store(s)
	r.mu.Unlock()

	err := r.load(s)
	if err == nil {
		s.active.Store(true)
		r.opts.Logger.Info("loaded", "partition", p, "epoch", epoch)
		return nil
	}
	r.mu.Lock()
	if r.slots[p].Load() == s {
		r.slots[p].Store(nil)
	}
	closed := r.mu.closed
	r.mu.Unlock()
	reason := ErrNotCoordinator
	if closed {
		reason = ErrNotAvailable
	}
	s.part.stop(reason)
	if s.part.aborted.Load() {
		return reason
	}
	r.opts.Logger.Error("load failed", "partition", p, "epoch", epoch, "err", err)
	return err
}

// errAborted stops the replay of a partition that Unload or Close wants gone.
var errAborted = errors.New("coord: load aborted")

func (r *Runtime[S]) load(s *slot[S]) error {
	p := s.part
	l, err := r.opts.OpenLog(p.index)
	if err != nil {
		return fmt.Errorf("coord: open %s-%d: %w", r.opts.Topic, p.index, err)
	}
	p.log = l
	s.shard = r.newShard(p)
	err = l.Replay(func(b []byte) error {
		if p.aborted.Load() {
			return errAborted
		}
		return r.replay(s, b)
	})
	if err != nil {
		return fmt.Errorf("coord: replay %s-%d: %w", r.opts.Topic, p.index, err)
	}
	s.shard.Loaded()
	return nil
}

// replay feeds the records of the whole batches in b to the shard. A batch that is not
// valid (CRC, structure, records) is an error: the partition cannot be trusted.
func (r *Runtime[S]) replay(s *slot[S], b []byte) error {
	for len(b) > 0 {
		n, err := batch.Next(b)
		if err != nil {
			return err
		}
		h, err := batch.ParseHeader(b[:n])
		if err != nil {
			return err
		}
		if h.RecordCount > 0 { // compaction leaves empty batches
			if err := r.replayBatch(s, b[:n]); err != nil {
				return err
			}
		}
		b = b[n:]
	}
	return nil
}

func (r *Runtime[S]) replayBatch(s *slot[S], b []byte) error {
	rd, err := records.NewReader(b)
	if err != nil {
		return err
	}
	defer rd.Close()
	h := rd.Header()
	m := Meta{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
		Transactional: h.IsTransactional(), Control: h.IsControl()}
	for rd.Next() {
		rec := rd.Record()
		m.Offset = rd.Offset()
		if err := s.shard.Replay(m, Record{Key: rec.Key, Value: rec.Value}); err != nil {
			s.part.logger.Warn("skipping record", "offset", m.Offset, "err", err)
		}
	}
	return rd.Err()
}

// Unload makes this broker stop hosting partition p, as when it stops being its leader
// at leader epoch epoch (negative: whatever the epoch, as when the topic is deleted). A
// load in progress is abandoned. The shard's handle stops (waiters get
// ErrNotCoordinator, timers stop), then the shard's Unloaded runs. An Unload whose epoch
// is not above the hosted one is ignored (a late notice of an older change).
func (r *Runtime[S]) Unload(p, epoch int32) {
	if p < 0 || p >= r.opts.NumPartitions {
		return
	}
	if s := r.slots[p].Load(); s != nil {
		r.mu.Lock()
		if epoch < 0 || s.epoch < epoch {
			s.part.aborted.Store(true)
		}
		r.mu.Unlock()
	}
	r.ops[p].Lock()
	defer r.ops[p].Unlock()
	r.mu.Lock()
	s := r.slots[p].Load()
	if s == nil || (epoch >= 0 && s.epoch >= epoch) {
		r.mu.Unlock()
		return
	}
	r.slots[p].Store(nil)
	r.mu.Unlock()
	r.unload(s, ErrNotCoordinator)
}

func (r *Runtime[S]) unload(s *slot[S], reason error) {
	s.part.stop(reason)
	s.shard.Unloaded()
	r.opts.Logger.Info("unloaded", "partition", s.part.index)
}

// Close unloads every partition (waiters get ErrNotAvailable, timers stop, each shard's
// Unloaded runs) and refuses further loads. It is idempotent.
func (r *Runtime[S]) Close() error {
	r.mu.Lock()
	if r.mu.closed {
		r.mu.Unlock()
		return nil
	}
	r.mu.closed = true
	for i := range r.slots {
		if s := r.slots[i].Load(); s != nil {
			s.part.aborted.Store(true)
		}
	}
	r.mu.Unlock()
	for p := range r.slots {
		r.ops[p].Lock()
		r.mu.Lock()
		s := r.slots[p].Load()
		r.slots[p].Store(nil)
		r.mu.Unlock()
		if s != nil {
			r.unload(s, ErrNotAvailable)
		}
		r.ops[p].Unlock()
	}
	return nil
}
