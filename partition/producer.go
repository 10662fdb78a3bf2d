package partition

import (
	"fmt"
	"time"

	"github.com/stratalog/strata/internal/batch"
)

// producerBatches is how many recent batches per producer are remembered for
// deduplication, as in Kafka (max.in.flight.requests.per.connection <= 5).
const producerBatches = 5

// batchMeta is what the idempotence check remembers of one appended batch.
type batchMeta struct {
	firstSeq, lastSeq      int32
	baseOffset, lastOffset int64
	maxTimestamp           int64
}

// producerState is one producer id's state in one partition.
type producerState struct {
	epoch   int16
	batches []batchMeta // oldest first, at most producerBatches
	// txnFirst is the offset of the first batch of the producer's open transaction, -1
	// when none is open.
	txnFirst int64
	// coordEpoch is the coordinator epoch of the producer's last marker, -1 if none.
	coordEpoch int32
	// lastTS is the max timestamp of the producer's last batch or marker here (Kafka's
	// lastTimestamp), -1 if unknown: producer.id.expiration.ms counts from it.
	lastTS int64
}

// producers is the idempotence state of a partition, by producer id. It is guarded by
// the partition's amu.
type producers struct {
	m     map[int64]*producerState
	maxID int64 // largest producer id seen, -1 if none
}

func newProducers() producers {
	return producers{m: make(map[int64]*producerState), maxID: -1}
}

// nextSeq is the sequence number after s; sequences wrap from MaxInt32 to 0.
func nextSeq(s int32) int32 {
	if s == 1<<31-1 {
		return 0
	}
	return s + 1
}

// check decides what to do with an idempotent batch: it returns the metadata of the
// original if h is a retry of one of the producer's recent batches, nil if h is the next
// batch in sequence, or ErrOutOfOrderSequence / ErrInvalidProducerEpoch.
func (ps *producers) check(h *batch.Header) (*batchMeta, error) {
	st := ps.m[h.ProducerID]
	if st == nil {
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d unknown to this partition, sequence %d (want 0)", ErrOutOfOrderSequence, h.ProducerID, h.BaseSequence)
		}
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, st.epoch)
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d (want 0)", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	last := h.LastSequence()
	for i := range st.batches {
		if b := &st.batches[i]; b.firstSeq == h.BaseSequence && b.lastSeq == last {
			m := *b
			return &m, nil
		}
	}
	want := int32(0)
	if n := len(st.batches); n > 0 {
		want = nextSeq(st.batches[n-1].lastSeq)
	}
	if h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d epoch %d sequence %d, want %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, want)
	}
	return nil, nil
}

// known returns the state of h's producer, creating it (at h's epoch) if it is not known.
func (ps *producers) known(h *batch.Header) *producerState {
	st := ps.m[h.ProducerID]
	if st == nil {
		st = &producerState{epoch: h.ProducerEpoch, txnFirst: -1, coordEpoch: -1, lastTS: -1}
		ps.m[h.ProducerID] = st
	}
	ps.maxID = max(ps.maxID, h.ProducerID)
	st.lastTS = max(st.lastTS, h.MaxTimestamp)
	return st
}

// record remembers an appended idempotent batch.
func (ps *producers) record(h *batch.Header, base, last, maxTS int64) {
	st := ps.known(h)
	if h.ProducerEpoch != st.epoch {
		st.epoch = h.ProducerEpoch
		st.batches = st.batches[:0]
	}
	if len(st.batches) == producerBatches {
		copy(st.batches, st.batches[1:])
		st.batches = st.batches[:producerBatches-1]
	}
	st.batches = append(st.batches, batchMeta{
		firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
		baseOffset: base, lastOffset: last, maxTimestamp: maxTS,
	})
	st.lastTS = maxTS
	ps.maxID = max(ps.maxID, h.ProducerID)
}

// producerLast returns the last offset of producer pid's last batch in this partition and
// whether the producer is active: known, and (with expiration > 0) its last batch's max
// timestamp within expiration of now (Kafka's producer.id.expiration.ms). Compaction
// keeps that batch, emptied of its records if need be, for as long as it is active.
func (p *Partition) producerLast(pid int64, expiration time.Duration) (int64, bool) {
	p.amu.Lock()
	defer p.amu.Unlock()
	st := p.amu.producers.m[pid]
	if st == nil || len(st.batches) == 0 {
		return -1, false
	}
	last := st.batches[len(st.batches)-1]
	active := expiration <= 0 || last.maxTimestamp >= p.now().Add(-expiration).UnixMilli()
	return last.lastOffset, active
}

// expireProducers forgets the producers without an open transaction here whose last
// batch or marker is older than expiration (producer.id.expiration.ms), as Kafka's
// removeExpiredProducers: a later batch of one is that of an unknown producer. It
// returns how many it forgot.
func (p *Partition) expireProducers(expiration time.Duration) int {
	p.amu.Lock()
	defer p.amu.Unlock()
	limit := p.now().Add(-expiration).UnixMilli()
	n := 0
	for pid, st := range p.amu.producers.m {
		if st.txnFirst < 0 && st.lastTS < limit {
			delete(p.amu.producers.m, pid)
			n++
		}
	}
	return n
}

// MaxProducerID is the largest producer id found in the partition's log or appended
// since it opened, -1 if none; the broker's producer id allocator starts above it.
func (p *Partition) MaxProducerID() int64 {
	p.amu.Lock()
	defer p.amu.Unlock()
	return p.amu.producers.maxID
}
