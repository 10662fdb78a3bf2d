package partition

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/log"
)

// AppendAt appends batches fetched from the leader (a follower replicating): they keep
// the offsets and leader epochs the leader gave them, byte for byte. Each batch must be
// well formed (ErrCorrupt, ErrInvalidRecord: length, magic, CRC, counts); the first must
// start at or above the log end offset and each next one above the previous one's last
// offset (ErrUnexpectedAppendOffset; a gap is a compacted leader log); their leader epochs
// must not decrease, neither within the append nor below the latest epoch of the
// partition's leader-epoch cache (ErrInvalidRecord: the follower truncates to the leader's
// epoch boundary before fetching). Nothing is written on any of these errors.
//
// The client-facing rules of Append do not apply (size, keys, control and transactional
// batches, one idempotent batch per append, re-compression), nor does idempotence refuse
// anything: the producer state is updated from the batches instead, so that a follower
// that becomes the leader refuses a producer's duplicates. A batch whose epoch is newer
// than the cache's latest starts that epoch at its base offset, recorded in the
// leader-epoch checkpoint before the batches are appended. The leader refuses AppendAt
// (ErrNotFollower). AppendAt does not wait for durability (see DurableEnd).
func (p *Partition) AppendAt(batches []byte) (AppendResult, error) {
	p.amu.Lock()
	defer p.amu.Unlock()
	switch {
	case p.isClosed():
		return AppendResult{}, p.wrap(ErrClosed)
	case p.leader.Load():
		return AppendResult{}, p.wrap(ErrNotFollower)
	case len(batches) == 0:
		return AppendResult{}, p.wrap(fmt.Errorf("%w: no record batch", ErrInvalidRecord))
	}
	latest := int32(-1)
	if e, ok := p.epochs.latest(); ok {
		latest = e.epoch
	}
	next, epoch := p.st.EndOffset(), latest
	var starts []epochEntry // the epochs the batches start
	for i, rest := 0, batches; len(rest) > 0; i++ {
		sz, err := batch.Next(rest)
		if err != nil {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrCorrupt, err))
		}
		h, err := batch.Validate(rest[:sz])
		if err != nil {
			if errors.Is(err, batch.ErrCorrupt) {
				return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrCorrupt, err))
			}
			return AppendResult{}, p.wrap(fmt.Errorf("%w: %w", ErrInvalidRecord, err))
		}
		rest = rest[sz:]
		if h.BaseOffset < next {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: batch %d starts at %d, expected %d or above", ErrUnexpectedAppendOffset, i, h.BaseOffset, next))
		}
		if h.LeaderEpoch < epoch {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: batch %d at offset %d has leader epoch %d, below %d", ErrInvalidRecord, i, h.BaseOffset, h.LeaderEpoch, epoch))
		}
		if h.LeaderEpoch > epoch {
			starts = append(starts, epochEntry{epoch: h.LeaderEpoch, start: h.BaseOffset})
		}
		next, epoch = h.LastOffset()+1, h.LeaderEpoch
	}
	if err := p.repairLocked(); err != nil {
		return AppendResult{}, err
	}
	if err := p.epochs.record(starts...); err != nil {
		return AppendResult{}, p.wrap(err)
	}
	// The producer and transaction state move first: the aborted-transaction entries of
	// the abort markers go to the log with them, and a transaction bounds the last stable
	// offset before the high watermark can pass its first batch. A failed append rebuilds
	// the state from the log.
	var aborted []AbortedTxn
	for rest := batches; len(rest) > 0; {
		sz, _ := batch.Next(rest) // validated above
		h, _ := batch.ParseHeader(rest[:sz])
		es, err := p.applyLocked(&h, rest[:sz], nil)
		if err != nil {
			return AppendResult{}, errors.Join(p.wrap(err), p.rebuildProducersLocked())
		}
		aborted = append(aborted, es...)
		rest = rest[sz:]
	}
	info, err := p.st.AppendAtValidated(batches, aborted...)
	if err != nil {
		p.epochs.truncateFromEnd(p.st.EndOffset()) // the starts of batches not written
		return AppendResult{}, errors.Join(p.wrap(err), p.rebuildProducersLocked())
	}
	if info.Rolled {
		p.snapshotLocked(true)
	}
	if p.relaxed.Load() {
		p.advanceHW(info.LastOffset + 1)
	}
	return AppendResult{
		BaseOffset: info.BaseOffset, LastOffset: info.LastOffset,
		LogAppendTime: -1, LogStartOffset: p.st.StartOffset(),
	}, nil
}

// FollowLogStart moves a follower's log start offset up to the leader's (the
// LogStartOffset of a fetch answer: records the leader's retention or DeleteRecords
// removed), never past the follower's high watermark, as Kafka's follower does; the
// start is checkpointed before it returns and whole segments below it are deleted. An
// offset at or below the current start changes nothing; the leader refuses it
// (ErrNotFollower).
func (p *Partition) FollowLogStart(off int64) error {
	p.amu.Lock()
	defer p.amu.Unlock()
	switch {
	case p.isClosed():
		return p.wrap(ErrClosed)
	case p.leader.Load():
		return p.wrap(ErrNotFollower)
	}
	off = min(off, p.HighWatermark())
	if off <= p.st.StartOffset() {
		return nil
	}
	if err := p.st.SetStartOffset(off); err != nil {
		return p.wrap(err)
	}
	p.epochs.truncateFromStart(p.st.StartOffset())
	p.startMovedLocked()
	return nil
}

// Truncate drops every record at and above offset (a follower whose log diverged from
// the new leader's, KIP-101/279: offset is the end offset the leader gave for the
// follower's latest epoch). Batches are atomic: a batch holding offset goes whole, so the
// log end offset may end below offset. The leader-epoch cache drops the epochs starting
// at or past the new end and its checkpoint is written; the producer state is rebuilt from
// the log; the high watermark comes down to the new end if it was above. The cut is
// durable when Truncate returns. An offset outside [log start, log end] is
// ErrOffsetOutOfRange; the leader refuses Truncate (ErrNotFollower).
func (p *Partition) Truncate(offset int64) error {
	p.amu.Lock()
	defer p.amu.Unlock()
	switch {
	case p.isClosed():
		return p.wrap(ErrClosed)
	case p.leader.Load():
		return p.wrap(ErrNotFollower)
	}
	if err := p.repairLocked(); err != nil {
		return err
	}
	end := p.st.EndOffset()
	if err := p.st.Truncate(offset); err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return p.wrap(fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err))
		}
		return p.wrap(err)
	}
	newEnd := p.st.EndOffset()
	// Also without a cut: a leader that assigned its epoch at the log end and wrote
	// nothing in it leaves an entry the new leader's log contradicts (Kafka's truncateTo).
	p.epochs.truncateFromEnd(newEnd)
	err := p.epochs.record()
	if err != nil {
		err = p.wrap(err)
	}
	if newEnd < end {
		err = errors.Join(err, p.rebuildProducersLocked())
	}
	p.mu.Lock()
	p.mu.local = min(p.mu.local, newEnd)
	p.mu.hw = min(p.mu.hw, newEnd)
	p.mu.Unlock()
	return err
}

// DropCache drops the follower's durable records from the OS page cache
// (log.Log.DropCache); the replica's fetcher calls it once its appends are on disk.
func (p *Partition) DropCache() {
	if p.lg != nil {
		p.lg.DropCache()
	}
}
