package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/log"
)

// DefaultMaxMessageBytes is Kafka's default max.message.bytes.
const DefaultMaxMessageBytes = 1048588

// Domain errors. Callers branch on them with errors.Is; the server maps them to Kafka
// error codes (server/errors_partition.go).
var (
	// ErrClosed: the partition was closed or deleted.
	ErrClosed = errors.New("partition: closed")
	// ErrOffsetOutOfRange: a fetch or DeleteRecords offset outside [log start, end].
	ErrOffsetOutOfRange = errors.New("partition: offset out of range")
	// ErrMessageTooLarge: a batch larger than max.message.bytes.
	ErrMessageTooLarge = errors.New("partition: batch larger than max.message.bytes")
	// ErrCorrupt: produced bytes that are not well-formed batches (length, CRC).
	ErrCorrupt = fmt.Errorf("partition: %w", batch.ErrCorrupt)
	// ErrInvalidRecord: well-formed batches the broker refuses (magic, empty, control or
	// transactional batches from a client, several idempotent batches in one append).
	ErrInvalidRecord = fmt.Errorf("partition: %w", batch.ErrInvalid)
	// ErrOutOfOrderSequence: an idempotent batch whose sequence does not follow the last
	// one appended for its producer (or is not 0 for a producer or epoch not seen yet).
	ErrOutOfOrderSequence = errors.New("partition: out of order sequence number")
	// ErrInvalidProducerEpoch: an idempotent batch from an epoch older than the producer's
	// current one (a fenced producer).
	ErrInvalidProducerEpoch = errors.New("partition: invalid producer epoch")
	// ErrUnknownLeaderEpoch: a leader epoch newer than this partition's.
	ErrUnknownLeaderEpoch = errors.New("partition: unknown leader epoch")
	// ErrFencedLeaderEpoch: a leader epoch older than this partition's.
	ErrFencedLeaderEpoch = errors.New("partition: fenced leader epoch")
)

// Options configures a Partition. Open fills unset fields with defaults.
type Options struct {
	Log             log.Options // storage settings from the topic config
	Topic           string      // topic name (logs, errors)
	Index           int32       // partition index
	TopicID         [16]byte    // topic id
	MaxMessageBytes int32       // max.message.bytes; 0: DefaultMaxMessageBytes
	LogAppendTime   bool        // message.timestamp.type=LogAppendTime
	// Compression is the codec of compression.type (a batch.Codec* value), or
	// records.Producer (the default, 0 is uncompressed) to store batches as produced.
	// Open does not default it: the Manager resolves it from the topic config.
	Compression int
	// Compacted is set when cleanup.policy includes compact: records without a key are
	// refused (ErrInvalidRecord).
	Compacted bool
	// Cleanup is the retention and compaction policy run by the Manager's cleaner.
	Cleanup CleanupOptions
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger     // nil: slog.Default()
}

// EnsureDefaults fills unset fields.
func (o *Options) EnsureDefaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Log.Now == nil {
		o.Log.Now = o.Now
	}
	if o.Log.Logger == nil {
		o.Log.Logger = o.Logger
	}
}

// store is the part of *log.Log a partition uses; unit tests substitute a fake.
type store interface {
	// AppendValidated appends batches that Append has validated (batch.Validate) already.
	AppendValidated(batches []byte, leaderEpoch int32) (log.AppendInfo, error)
	// Repair makes the log writable again after a storage error (a no-op otherwise),
	// reporting whether it dropped records.
	Repair() (dropped bool, err error)
	WaitDurable(end int64) error
	WhenDurable(end int64, fn func(error))
	OnDurable(fn func(end int64))
	ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error)
	Scan(from int64, fn func(h batch.Header, b []byte) error) error
	OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error)
	MaxTimestamp() (ts int64, offset int64)
	StartOffset() int64
	EndOffset() int64
	SetStartOffset(off int64) error
	Reconfigure(opts log.Options) error
	Close() error
	Delete() error
}

// Partition is one partition of a topic: its log, high watermark, log start offset,
// leader epoch, producer (idempotence) state and fetch waiters. See the package
// documentation for the concurrency contract.
type Partition struct {
	topic   string
	index   int32
	topicID [16]byte
	now     func() time.Time
	logger  *slog.Logger
	epoch   int32 // leader epoch; always 0 on a single node

	lg *log.Log // nil for a fake store in tests
	st store

	relaxed atomic.Bool // flush.messages > 0: HW follows the log end, not the durable end

	// amu serialises writers (Append, DeleteRecords, Reconfigure, Close) and guards what
	// only they touch. Lock order: amu before mu.
	amu struct {
		sync.Mutex
		maxMessageBytes int32
		logAppendTime   bool
		compression     int  // records codec or records.Producer
		compacted       bool // refuse keyless records
		producers       producers
	}

	cleanup atomic.Pointer[CleanupOptions] // the cleaner's policy (Reconfigure swaps it)
	cmu     sync.Mutex                     // held by Cleanup; Close takes it after setting quit
	quit    atomic.Bool                    // closing: a running Cleanup stops

	// mu guards the high watermark and the waiters. Nothing calls into the log while
	// holding it (the log calls onDurable from its flusher).
	mu struct {
		sync.Mutex
		hw      int64
		closed  bool
		waiters map[*waiter]struct{}
	}
}

// Open opens (or creates) the partition stored in dir and rebuilds its producer state
// by scanning the log (cost: one pass over the batch headers of the whole log).
func Open(dir string, opts *Options) (*Partition, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	lo := o.Log
	l, err := log.Open(dir, &lo)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", o.Topic, o.Index, err)
	}
	p, err := open(l, o)
	if err != nil {
		l.Close()
		return nil, err
	}
	p.lg = l
	return p, nil
}

// open builds a partition on st; o has its defaults.
func open(st store, o Options) (*Partition, error) {
	p := &Partition{
		topic: o.Topic, index: o.Index, topicID: o.TopicID,
		now: o.Now, logger: o.Logger, st: st,
	}
	p.amu.maxMessageBytes = o.MaxMessageBytes
	p.amu.logAppendTime = o.LogAppendTime
	p.amu.compression = o.Compression
	p.amu.compacted = o.Compacted
	cl := o.Cleanup
	p.cleanup.Store(&cl)
	p.amu.producers = newProducers()
	p.mu.waiters = make(map[*waiter]struct{})
	p.relaxed.Store(o.Log.FlushMessages > 0)
	if err := p.rebuildProducers(); err != nil {
		return nil, err
	}
	// Whatever recovery left in the files is served: the HW starts at the log end.
	p.mu.hw = st.EndOffset()
	st.OnDurable(p.advanceHW)
	return p, nil
}

// rebuildProducers replays the batch headers of the log into the producer state.
func (p *Partition) rebuildProducers() error {
	err := p.st.Scan(p.st.StartOffset(), func(h batch.Header, _ []byte) error {
		p.amu.producers.replay(&h)
		return nil
	})
	if err != nil {
		return p.wrap(fmt.Errorf("rebuild producer state: %w", err))
	}
	return nil
}

func (p *Partition) wrap(err error) error {
	return fmt.Errorf("partition %s-%d: %w", p.topic, p.index, err)
}

// Topic is the partition's topic name.
func (p *Partition) Topic() string { return p.topic }

// Index is the partition index.
func (p *Partition) Index() int32 { return p.index }

// TopicID is the id of the partition's topic.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// Log is the partition's log (nil only for partitions built on a test store).
func (p *Partition) Log() *log.Log { return p.lg }

// LeaderEpoch is the current leader epoch (0 on a single node).
func (p *Partition) LeaderEpoch() int32 { return p.epoch }

// HighWatermark is the offset up to which records are visible to consumers.
func (p *Partition) HighWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.hw
}

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.st.StartOffset() }

// EndOffset is the log end offset (LEO): the offset the next appended record gets.
func (p *Partition) EndOffset() int64 { return p.st.EndOffset() }

// CheckLeaderEpoch checks a leader epoch sent by a client: -1 (none) and the current
// epoch pass; older epochs are ErrFencedLeaderEpoch, newer ones ErrUnknownLeaderEpoch.
func (p *Partition) CheckLeaderEpoch(e int32) error {
	switch {
	case e < 0 || e == p.epoch:
		return nil
	case e < p.epoch:
		return ErrFencedLeaderEpoch
	default:
		return ErrUnknownLeaderEpoch
	}
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of leader epoch e and
// the epoch it belongs to. With a single epoch, every epoch up to the current one ends at
// the log end offset; a newer epoch is ErrUnknownLeaderEpoch.
func (p *Partition) EndOffsetForEpoch(e int32) (epoch int32, endOffset int64, err error) {
	if e > p.epoch {
		return -1, -1, ErrUnknownLeaderEpoch
	}
	return p.epoch, p.st.EndOffset(), nil
}

// AppendResult describes a successful Append.
type AppendResult struct {
	BaseOffset, LastOffset int64
	// LogAppendTime is the broker timestamp stamped into the batches under
	// message.timestamp.type=LogAppendTime, -1 otherwise.
	LogAppendTime  int64
	LogStartOffset int64
	// Duplicate reports an idempotent retry of a batch already in the log: nothing was
	// stored and the offsets are those of the original.
	Duplicate bool
}

// Append validates and appends the batches (one or more RecordBatch v2, as produced):
// each batch must be well formed (ErrCorrupt, ErrInvalidRecord) and at most
// max.message.bytes (ErrMessageTooLarge). Idempotent batches (producer id and sequence
// set) are checked against the producer state: a retry of one of the producer's last five
// batches returns the original offsets with Duplicate set and is not stored again; a gap
// is ErrOutOfOrderSequence and an old epoch ErrInvalidProducerEpoch. An idempotent batch
// must come alone (ErrInvalidRecord otherwise), as Kafka requires one batch per
// partition in a produce request. Under LogAppendTime the broker's clock is stamped
// into every batch. batches is modified in place (offsets, epoch, timestamps).
//
// On a compacted topic every record must have a key (ErrInvalidRecord). When the topic's
// compression.type names a codec other than a batch's, the batch is re-compressed
// (records.Recompress: offsets, timestamps, headers and producer fields kept) and the
// re-encoded copy is stored instead of batches.
//
// Append does not wait for durability; see WaitDurable.
func (p *Partition) Append(batches []byte) (AppendResult, error) {
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.isClosed() {
		return AppendResult{}, p.wrap(ErrClosed)
	}
	res := AppendResult{LogAppendTime: -1}
	var (
		first   batch.Header
		n       int
		idem    bool
		stampTS int64
		// recompressed collects the batches when compression.type re-encodes one of them.
		recompressed []byte
	)
	if p.amu.logAppendTime {
		stampTS = p.now().UnixMilli()
		res.LogAppendTime = stampTS
	}
	for rest := batches; len(rest) > 0; n++ {
		sz, err := batch.Next(rest)
		if err != nil {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrCorrupt, err))
		}
		b := rest[:sz]
		rest = rest[sz:]
		h, err := batch.Validate(b)
		if err != nil {
			if errors.Is(err, batch.ErrCorrupt) {
				return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrCorrupt, err))
			}
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrInvalidRecord, err))
		}
		if int64(sz) > int64(p.amu.maxMessageBytes) {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %d bytes, max.message.bytes %d", ErrMessageTooLarge, sz, p.amu.maxMessageBytes))
		}
		switch {
		case h.RecordCount == 0:
			return AppendResult{}, p.wrap(fmt.Errorf("%w: batch without records", ErrInvalidRecord))
		case h.IsControl():
			return AppendResult{}, p.wrap(fmt.Errorf("%w: control batch from a client", ErrInvalidRecord))
		case h.IsTransactional():
			return AppendResult{}, p.wrap(fmt.Errorf("%w: transactions are not supported", ErrInvalidRecord))
		}
		if h.ProducerID >= 0 && h.BaseSequence >= 0 {
			idem = true
		}
		if n == 0 {
			first = h
		}
		if p.amu.logAppendTime {
			batch.SetLogAppendTime(b, stampTS)
		}
		if p.amu.compacted {
			if err := records.ValidateKeys(b); err != nil {
				return AppendResult{}, p.wrap(recordsError(err))
			}
		}
		if c := p.amu.compression; c != records.Producer && h.Codec() != c {
			if recompressed == nil {
				recompressed = make([]byte, 0, len(batches))
				recompressed = append(recompressed, batches[:len(batches)-len(rest)-sz]...)
			}
			rb, err := records.Recompress(b, c)
			if err != nil {
				return AppendResult{}, p.wrap(recordsError(err))
			}
			if int64(len(rb)) > int64(p.amu.maxMessageBytes) {
				return AppendResult{}, p.wrap(fmt.Errorf("%w: %d bytes once re-compressed, max.message.bytes %d", ErrMessageTooLarge, len(rb), p.amu.maxMessageBytes))
			}
			recompressed = append(recompressed, rb...)
		} else if recompressed != nil {
			recompressed = append(recompressed, b...)
		}
	}
	if recompressed != nil {
		batches = recompressed
	}
	if n == 0 {
		return AppendResult{}, p.wrap(fmt.Errorf("%w: no record batch", ErrInvalidRecord))
	}
	if err := p.repairLocked(); err != nil {
		return AppendResult{}, err
	}
	if idem {
		if n > 1 {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %d batches in one idempotent append, one allowed", ErrInvalidRecord, n))
		}
		dup, err := p.amu.producers.check(&first)
		if err != nil {
			return AppendResult{}, p.wrap(err)
		}
		if dup != nil {
			res.BaseOffset, res.LastOffset, res.Duplicate = dup.baseOffset, dup.lastOffset, true
			if !p.amu.logAppendTime {
				res.LogAppendTime = -1
			} else {
				res.LogAppendTime = dup.maxTimestamp
			}
			res.LogStartOffset = p.st.StartOffset()
			return res, nil
		}
	}
	// Every batch passed batch.Validate above (or was re-encoded by Recompress): the log
	// does not check the CRCs a second time.
	info, err := p.st.AppendValidated(batches, p.epoch)
	if err != nil {
		return AppendResult{}, p.wrap(err)
	}
	if idem {
		ts := first.MaxTimestamp
		if p.amu.logAppendTime {
			ts = stampTS
		}
		p.amu.producers.record(&first, info.BaseOffset, info.LastOffset, ts)
	}
	if p.relaxed.Load() {
		p.advanceHW(info.LastOffset + 1)
	}
	res.BaseOffset, res.LastOffset = info.BaseOffset, info.LastOffset
	res.LogStartOffset = p.st.StartOffset()
	return res, nil
}

// repairLocked repairs the log after a storage error before the producer state is
// consulted: a repair that drops records (written, never durable, after a failed fsync)
// takes their batches out of the producer state too, so that a producer's retry of one
// is appended again rather than answered as a duplicate. The caller holds amu.
func (p *Partition) repairLocked() error {
	dropped, err := p.st.Repair()
	if err != nil {
		err = p.wrap(err)
	}
	if dropped {
		maxID := p.amu.producers.maxID
		p.amu.producers = newProducers()
		rerr := p.rebuildProducers()
		p.amu.producers.maxID = max(p.amu.producers.maxID, maxID)
		err = errors.Join(err, rerr)
	}
	return err
}

// WaitDurable waits until the records before end are durable (fsynced) or ctx is done.
// Under flush.messages > 0 (relaxed mode) it returns at once: the topic asked for
// Kafka's page-cache durability. Errors of the flusher are returned wrapped.
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	done := make(chan error, 1)
	p.WhenDurable(end, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WhenDurable is WaitDurable without the wait: fn is called exactly once with its result
// (nil, or an error of the flusher, ErrClosed, wrapped), before WhenDurable returns when
// that is known already, else from the log's flusher once the high watermark covers end
// (fn then finds HighWatermark >= end) or the wait fails. fn must be quick and must not
// block or call into the partition; it gets no context: a caller with a deadline stops
// waiting on its own and ignores the later call.
func (p *Partition) WhenDurable(end int64, fn func(error)) {
	if p.relaxed.Load() {
		fn(nil)
		return
	}
	p.mu.Lock()
	hw, closed := p.mu.hw, p.mu.closed
	p.mu.Unlock()
	switch {
	case hw >= end:
		fn(nil)
	case closed:
		fn(p.wrap(ErrClosed))
	default:
		p.st.WhenDurable(end, func(err error) {
			if err != nil {
				err = p.wrap(err)
			}
			fn(err)
		})
	}
}

// advanceHW moves the high watermark up to end (never down) and wakes the waiters it
// passes. It is the log's OnDurable callback.
func (p *Partition) advanceHW(end int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if end <= p.mu.hw {
		return
	}
	p.mu.hw = end
	p.wakeLocked()
}

func (p *Partition) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.closed
}

// ReadResult is what Read and ReadChunk return.
type ReadResult struct {
	// Records holds whole stored batches, verbatim, starting with the batch that holds
	// the requested offset: a copy (Read, or ReadChunk on a store without files).
	Records []byte
	// Chunk is where the same bytes are in the segment file (ReadChunk on a file log),
	// to be written to a connection without copying (log.Chunk.WriteTo: sendfile). The
	// caller must Release it. Nil when Records is set or nothing was read.
	Chunk          *log.Chunk
	HighWatermark  int64
	LogStartOffset int64
}

// Len is the number of record bytes read.
func (r *ReadResult) Len() int {
	if r.Chunk != nil {
		return r.Chunk.Len()
	}
	return len(r.Records)
}

// Read returns stored batches from offset, up to maxBytes but at least one batch when
// there is one (KIP-74), never past the high watermark. An offset below the log start or
// above the log end is ErrOffsetOutOfRange; an offset in [HW, LEO] reads nothing.
func (p *Partition) Read(offset int64, maxBytes int) (ReadResult, error) {
	return p.read(offset, maxBytes, false)
}

// ReadChunk is Read returning where the bytes are (ReadResult.Chunk, to be released by
// the caller) instead of a copy; on a partition without a file log it copies (Records).
func (p *Partition) ReadChunk(offset int64, maxBytes int) (ReadResult, error) {
	return p.read(offset, maxBytes, p.lg != nil)
}

func (p *Partition) read(offset int64, maxBytes int, chunk bool) (ReadResult, error) {
	hw := p.HighWatermark()
	res := ReadResult{HighWatermark: hw, LogStartOffset: p.st.StartOffset()}
	if p.isClosed() {
		return res, p.wrap(ErrClosed)
	}
	if offset < res.LogStartOffset || offset > p.st.EndOffset() {
		return res, p.wrap(fmt.Errorf("%w: offset %d, log [%d, %d]", ErrOffsetOutOfRange, offset, res.LogStartOffset, p.st.EndOffset()))
	}
	if offset >= hw {
		return res, nil
	}
	var (
		b   []byte
		c   *log.Chunk
		err error
	)
	if chunk {
		c, err = p.lg.Read(offset, max(maxBytes, 1), hw)
		if err == nil && c.Len() == 0 {
			c.Release()
			c = nil
		}
	} else {
		b, err = p.readBelow(offset, maxBytes, hw)
	}
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			// Retention moved the log start meanwhile.
			res.LogStartOffset = p.st.StartOffset()
			return res, p.wrap(fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err))
		}
		return res, p.wrap(err)
	}
	res.Records, res.Chunk = b, c
	return res, nil
}

// readBelow reads whole batches from offset, none at or past hw.
func (p *Partition) readBelow(offset int64, maxBytes int, hw int64) ([]byte, error) {
	return p.st.ReadCopy(offset, max(maxBytes, 1), hw)
}

// DeleteRecords moves the log start offset to off (-1: the high watermark), deleting the
// records before it (DeleteRecords API). An offset past the high watermark is
// ErrOffsetOutOfRange; one at or below the current start changes nothing. It returns the
// new log start offset (the low watermark).
func (p *Partition) DeleteRecords(off int64) (int64, error) {
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.isClosed() {
		return -1, p.wrap(ErrClosed)
	}
	hw := p.HighWatermark()
	if off == -1 {
		off = hw
	}
	if off < 0 || off > hw {
		return -1, p.wrap(fmt.Errorf("%w: delete before %d, high watermark %d", ErrOffsetOutOfRange, off, hw))
	}
	if off <= p.st.StartOffset() {
		return p.st.StartOffset(), nil
	}
	if err := p.st.SetStartOffset(off); err != nil {
		return -1, p.wrap(err)
	}
	return p.st.StartOffset(), nil
}

// Reconfigure applies a runtime topic config change. Topic, Index and TopicID are
// ignored.
func (p *Partition) Reconfigure(opts Options) error {
	opts.EnsureDefaults()
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.isClosed() {
		return p.wrap(ErrClosed)
	}
	if err := p.st.Reconfigure(opts.Log); err != nil {
		return p.wrap(err)
	}
	p.amu.maxMessageBytes = opts.MaxMessageBytes
	p.amu.logAppendTime = opts.LogAppendTime
	p.amu.compression = opts.Compression
	p.amu.compacted = opts.Compacted
	cl := opts.Cleanup
	p.cleanup.Store(&cl)
	p.relaxed.Store(opts.Log.FlushMessages > 0)
	if opts.Log.FlushMessages > 0 {
		p.advanceHW(p.st.EndOffset())
	}
	return nil
}

// Close closes the partition cleanly: waiters wake, the log flushes and closes. It is
// idempotent.
func (p *Partition) Close() error {
	return p.shut(p.st.Close, false)
}

// Delete closes the partition and removes its files; it may follow Close.
func (p *Partition) Delete() error {
	return p.shut(p.st.Delete, true)
}

func (p *Partition) shut(fn func() error, always bool) error {
	p.quit.Store(true) // a running Cleanup aborts; wait for it
	p.cmu.Lock()
	defer p.cmu.Unlock()
	p.amu.Lock()
	defer p.amu.Unlock()
	p.mu.Lock()
	if p.mu.closed && !always {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	p.wakeAllLocked()
	p.mu.Unlock()
	err := fn()
	if err != nil {
		return p.wrap(err)
	}
	return nil
}
