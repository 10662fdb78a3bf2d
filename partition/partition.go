package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/segment"
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
	// ErrNotLeader: a leader's operation (Append, DeleteRecords) on a follower.
	ErrNotLeader = errors.New("partition: not the leader")
	// ErrNotFollower: a follower's operation (AppendAt, Truncate) on the leader.
	ErrNotFollower = errors.New("partition: not a follower")
	// ErrInvalidTxnState: a non-transactional batch from a producer whose transaction is
	// open in the partition (Kafka's InvalidTxnStateException).
	ErrInvalidTxnState = errors.New("partition: invalid transaction state")
	// ErrTransactionCoordinatorFenced: a marker from a coordinator epoch older than the
	// producer's last marker's (a coordinator that lost its __transaction_state partition).
	ErrTransactionCoordinatorFenced = errors.New("partition: transaction coordinator fenced")
	// ErrUnexpectedAppendOffset: AppendAt batches that do not continue the log: the first
	// starts below the log end offset, or a batch does not start above the previous one
	// (Kafka's UnexpectedAppendOffsetException; the follower truncates or refetches).
	ErrUnexpectedAppendOffset = errors.New("partition: batch offsets do not follow the log end")
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
	// Open does not default it: the replica manager resolves it from the topic config.
	Compression int
	// Compacted is set when cleanup.policy includes compact: records without a key are
	// refused (ErrInvalidRecord).
	Compacted bool
	// Transactional lets Append take transactional batches (the broker sets it once it
	// runs the transaction coordinator that writes their markers); without it they are
	// refused (ErrInvalidRecord). Markers (AppendMarker) and a follower's copies
	// (AppendAt) are taken either way.
	Transactional bool
	// Cleanup is the retention and compaction policy run by the replica manager's cleaner.
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
	// AppendValidated appends batches that Append has validated (batch.Validate) already,
	// with the aborted-transaction index entries of the abort markers among them.
	AppendValidated(batches []byte, leaderEpoch int32, aborted ...segment.AbortedTxn) (log.AppendInfo, error)
	// AppendAtValidated appends validated batches keeping their offsets and epochs.
	AppendAtValidated(batches []byte, aborted ...segment.AbortedTxn) (log.AppendInfo, error)
	// AbortedTxns returns the aborted transactions a read of [from, upper) must report.
	AbortedTxns(from, upper int64) ([]segment.AbortedTxn, error)
	// ReconcileAbortedTxns makes es the aborted-transaction index of the log from the
	// offset from on.
	ReconcileAbortedTxns(from int64, es []segment.AbortedTxn) (int, error)
	// TrustedEnd is the offset below which Open trusted the files without a rescan.
	TrustedEnd() int64
	// Truncate drops every batch at and above off (whole batches).
	Truncate(off int64) error
	// Repair makes the log writable again after a storage error (a no-op otherwise),
	// reporting whether it dropped records.
	Repair() (dropped bool, err error)
	WaitDurable(end int64) error
	WhenDurable(end int64, fn func(error))
	OnDurable(fn func(end int64))
	DurableEnd() int64
	ReadCopy(offset int64, maxBytes int, maxOffset int64) ([]byte, error)
	Scan(from int64, fn func(h batch.Header, b []byte) error) error
	OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error)
	MaxTimestamp() (ts int64, offset int64)
	// Segments describes the segments, oldest first.
	Segments() []log.SegmentInfo
	StartOffset() int64
	EndOffset() int64
	SetStartOffset(off int64) error
	Reconfigure(opts log.Options) error
	Close() error
	Delete() error
}

// Partition is one replica of one partition of a topic: its log, high watermark, log
// start offset, role (leader or follower) and leader epoch, leader-epoch cache, producer
// (idempotence) state and fetch waiters. See the package documentation for the
// concurrency contract.
type Partition struct {
	topic   string
	index   int32
	topicID [16]byte
	now     func() time.Time
	logger  *slog.Logger

	lg     *log.Log // nil for a fake store in tests
	st     store
	epochs *epochCache
	snaps  *snapshots // producer-state snapshots; nil for a fake store in tests

	relaxed atomic.Bool // flush.messages > 0: HW follows the log end, not the durable end

	traffic traffic // the metrics' counters (traffic.go)

	// leader and epoch are the replica's role and current leader epoch: changed by
	// MakeLeader and MakeFollower with amu held, read without it.
	leader atomic.Bool
	epoch  atomic.Int32

	// amu serialises writers (Append, AppendAt, Truncate, DeleteRecords, MakeLeader,
	// MakeFollower, Reconfigure, Close) and guards what only they touch. Lock order: amu,
	// then mu or the epoch cache's mutex (a leaf).
	amu struct {
		sync.Mutex
		maxMessageBytes int32
		logAppendTime   bool
		compression     int  // records codec or records.Producer
		compacted       bool // refuse keyless records
		transactional   bool // take transactional batches
		producers       producers
		// guards holds the verification guard of each producer whose transactional
		// produce is being verified with the coordinator (StartTxnVerification).
		guards map[int64]*TxnGuard
	}

	cleanup atomic.Pointer[CleanupOptions] // the cleaner's policy (Reconfigure swaps it)
	cmu     sync.Mutex                     // held by Cleanup; Close takes it after setting quit
	quit    atomic.Bool                    // closing: a running Cleanup stops

	// mu guards the high watermark, its inputs and the waiters. Nothing calls into the log
	// while holding it (the log calls advanceHW from its flusher).
	mu struct {
		sync.Mutex
		hw      int64
		local   int64    // the local durable end as last reported (see advanceHW)
		policy  HWPolicy // what moves hw
		target  int64    // HWExternal: the high watermark set by SetHighWatermark
		closed  bool
		waiters map[*waiter]struct{}
		// open maps each producer with an open transaction to the offset of its first
		// batch; completing holds the transactions whose marker is appended but not yet
		// below the HW. Both bound the last stable offset (stableLocked). Changed with
		// amu held too (txn.go).
		open       map[int64]int64
		completing []completedTxn
	}
}

// Open opens (or creates) the partition stored in dir and rebuilds its producer state
// from the newest usable producer-state snapshot and the log after it (without one, one
// pass over the batch headers of the whole log).
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
	fsys := o.Log.FS
	if fsys == nil {
		fsys = vfs.Default
	}
	p, err := open(l, o, newEpochCache(fsys, filepath.Join(dir, LeaderEpochFile), o.Logger), &snapshots{fs: fsys, dir: dir})
	if err != nil {
		l.Close()
		return nil, err
	}
	p.lg = l
	return p, nil
}

// open builds a partition on st, with the epoch cache ec and the snapshots sn (nil:
// none); o has its defaults. The
// partition is the leader, at the latest epoch of its log (0 for a new one): what a single
// node is; the replica manager sets the role and epoch of the image (MakeLeader,
// MakeFollower).
func open(st store, o Options, ec *epochCache, sn *snapshots) (*Partition, error) {
	p := &Partition{
		topic: o.Topic, index: o.Index, topicID: o.TopicID,
		now: o.Now, logger: o.Logger, st: st, epochs: ec, snaps: sn,
	}
	p.amu.maxMessageBytes = o.MaxMessageBytes
	p.amu.logAppendTime = o.LogAppendTime
	p.amu.compression = o.Compression
	p.amu.compacted = o.Compacted
	p.amu.transactional = o.Transactional
	cl := o.Cleanup
	p.cleanup.Store(&cl)
	p.amu.producers = newProducers()
	p.mu.waiters = make(map[*waiter]struct{})
	p.mu.open = make(map[int64]int64)
	p.relaxed.Store(o.Log.FlushMessages > 0)
	p.epochs.load(st.StartOffset(), st.EndOffset())
	if err := p.replayAndReconcile(); err != nil {
		return nil, err
	}
	if e, ok := p.epochs.latest(); ok {
		p.epoch.Store(e.epoch)
	}
	p.leader.Store(true)
	// Whatever recovery left in the files is served: the HW starts at the log end.
	p.mu.hw = st.EndOffset()
	p.mu.local = p.mu.hw
	p.pruneCompletedLocked()
	st.OnDurable(p.advanceHW)
	return p, nil
}

// replayAndReconcile loads the newest usable producer-state snapshot (loadSnapshotLocked),
// replays the log after it (replayLog) and makes the aborted-transaction index from there
// on agree with the abort markers found: entries missing (a crash between a marker and
// its entry reaching the disk), stale (past a cut) or torn are rewritten. An entry
// already stored for an abort whose transaction started below the replay (and is not in
// the snapshot) is kept.
func (p *Partition) replayAndReconcile() error {
	from := p.loadSnapshotLocked(p.st.TrustedEnd())
	if !p.epochs.fromFile() {
		if err := p.replayEpochs(from); err != nil {
			return err
		}
	}
	have, err := p.st.AbortedTxns(from, math.MaxInt64)
	if err != nil {
		return p.wrap(fmt.Errorf("read the aborted-transaction index: %w", err))
	}
	stored := make(map[int64]AbortedTxn, len(have))
	for _, e := range have {
		stored[e.LastOffset] = e
	}
	aborted, err := p.replayLog(from, stored)
	if err != nil {
		return err
	}
	n, err := p.st.ReconcileAbortedTxns(from, aborted)
	if err != nil {
		return p.wrap(fmt.Errorf("rebuild the aborted-transaction index: %w", err))
	}
	if n > 0 {
		p.logger.Warn("partition: rebuilt the aborted-transaction index from the log's markers",
			"topic", p.topic, "partition", p.index, "segments", n)
	}
	return nil
}

// replayLog replays the batch headers of the log from the offset from (and the markers)
// into the producer and transaction state, and into the epoch cache the epochs newer than
// its latest (the checkpoint file is missing or behind the log). It returns the
// aborted-transaction entries of the abort markers (see applyLocked for stored).
func (p *Partition) replayLog(from int64, stored map[int64]AbortedTxn) ([]AbortedTxn, error) {
	latest := int32(-1)
	if e, ok := p.epochs.latest(); ok {
		latest = e.epoch
	}
	start := p.st.StartOffset()
	var aborted []AbortedTxn
	err := p.st.Scan(max(from, start), func(h batch.Header, b []byte) error {
		es, err := p.applyLocked(&h, b, stored)
		if err != nil {
			p.logger.Warn("partition: skipping a control batch that does not decode", "topic", p.topic, "partition", p.index, "err", err)
		}
		aborted = append(aborted, es...)
		if h.LeaderEpoch > latest {
			p.epochs.assign(h.LeaderEpoch, max(h.BaseOffset, start))
			latest = h.LeaderEpoch
		}
		return nil
	})
	if err != nil {
		return nil, p.wrap(fmt.Errorf("rebuild producer state: %w", err))
	}
	return aborted, nil
}

// replayEpochs adds to the epoch cache the epochs of the batches below the offset to
// (where the replay after a producer-state snapshot starts) newer than its latest: the
// checkpoint file was missing or unreadable.
func (p *Partition) replayEpochs(to int64) error {
	latest := int32(-1)
	if e, ok := p.epochs.latest(); ok {
		latest = e.epoch
	}
	start := p.st.StartOffset()
	if to <= start {
		return nil
	}
	done := errors.New("done")
	err := p.st.Scan(start, func(h batch.Header, _ []byte) error {
		if h.BaseOffset >= to {
			return done
		}
		if h.LeaderEpoch > latest {
			p.epochs.assign(h.LeaderEpoch, max(h.BaseOffset, start))
			latest = h.LeaderEpoch
		}
		return nil
	})
	if err != nil && !errors.Is(err, done) {
		return p.wrap(fmt.Errorf("rebuild the leader-epoch cache: %w", err))
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

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.st.StartOffset() }

// EndOffset is the log end offset (LEO): the offset the next appended record gets.
func (p *Partition) EndOffset() int64 { return p.st.EndOffset() }

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
	return p.append(batches, false, nil)
}

// AppendVerified is Append of a transactional produce verified with the transaction
// coordinator (KIP-890 part 1): g is what StartTxnVerification returned before the
// verification. A transactional batch that would open a transaction here is refused
// (ErrInvalidTxnState) unless g is still the producer's guard: a marker written since
// (the transaction ended) or another verification replaced it.
func (p *Partition) AppendVerified(batches []byte, g *TxnGuard) (AppendResult, error) {
	return p.append(batches, false, g)
}

// AppendFromCoordinator is Append for a coordinator of this broker writing to its
// internal topic (Kafka's AppendOrigin.COORDINATOR): a transactional batch (the group
// coordinator's transactional offset commits) needs a producer id but no sequence, and
// is not checked against the producer's sequences, only its epoch
// (ErrInvalidProducerEpoch); it must come alone. Transactional batches are taken whatever
// Options.Transactional says.
func (p *Partition) AppendFromCoordinator(batches []byte) (AppendResult, error) {
	return p.append(batches, true, nil)
}

func (p *Partition) append(batches []byte, coordinator bool, guard *TxnGuard) (AppendResult, error) {
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.isClosed() {
		return AppendResult{}, p.wrap(ErrClosed)
	}
	if !p.leader.Load() {
		return AppendResult{}, p.wrap(ErrNotLeader)
	}
	res := AppendResult{LogAppendTime: -1}
	var (
		first    batch.Header
		n        int
		nrecords int64 // in the batches
		idem     bool
		txn      bool
		stampTS  int64
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
		case h.IsTransactional() && !p.amu.transactional && !coordinator:
			return AppendResult{}, p.wrap(fmt.Errorf("%w: transactions are not supported", ErrInvalidRecord))
		case h.IsTransactional() && (h.ProducerID < 0 || (h.BaseSequence < 0 && !coordinator)):
			return AppendResult{}, p.wrap(fmt.Errorf("%w: transactional batch without producer id and sequence", ErrInvalidRecord))
		}
		txn = txn || h.IsTransactional()
		if h.ProducerID >= 0 && h.BaseSequence >= 0 {
			idem = true
		}
		nrecords += int64(h.RecordCount)
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
		if st := p.amu.producers.m[first.ProducerID]; !txn && st != nil && st.txnFirst >= 0 {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: non-transactional batch from producer %d, whose transaction is open", ErrInvalidTxnState, first.ProducerID))
		}
	}
	if txn && n > 1 {
		return AppendResult{}, p.wrap(fmt.Errorf("%w: a transactional batch must come alone", ErrInvalidRecord))
	}
	if st := p.amu.producers.m[first.ProducerID]; txn && !idem && st != nil && first.ProducerEpoch < st.epoch {
		return AppendResult{}, p.wrap(fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, first.ProducerID, first.ProducerEpoch, st.epoch))
	}
	// A transaction's first batch bounds the last stable offset before the high watermark
	// can pass it.
	begins := false
	if txn {
		st := p.amu.producers.m[first.ProducerID]
		if guard != nil && st != nil && st.txnFirst >= 0 && first.ProducerEpoch > st.epoch {
			// A verified batch of a newer epoch while the producer's previous
			// transaction is still open here: its marker has not come yet.
			return AppendResult{}, p.wrap(fmt.Errorf("%w: producer %d epoch %d: the transaction of epoch %d is still open", ErrInvalidTxnState, first.ProducerID, first.ProducerEpoch, st.epoch))
		}
		if begins = st == nil || st.txnFirst < 0; begins {
			if guard != nil && (guard == noGuard || p.amu.guards[first.ProducerID] != guard) {
				return AppendResult{}, p.wrap(fmt.Errorf("%w: producer %d: the batch is not part of an ongoing transaction", ErrInvalidTxnState, first.ProducerID))
			}
			delete(p.amu.guards, first.ProducerID)
			p.mu.Lock()
			p.mu.open[first.ProducerID] = p.st.EndOffset()
			p.mu.Unlock()
		}
	}
	epoch := p.epoch.Load()
	if err := p.epochs.record(epochEntry{epoch: epoch, start: p.st.EndOffset()}); err != nil {
		return AppendResult{}, p.wrap(err)
	}
	// Every batch passed batch.Validate above (or was re-encoded by Recompress): the log
	// does not check the CRCs a second time.
	info, err := p.st.AppendValidated(batches, epoch)
	if err != nil {
		if begins {
			p.mu.Lock()
			delete(p.mu.open, first.ProducerID)
			p.mu.Unlock()
		}
		return AppendResult{}, p.wrap(err)
	}
	if idem {
		ts := first.MaxTimestamp
		if p.amu.logAppendTime {
			ts = stampTS
		}
		p.amu.producers.record(&first, info.BaseOffset, info.LastOffset, ts)
	}
	p.traffic.appendedRecords.Add(uint64(nrecords))
	p.traffic.appendedBytes.Add(uint64(len(batches)))
	if txn && !idem { // a coordinator's: no sequence, but the epoch counts
		if st := p.amu.producers.known(&first); first.ProducerEpoch > st.epoch {
			st.epoch, st.batches = first.ProducerEpoch, st.batches[:0]
		}
	}
	if begins {
		p.amu.producers.known(&first).txnFirst = info.BaseOffset
	}
	if info.Rolled {
		p.snapshotLocked(true)
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
// is appended again rather than answered as a duplicate, and out of the leader-epoch
// cache. The caller holds amu.
func (p *Partition) repairLocked() error {
	dropped, err := p.st.Repair()
	if err != nil {
		err = p.wrap(err)
	}
	if dropped {
		p.epochs.truncateFromEnd(p.st.EndOffset())
		err = errors.Join(err, p.rebuildProducersLocked())
	}
	return err
}

// rebuildProducersLocked rebuilds the producer and transaction state from the newest
// snapshot and the log after records were dropped from its end (or an append failed),
// keeping the largest producer id seen. The caller holds amu.
func (p *Partition) rebuildProducersLocked() error {
	maxID := p.amu.producers.maxID
	p.amu.producers = newProducers()
	p.mu.Lock()
	p.mu.open = make(map[int64]int64)
	p.mu.completing = nil
	p.mu.Unlock()
	_, err := p.replayLog(p.loadSnapshotLocked(p.st.EndOffset()), nil)
	p.amu.producers.maxID = max(p.amu.producers.maxID, maxID)
	return err
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
	if !p.leader.Load() {
		return -1, p.wrap(ErrNotLeader)
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
	p.epochs.truncateFromStart(p.st.StartOffset())
	p.startMovedLocked()
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
	p.amu.transactional = opts.Transactional
	cl := opts.Cleanup
	p.cleanup.Store(&cl)
	p.relaxed.Store(opts.Log.FlushMessages > 0)
	if opts.Log.FlushMessages > 0 {
		p.advanceHW(p.st.EndOffset())
	}
	return nil
}

// Close closes the partition cleanly: waiters wake, the producer state is snapshotted at
// the log end, the leader-epoch checkpoint is written if the cache changed, the log
// flushes and closes. It is idempotent.
func (p *Partition) Close() error {
	return p.shut(func() error {
		p.snapshotLocked(false)
		return errors.Join(p.epochs.write(), p.st.Close())
	}, false)
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
	done := p.wakeAllLocked()
	p.mu.Unlock()
	runCallbacks(done, p.wrap(ErrClosed))
	err := fn()
	if err != nil {
		return p.wrap(err)
	}
	return nil
}
