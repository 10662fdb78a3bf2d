package txn

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"

	"github.com/stratalog/strata/coord"
)

// entry is the coordinator's state of one transactional id: the state last written, and
// what is in flight.
type entry struct {
	Txn
	pending   bool          // a state change is being written (requests get ErrConcurrentTransactions)
	lastEpoch int16         // the epoch before the last bump (a retried InitProducerId); -1
	markers   bool          // the markers of a Prepare* state are being written
	ended     chan struct{} // closed once they are and Complete* is written (awaitEndLocked)
	// written are the partitions whose marker of the current Prepare* state is written.
	written map[TopicPartition]bool
}

// shard is the coordinator's state for one partition of __transaction_state: its
// transactional ids (a coord.Shard). Its timers (timeouts, expiration, marker retries)
// and marker writing run through part, so they stop with it.
type shard struct {
	c    *Coordinator
	part *coord.Partition

	mu struct {
		sync.Mutex // released while a state change is written (entry.pending guards it)
		txns       map[string]*entry
	}
}

func (c *Coordinator) newShard(p *coord.Partition) *shard {
	sh := &shard{c: c, part: p}
	sh.mu.txns = make(map[string]*entry)
	return sh
}

func (sh *shard) nowMs() int64 { return sh.part.Now().UnixMilli() }

// Replay applies one record of the partition (coord.Shard): the latest state of an id, or
// a tombstone (an expired id).
func (sh *shard) Replay(m coord.Meta, r coord.Record) error {
	if m.Control {
		return nil
	}
	id, err := decodeKey(r.Key)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r.Value == nil {
		delete(sh.mu.txns, id)
		return nil
	}
	t, err := decodeValue(id, r.Value)
	if err != nil {
		return err
	}
	sh.mu.txns[id] = &entry{Txn: t, lastEpoch: -1}
	return nil
}

// Loaded resumes the markers of the transactions left in PrepareCommit or PrepareAbort
// (a restart, or a new leader, mid-commit) and starts the timeout and expiration checks
// (coord.Shard).
func (sh *shard) Loaded() {
	sh.mu.Lock()
	for _, e := range sh.mu.txns {
		if e.State == PrepareCommit || e.State == PrepareAbort {
			sh.startMarkersLocked(e)
		}
	}
	sh.mu.Unlock()
	sh.part.AfterFunc(sh.c.opts.AbortInterval, sh.abortTimedOut)
	sh.part.AfterFunc(sh.c.opts.ExpirationInterval, sh.expire)
}

// Unloaded forgets the ids (coord.Shard).
func (sh *shard) Unloaded() {
	sh.mu.Lock()
	sh.mu.txns = make(map[string]*entry)
	sh.mu.Unlock()
}

// getOrCreate returns id's entry, creating it (Empty, a new producer id, epoch -1: not
// written until InitProducerID writes its first epoch) if needed.
func (sh *shard) getOrCreate(ctx context.Context, id string) (*entry, error) {
	sh.mu.Lock()
	e := sh.mu.txns[id]
	sh.mu.Unlock()
	if e != nil {
		return e, nil
	}
	pid, err := sh.c.opts.NewProducerID(ctx)
	if err != nil {
		return nil, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e = sh.mu.txns[id]; e == nil {
		e = &entry{Txn: Txn{ID: id, ProducerID: pid, PrevProducerID: -1, NextProducerID: -1, ProducerEpoch: -1, State: Empty, StartMs: -1, UpdateMs: sh.nowMs()}, lastEpoch: -1}
		sh.mu.txns[id] = e
	}
	return e, nil
}

// writeLocked writes next as e's state and applies it once committed. sh.mu is released
// during the write (e.pending is set meanwhile, so that no other change of the id
// starts). The caller holds sh.mu and has checked that e is not pending.
func (sh *shard) writeLocked(e *entry, next Txn) error {
	e.pending = true
	sh.mu.Unlock()
	err := sh.part.Write([]coord.Record{{Key: keyOf(next.ID), Value: valueOf(&next)}})
	sh.mu.Lock()
	e.pending = false
	if err == nil {
		e.Txn = next
	}
	return err
}

// abortLocked aborts e's open transaction on the coordinator's own initiative (its
// timeout passed, or a new producer of the id called InitProducerId): with bump, the
// epoch is bumped first, which fences the transaction's producer (its requests get
// ErrProducerFenced, its batches INVALID_PRODUCER_EPOCH once the markers carry the new
// epoch). The caller holds sh.mu and has checked that e is Ongoing and not pending.
func (sh *shard) abortLocked(e *entry, bump bool) error {
	next := e.Txn
	next.State, next.UpdateMs = PrepareAbort, sh.nowMs()
	if bump && e.ProducerEpoch < math.MaxInt16 {
		next.ProducerEpoch++
	}
	last := e.ProducerEpoch
	if err := sh.writeLocked(e, next); err != nil {
		return err
	}
	if next.ProducerEpoch != last {
		e.lastEpoch = last
	}
	sh.startMarkersLocked(e)
	return nil
}

// startMarkersLocked starts writing the markers of e's Prepare* state in the background.
// The caller holds sh.mu.
func (sh *shard) startMarkersLocked(e *entry) {
	if e.markers {
		return
	}
	e.markers, e.written, e.ended = true, make(map[TopicPartition]bool), make(chan struct{})
	id := e.ID
	sh.part.AfterFunc(0, func() { sh.completeTxn(id) })
}

// completeTxn writes the markers of id's Prepare* state to every partition of the
// transaction not written yet, then its Complete* state. A failure is retried after
// RetryBackoff; an unload stops it (the next leader resumes from the stored state).
func (sh *shard) completeTxn(id string) {
	sh.mu.Lock()
	e := sh.mu.txns[id]
	if e == nil || !e.markers || (e.State != PrepareCommit && e.State != PrepareAbort) {
		sh.mu.Unlock()
		return
	}
	t := e.Txn
	todo := slices.DeleteFunc(slices.Clone(t.Partitions), func(tp TopicPartition) bool { return e.written[tp] })
	sh.mu.Unlock()

	ctx, cancel := sh.context()
	defer cancel()
	m := Marker{ProducerID: t.ProducerID, ProducerEpoch: t.ProducerEpoch, Commit: t.State == PrepareCommit, CoordinatorEpoch: sh.part.Epoch()}
	for _, tp := range todo {
		err := sh.c.opts.Markers.WriteMarker(ctx, tp, m)
		if errors.Is(err, ErrUnknownPartition) {
			sh.c.logger.Info("transaction marker: partition gone, skipped", "transactional_id", id, "topic", tp.Topic, "partition", tp.Partition)
			err = nil
		}
		if err != nil {
			if sh.part.Err() == nil {
				sh.c.logger.Warn("transaction marker not written; retrying", "transactional_id", id, "topic", tp.Topic, "partition", tp.Partition, "err", err)
				sh.part.AfterFunc(sh.c.opts.RetryBackoff, func() { sh.completeTxn(id) })
			}
			return
		}
		sh.mu.Lock()
		e.written[tp] = true
		sh.mu.Unlock()
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.mu.txns[id] != e || e.State != t.State || e.ProducerEpoch != t.ProducerEpoch {
		return
	}
	next := e.Txn
	next.State, next.Partitions, next.UpdateMs = CompleteAbort, nil, sh.nowMs()
	if t.State == PrepareCommit {
		next.State = CompleteCommit
	}
	if t.NextProducerID >= 0 { // EndTxnV2 exhausted the epoch: the producer continues with a new id
		next.PrevProducerID, next.ProducerID, next.ProducerEpoch, next.NextProducerID = t.ProducerID, t.NextProducerID, 0, -1
	}
	if err := sh.writeLocked(e, next); err != nil {
		if sh.part.Err() == nil {
			sh.c.logger.Warn("transaction completion not written; retrying", "transactional_id", id, "err", err)
			sh.part.AfterFunc(sh.c.opts.RetryBackoff, func() { sh.completeTxn(id) })
		}
		return
	}
	e.markers, e.written = false, nil
	close(e.ended)
	e.ended = nil
}

// awaitEndLocked waits, if the markers of e's previous transaction are being written, until
// they are (and Complete* is written), for at most Options.EndWait, ctx or the shard's
// unload. It returns id's entry afterwards (nil if it is gone). The caller holds sh.mu,
// which is released while waiting.
func (sh *shard) awaitEndLocked(ctx context.Context, e *entry) *entry {
	if e == nil || e.ended == nil || sh.c.opts.EndWait < 0 {
		return e
	}
	ch, id := e.ended, e.ID
	timeout := make(chan struct{})
	timer := sh.c.opts.Clock.AfterFunc(sh.c.opts.EndWait, func() { close(timeout) })
	sh.mu.Unlock()
	select {
	case <-ch:
	case <-timeout:
	case <-ctx.Done():
	case <-sh.part.Done():
	}
	timer.Stop()
	sh.mu.Lock()
	return sh.mu.txns[id]
}

// context returns a context cancelled when the shard's handle stops (an unload).
func (sh *shard) context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-sh.part.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// abortTimedOut aborts, with a bumped epoch, every transaction open for longer than its
// timeout (transaction.abort.timed.out.transaction.cleanup.interval.ms), then sets its
// next run.
func (sh *shard) abortTimedOut() {
	defer sh.part.AfterFunc(sh.c.opts.AbortInterval, sh.abortTimedOut)
	now := sh.nowMs()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var due []*entry
	for _, e := range sh.mu.txns {
		if e.State == Ongoing && !e.pending && e.StartMs+int64(e.TimeoutMs) < now {
			due = append(due, e)
		}
	}
	for _, e := range due {
		if sh.mu.txns[e.ID] != e || e.State != Ongoing || e.pending {
			continue // changed while another was written
		}
		sh.c.logger.Info("aborting a transaction past its timeout", "transactional_id", e.ID, "producer_id", e.ProducerID, "timeout_ms", e.TimeoutMs)
		if err := sh.abortLocked(e, true); err != nil {
			sh.c.logger.Warn("timed-out transaction not aborted; next check retries", "transactional_id", e.ID, "err", err)
		}
	}
}

// expire forgets (with a tombstone) the transactional ids without a transaction and
// unused for transactional.id.expiration.ms, then sets its next run.
func (sh *shard) expire() {
	defer sh.part.AfterFunc(sh.c.opts.ExpirationInterval, sh.expire)
	cutoff := sh.nowMs() - sh.c.opts.IDExpiration.Milliseconds()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var due []*entry
	for _, e := range sh.mu.txns {
		if expirable(e, cutoff) {
			due = append(due, e)
		}
	}
	for _, e := range due {
		if sh.mu.txns[e.ID] != e || !expirable(e, cutoff) {
			continue
		}
		e.pending = true
		sh.mu.Unlock()
		err := sh.part.Write([]coord.Record{{Key: keyOf(e.ID), Value: nil}})
		sh.mu.Lock()
		e.pending = false
		if err != nil {
			sh.c.logger.Warn("expired transactional id not removed; next check retries", "transactional_id", e.ID, "err", err)
			continue
		}
		if sh.mu.txns[e.ID] == e {
			delete(sh.mu.txns, e.ID)
		}
		sh.c.logger.Info("transactional id expired", "transactional_id", e.ID)
	}
}

func expirable(e *entry, cutoff int64) bool {
	return !e.pending && (e.State == Empty || e.State == CompleteCommit || e.State == CompleteAbort) && e.UpdateMs <= cutoff
}
