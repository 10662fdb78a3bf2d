package txn

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"

	"github.com/stratalog/strata/coord"
)

// Coordinator is the transaction coordinator of one broker: it owns every transactional
// id whose __transaction_state partition this broker leads (on a single node, all of
// them). The ids of one partition are a shard of the coordinator runtime (package coord):
// they come into memory when the server loads the partition (replaying its records) and
// leave when it unloads it.
//
// Concurrency: every method is safe for concurrent use. Requests return once the state
// change they make is written (committed in __transaction_state); EndTxn does not wait
// for the markers, which the shard writes in the background (the next request of the id
// gets ErrConcurrentTransactions until they are all written).
type Coordinator struct {
	opts   Options
	logger *slog.Logger
	rt     *coord.Runtime[*shard]
}

// New returns a Coordinator hosting no partition of __transaction_state yet.
func New(opts *Options) (*Coordinator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Coordinator{opts: o, logger: o.Logger.With("component", "txn")}
	rt, err := coord.New(&coord.Options{
		Topic:         Topic,
		NumPartitions: o.NumPartitions,
		OpenLog:       o.OpenLog,
		Logger:        o.Logger,
		Clock:         o.Clock,
	}, c.newShard)
	if err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	c.rt = rt
	return c, nil
}

// Load makes this broker the coordinator of the transactional ids of partition p of
// __transaction_state, whose leader it became at leader epoch epoch (the coordinator
// epoch of the markers it writes): it replays the partition, resumes the markers of the
// transactions left in PrepareCommit or PrepareAbort, starts the timeout and expiration
// checks, and serves. See coord.Runtime.Load.
func (c *Coordinator) Load(p, epoch int32) error { return c.rt.Load(p, epoch) }

// Unload drops the ids of partition p (see coord.Runtime.Unload): marker writing stops
// (the next leader resumes it), later requests get coord.ErrNotCoordinator.
func (c *Coordinator) Unload(p, epoch int32) { c.rt.Unload(p, epoch) }

// Close unloads every partition and waits for the shards' background work. Idempotent.
func (c *Coordinator) Close() error { return c.rt.Close() }

// Partition is the __transaction_state partition of transactional id id (Kafka's
// partitionFor): FindCoordinator answers with its leader.
func (c *Coordinator) Partition(id string) int32 { return c.rt.PartitionFor(id) }

// NumPartitions is transaction.state.log.num.partitions.
func (c *Coordinator) NumPartitions() int32 { return c.rt.NumPartitions() }

func (c *Coordinator) shardOf(id string) (*shard, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty transactional id", ErrInvalidRequest)
	}
	return c.rt.Shard(c.rt.PartitionFor(id))
}

// InitProducerID answers InitProducerId for transactional id id with transaction timeout
// timeoutMs: the id's producer id and a new epoch, which fences every producer of the
// id with an older one. pid and epoch are the producer's current ones when it sends them
// (KIP-360, else -1): a retry of an epoch bump whose answer was lost gets the same
// answer; a producer that is not the id's current one is ErrProducerFenced. A transaction
// still open is aborted first, with the epoch bumped so that its producer is fenced, and
// ErrConcurrentTransactions answered (the client retries once the abort completed); so is
// a transaction whose markers are being written. A new id gets a new producer id at
// epoch 0; an exhausted epoch gets a new producer id too.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error) {
	sh, err := c.shardOf(id)
	if err != nil {
		return -1, -1, err
	}
	if timeoutMs <= 0 || int64(timeoutMs) > c.opts.MaxTimeout.Milliseconds() {
		return -1, -1, fmt.Errorf("%w: %d ms, transaction.max.timeout.ms %d", ErrInvalidTransactionTimeout, timeoutMs, c.opts.MaxTimeout.Milliseconds())
	}
	e, err := sh.getOrCreate(ctx, id)
	if err != nil {
		return -1, -1, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.awaitEndLocked(ctx, e) != e || sh.mu.txns[id] != e {
		return -1, -1, ErrConcurrentTransactions // expired meanwhile: the client retries
	}
	if e.pending {
		return -1, -1, ErrConcurrentTransactions
	}
	if pid >= 0 && !(e.ProducerEpoch < 0 || pid == e.ProducerID || (pid == e.PrevProducerID && epochExhausted(epoch))) {
		return -1, -1, fmt.Errorf("%w: producer %d epoch %d, the id's is %d", ErrProducerFenced, pid, epoch, e.ProducerID)
	}
	switch e.State {
	case Empty, CompleteCommit, CompleteAbort:
	case Ongoing:
		if err := sh.abortLocked(e, true); err != nil {
			return -1, -1, err
		}
		return -1, -1, fmt.Errorf("%w: aborting the open transaction of %q", ErrConcurrentTransactions, id)
	default:
		return -1, -1, fmt.Errorf("%w: %q is %s", ErrConcurrentTransactions, id, e.State)
	}
	if pid >= 0 && pid == e.ProducerID && e.ProducerEpoch >= 0 && epoch != e.ProducerEpoch {
		if epoch == e.lastEpoch {
			return e.ProducerID, e.ProducerEpoch, nil // a retry of the bump that gave this epoch
		}
		return -1, -1, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrProducerFenced, pid, epoch, e.ProducerEpoch)
	}
	next := e.Txn
	next.State, next.TimeoutMs, next.Partitions, next.StartMs, next.UpdateMs = Empty, timeoutMs, nil, -1, sh.nowMs()
	switch {
	case e.ProducerEpoch < 0:
		next.ProducerEpoch = 0
	case epochExhausted(e.ProducerEpoch):
		npid, err := c.opts.NewProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		next.PrevProducerID, next.ProducerID, next.ProducerEpoch = e.ProducerID, npid, 0
	default:
		next.ProducerEpoch = e.ProducerEpoch + 1
	}
	last := e.ProducerEpoch
	if err := sh.writeLocked(e, next); err != nil {
		return -1, -1, err
	}
	e.lastEpoch = last
	return next.ProducerID, next.ProducerEpoch, nil
}

// checkProducerLocked checks a request's producer id and epoch against e's, and that no
// state change of the id is being written. The caller holds sh.mu.
func checkProducerLocked(e *entry, id string, pid int64, epoch int16) error {
	if err := matchProducerLocked(e, id, pid, epoch); err != nil {
		return err
	}
	if e.pending {
		return fmt.Errorf("%w: a state change of %q is being written", ErrConcurrentTransactions, id)
	}
	return nil
}

// matchProducerLocked checks a request's producer id and epoch against e's. The caller
// holds sh.mu.
func matchProducerLocked(e *entry, id string, pid int64, epoch int16) error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: %q unknown", ErrInvalidProducerIDMapping, id)
	case e.ProducerID != pid:
		return fmt.Errorf("%w: %q has producer %d, not %d", ErrInvalidProducerIDMapping, id, e.ProducerID, pid)
	case e.ProducerEpoch != epoch:
		return fmt.Errorf("%w: %q producer %d epoch %d, current %d", ErrProducerFenced, id, pid, epoch, e.ProducerEpoch)
	}
	return nil
}

// AddPartitions adds partitions to the transaction of id (AddPartitionsToTxn, and
// AddOffsetsToTxn with the group's __consumer_offsets partition), starting it if none is
// open; the markers will go to them. Partitions already in the transaction change
// nothing.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(ctx, id, pid, epoch, parts, true)
}

// TryAddPartitions is AddPartitions without the wait for the previous transaction's
// markers: ErrConcurrentTransactions at once while they are written, as Kafka answers
// (for AddPartitionsToTxn from other brokers, whose connection must not be held up).
func (c *Coordinator) TryAddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(ctx, id, pid, epoch, parts, false)
}

func (c *Coordinator) addPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition, wait bool) error {
	sh, err := c.shardOf(id)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.mu.txns[id]
	if wait {
		e = sh.awaitEndLocked(ctx, e)
	}
	if err := checkProducerLocked(e, id, pid, epoch); err != nil {
		return err
	}
	switch e.State {
	case PrepareCommit, PrepareAbort:
		return fmt.Errorf("%w: %q is %s", ErrConcurrentTransactions, id, e.State)
	case Empty, CompleteCommit, CompleteAbort, Ongoing:
	default:
		return fmt.Errorf("%w: %q is %s", ErrInvalidTxnState, id, e.State)
	}
	merged := slices.Clone(e.Partitions)
	for _, tp := range parts {
		if i, found := slices.BinarySearchFunc(merged, tp, compareTP); !found {
			merged = slices.Insert(merged, i, tp)
		}
	}
	if e.State == Ongoing && len(merged) == len(e.Partitions) {
		return nil
	}
	next := e.Txn
	next.Partitions, next.UpdateMs = merged, sh.nowMs()
	if e.State != Ongoing {
		next.State, next.StartMs = Ongoing, next.UpdateMs
	}
	return sh.writeLocked(e, next)
}

// InTxn reports whether tp is in the open transaction of id by producer pid at epoch
// (TxnOffsetCommit's check of its group's partition). The errors are AddPartitions'.
func (c *Coordinator) InTxn(id string, pid int64, epoch int16, tp TopicPartition) (bool, error) {
	sh, err := c.shardOf(id)
	if err != nil {
		return false, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.mu.txns[id]
	if err := matchProducerLocked(e, id, pid, epoch); err != nil {
		return false, err
	}
	_, found := slices.BinarySearchFunc(e.Partitions, tp, compareTP)
	return e.State == Ongoing && found, nil
}

// Verify is KIP-890 part 1's check before a transactional produce (AddPartitionsToTxn
// v4+ with VerifyOnly, Kafka's handleVerifyPartitionsInTransaction): it returns, for each
// of parts, nil when it is in the open transaction of id by producer pid at epoch, else
// ErrTransactionAbortable. The error for the whole request is
// ErrInvalidProducerIDMapping (unknown id, other producer), ErrProducerFenced (other
// epoch) or ErrConcurrentTransactions (a state change is being written, or the markers
// of the previous transaction).
func (c *Coordinator) Verify(id string, pid int64, epoch int16, parts []TopicPartition) ([]error, error) {
	sh, err := c.shardOf(id)
	if err != nil {
		return nil, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.mu.txns[id]
	if err := checkProducerLocked(e, id, pid, epoch); err != nil {
		return nil, err
	}
	if e.State == PrepareCommit || e.State == PrepareAbort {
		return nil, fmt.Errorf("%w: %q is %s", ErrConcurrentTransactions, id, e.State)
	}
	errs := make([]error, len(parts))
	for i, tp := range parts {
		if _, found := slices.BinarySearchFunc(e.Partitions, tp, compareTP); !found || e.State != Ongoing {
			errs[i] = fmt.Errorf("%w: %s-%d is not in the transaction of %q", ErrTransactionAbortable, tp.Topic, tp.Partition, id)
		}
	}
	return errs, nil
}

// EndTxn commits or aborts the open transaction of id (EndTxn): once the PrepareCommit or
// PrepareAbort state is written it returns, and the markers are written to every
// partition of the transaction in the background, then CompleteCommit or CompleteAbort.
// A retry of an end already made (same outcome) succeeds, or gets
// ErrConcurrentTransactions while its markers are being written; the other outcome, or
// no transaction, is ErrInvalidTxnState.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit bool) error {
	sh, err := c.shardOf(id)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.mu.txns[id]
	if err := checkProducerLocked(e, id, pid, epoch); err != nil {
		return err
	}
	same := func(s State) error {
		if s == PrepareCommit || s == CompleteCommit {
			if commit {
				return nil
			}
		} else if !commit {
			return nil
		}
		return fmt.Errorf("%w: %s of %q, which is %s", ErrInvalidTxnState, outcome(commit), id, e.State)
	}
	switch e.State {
	case Ongoing:
		next := e.Txn
		next.State, next.UpdateMs = PrepareAbort, sh.nowMs()
		if commit {
			next.State = PrepareCommit
		}
		if err := sh.writeLocked(e, next); err != nil {
			return err
		}
		sh.startMarkersLocked(e)
		return nil
	case CompleteCommit, CompleteAbort:
		return same(e.State)
	case PrepareCommit, PrepareAbort:
		if err := same(e.State); err != nil {
			return err
		}
		return fmt.Errorf("%w: the markers of %q are being written", ErrConcurrentTransactions, id)
	default:
		return fmt.Errorf("%w: %s of %q, which is %s", ErrInvalidTxnState, outcome(commit), id, e.State)
	}
}

// EndTxnV2 is EndTxn of transactions v2 (KIP-890 part 2, EndTxn v5): every end bumps the
// producer epoch, so that no batch of the ended transaction can join the next one, and
// returns the producer id and epoch the producer continues with (a new producer id at
// epoch 0 once the epoch is exhausted; the markers still carry the old id and the bumped
// epoch). As Kafka's: aborting with no transaction open (Empty, Complete*) is allowed
// and bumps the epoch too; a retry of an end whose answer was lost (the request's epoch
// is the one before the bump, or the last of the previous producer id) gets the current
// id and epoch once the markers are written, ErrConcurrentTransactions meanwhile (it
// first waits for them up to Options.EndWait, like any end, unlike Kafka; and so is the
// next transaction's end while they are: Kafka's PRODUCER_FENCED); any
// other epoch is ErrProducerFenced; committing without a transaction, or the other outcome
// of a retry, ErrInvalidTxnState.
func (c *Coordinator) EndTxnV2(ctx context.Context, id string, pid int64, epoch int16, commit bool) (int64, int16, error) {
	sh, err := c.shardOf(id)
	if err != nil {
		return -1, -1, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// The next transaction's end may come while the previous one's markers are written
	// (its answer does not wait for them): wait for them, as AddPartitions does.
	e := sh.awaitEndLocked(ctx, sh.mu.txns[id])
	if e == nil {
		return -1, -1, fmt.Errorf("%w: %q unknown", ErrInvalidProducerIDMapping, id)
	}
	retryOnOverflow := e.PrevProducerID == pid && epoch == math.MaxInt16-1 && e.ProducerEpoch == 0
	retryOnBump := e.ProducerID == pid && int32(e.ProducerEpoch) == int32(epoch)+1
	retry := retryOnBump || retryOnOverflow
	var valid bool
	switch e.State {
	case PrepareCommit, PrepareAbort:
		valid = retry || epoch == e.ProducerEpoch
	case CompleteCommit, CompleteAbort:
		valid = retry || epoch == e.ProducerEpoch
	default:
		valid = epoch == e.ProducerEpoch
	}
	switch {
	case e.ProducerID != pid && !retryOnOverflow:
		return -1, -1, fmt.Errorf("%w: %q has producer %d, not %d", ErrInvalidProducerIDMapping, id, e.ProducerID, pid)
	case !valid:
		return -1, -1, fmt.Errorf("%w: %q producer %d epoch %d, current %d", ErrProducerFenced, id, pid, epoch, e.ProducerEpoch)
	case e.pending:
		return -1, -1, fmt.Errorf("%w: a state change of %q is being written", ErrConcurrentTransactions, id)
	}
	invalid := func() (int64, int16, error) {
		return -1, -1, fmt.Errorf("%w: %s of %q, which is %s", ErrInvalidTxnState, outcome(commit), id, e.State)
	}
	switch {
	case e.State == Ongoing:
	case (e.State == PrepareCommit || e.State == PrepareAbort) && !retry:
		// The next transaction's end, and the previous one's markers still being written
		// after EndWait: the client retries (Kafka answers PRODUCER_FENCED, having no wait).
		return -1, -1, fmt.Errorf("%w: the markers of %q are being written", ErrConcurrentTransactions, id)
	case e.State == PrepareCommit && commit, e.State == PrepareAbort && !commit:
		return -1, -1, fmt.Errorf("%w: the markers of %q are being written", ErrConcurrentTransactions, id)
	case e.State == CompleteCommit && commit, e.State == CompleteAbort && !commit:
		if !retry {
			if commit {
				return invalid()
			}
			break // a new, empty transaction aborted
		}
		return e.ProducerID, e.ProducerEpoch, nil
	case (e.State == Empty || e.State == CompleteCommit) && !commit && !retry:
	default:
		return invalid()
	}
	next := e.Txn
	next.State, next.UpdateMs = PrepareAbort, sh.nowMs()
	if commit {
		next.State = PrepareCommit
	}
	if e.State != Ongoing { // no partition: the start is now (Kafka's noPartitionAdded)
		next.StartMs, next.Partitions = next.UpdateMs, nil
	}
	if epochExhausted(e.ProducerEpoch) {
		npid, err := c.opts.NewProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		next.NextProducerID = npid
	}
	if e.ProducerEpoch < math.MaxInt16 { // MaxInt16 only after a fence: the new id follows
		next.ProducerEpoch++
	}
	if err := sh.writeLocked(e, next); err != nil {
		return -1, -1, err
	}
	sh.startMarkersLocked(e)
	if next.NextProducerID >= 0 {
		return next.NextProducerID, 0, nil
	}
	return next.ProducerID, next.ProducerEpoch, nil
}

func outcome(commit bool) string {
	if commit {
		return "commit"
	}
	return "abort"
}

// Describe returns the state of transactional id id (DescribeTransactions), or
// ErrTransactionalIDNotFound.
func (c *Coordinator) Describe(id string) (Txn, error) {
	sh, err := c.shardOf(id)
	if err != nil {
		return Txn{}, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.mu.txns[id]
	if e == nil || e.ProducerEpoch < 0 {
		return Txn{}, fmt.Errorf("%w: %q", ErrTransactionalIDNotFound, id)
	}
	return e.Txn, nil
}

// List returns the state of every transactional id this broker coordinates, sorted by
// id (ListTransactions), and coord.ErrLoadInProgress when a partition is loading.
func (c *Coordinator) List() ([]Txn, error) {
	shards, err := c.rt.Shards()
	var out []Txn
	for _, sh := range shards {
		sh.mu.Lock()
		for _, e := range sh.mu.txns {
			if e.ProducerEpoch >= 0 {
				out = append(out, e.Txn)
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Txn) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}
