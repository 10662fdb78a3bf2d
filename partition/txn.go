package partition

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/segment"
)

// AbortedTxn is an aborted transaction a read_committed fetch reports (Fetch's
// AbortedTransactions): the consumer drops producer ProducerID's batches from FirstOffset
// up to its abort marker.
type AbortedTxn = segment.AbortedTxn

// Marker is a transaction marker, written by the transaction coordinator (never by a
// client) to end producer ProducerID's open transaction in this partition.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool  // commit, else abort
	CoordinatorEpoch int32 // the coordinator's epoch (of its __transaction_state partition)
}

// completedTxn is a transaction whose marker is appended but not yet below the high
// watermark: until then it still bounds the last stable offset (Kafka's unreplicated
// transactions), since a crash or truncation could take the marker back.
type completedTxn struct {
	pid, first, marker int64
}

// AppendMarker appends the marker m, ending its producer's open transaction here: a commit
// makes the transaction's records visible to read_committed consumers, an abort adds it
// to the aborted-transaction index (.txnindex) so that they drop them. A marker for a
// producer without an open transaction is appended too (the coordinator writes markers
// to every partition of the transaction, written to or not) and changes only the
// producer's epoch. The marker's producer epoch may not be older than the producer's
// (ErrInvalidProducerEpoch), nor its coordinator epoch older than the last marker's
// (ErrTransactionCoordinatorFenced). It does not wait for durability (WaitDurable).
func (p *Partition) AppendMarker(m Marker) (AppendResult, error) {
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.isClosed() {
		return AppendResult{}, p.wrap(ErrClosed)
	}
	if !p.leader.Load() {
		return AppendResult{}, p.wrap(ErrNotLeader)
	}
	if m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return AppendResult{}, p.wrap(fmt.Errorf("%w: marker for producer %d epoch %d", ErrInvalidRecord, m.ProducerID, m.ProducerEpoch))
	}
	if err := p.repairLocked(); err != nil {
		return AppendResult{}, err
	}
	if st := p.amu.producers.m[m.ProducerID]; st != nil {
		if m.ProducerEpoch < st.epoch {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: marker for producer %d epoch %d, current %d", ErrInvalidProducerEpoch, m.ProducerID, m.ProducerEpoch, st.epoch))
		}
		if m.CoordinatorEpoch < st.coordEpoch {
			return AppendResult{}, p.wrap(fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, last %d", ErrTransactionCoordinatorFenced, m.ProducerID, m.CoordinatorEpoch, st.coordEpoch))
		}
	}
	ts := p.now().UnixMilli()
	b := records.AppendMarker(nil, m.ProducerID, m.ProducerEpoch, records.Marker{Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}, ts)
	h, err := batch.ParseHeader(b)
	if err != nil {
		panic(err) // AppendMarker builds a valid batch
	}
	epoch := p.epoch.Load()
	off := p.st.EndOffset()
	h.BaseOffset = off
	if err := p.epochs.record(epochEntry{epoch: epoch, start: off}); err != nil {
		return AppendResult{}, p.wrap(err)
	}
	// The state moves first (the marker's transaction stays below the LSO until the HW
	// passes the marker, which cannot happen before it is appended); a failed append
	// rebuilds it from the log.
	aborted := p.applyMarkerLocked(&h, records.Marker{Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}, nil)
	info, err := p.st.AppendValidated(b, epoch, aborted...)
	if err != nil {
		return AppendResult{}, errors.Join(p.wrap(err), p.rebuildProducersLocked())
	}
	if info.Rolled {
		p.snapshotLocked(true)
	}
	if p.relaxed.Load() {
		p.advanceHW(info.LastOffset + 1)
	}
	return AppendResult{BaseOffset: info.BaseOffset, LastOffset: info.LastOffset, LogAppendTime: -1, LogStartOffset: p.st.StartOffset()}, nil
}

// TxnGuard is a verification guard (Kafka's VerificationGuard, KIP-890 part 1): the
// partition's token that producer ProducerID's transactional produce is being verified
// with the coordinator. The start of the producer's transaction here drops it, and so
// does a marker that could end the transaction being verified: one of a newer epoch, or
// of the same epoch under transactions v1 (under v2 the marker of the previous
// transaction carries the new transaction's epoch, since EndTxn bumped it). So a produce
// verified before its transaction ended cannot open a new one.
type TxnGuard struct {
	epoch int16
	v2    bool
}

// noGuard is StartTxnVerification's answer for a producer whose transaction is open here:
// nothing to verify, but should it end before the append, the batch is refused.
var noGuard = &TxnGuard{epoch: -1}

// StartTxnVerification starts the verification of a transactional produce of producer
// pid at epoch (v2: a Produce v12 or newer, whose producer bumps its epoch at every
// transaction's end): it returns the guard to give AppendVerified, and whether the
// coordinator must be asked (false when the producer's transaction of that epoch is
// already open here).
func (p *Partition) StartTxnVerification(pid int64, epoch int16, v2 bool) (*TxnGuard, bool) {
	p.amu.Lock()
	defer p.amu.Unlock()
	if st := p.amu.producers.m[pid]; st != nil && st.txnFirst >= 0 && st.epoch == epoch {
		return noGuard, false
	}
	g := &TxnGuard{epoch: epoch, v2: v2}
	if p.amu.guards == nil {
		p.amu.guards = make(map[int64]*TxnGuard)
	}
	p.amu.guards[pid] = g
	return g, true
}

// applyLocked updates the producer and transaction state with a batch about to be
// appended, or read back from the log (b is the batch's bytes, needed for a control
// batch's marker), and returns the aborted-transaction entry of an abort marker. stored,
// when not nil, holds the entries of the .txnindex files by marker offset (Open): an abort
// marker whose transaction started below the log start (the replay did not see its
// first batch) keeps its stored entry. A control batch that does not decode is an error.
// The caller holds amu.
func (p *Partition) applyLocked(h *batch.Header, b []byte, stored map[int64]AbortedTxn) ([]AbortedTxn, error) {
	ps := &p.amu.producers
	if h.ProducerID < 0 {
		return nil, nil
	}
	ps.maxID = max(ps.maxID, h.ProducerID)
	if h.IsControl() && h.RecordCount == 0 {
		return nil, nil // a marker compaction emptied (Kafka's too): no marker any more
	}
	if h.IsControl() {
		m, ok, err := records.ParseMarker(b)
		if err != nil {
			return nil, fmt.Errorf("%w: control batch at offset %d: %w", ErrCorrupt, h.BaseOffset, err)
		}
		if !ok {
			return nil, nil
		}
		return p.applyMarkerLocked(h, m, stored), nil
	}
	if st := ps.m[h.ProducerID]; st != nil && h.ProducerEpoch < st.epoch {
		return nil, nil // cannot happen in a log this broker wrote; keep the newest epoch
	}
	if h.BaseSequence >= 0 {
		ps.record(h, h.BaseOffset, h.LastOffset(), h.MaxTimestamp)
	}
	// A transactional batch compaction emptied (header-only, kept as its producer's last)
	// belongs to a decided transaction (compaction works below the LSO) whose marker may
	// be gone since: it opens none. A coordinator's transactional batch has no sequence.
	if h.IsTransactional() && h.RecordCount > 0 {
		ps.known(h)
		p.beginTxnLocked(h.ProducerID, h.BaseOffset)
	}
	return nil, nil
}

// beginTxnLocked records that producer pid's transaction has a batch at off: the first one
// opens the transaction, which bounds the last stable offset from then on. The caller
// holds amu; the producer is known (record).
func (p *Partition) beginTxnLocked(pid, off int64) {
	st := p.amu.producers.m[pid]
	if st.txnFirst >= 0 {
		return
	}
	st.txnFirst = off
	p.mu.Lock()
	p.mu.open[pid] = off
	p.mu.Unlock()
}

// applyMarkerLocked applies marker m (batch header h, its offset set) of h's producer: the
// producer's epoch and coordinator epoch move to the marker's, its open transaction (if
// any) completes. It returns the aborted-transaction entry of an abort that ended a
// transaction (or the stored one; see applyLocked). The caller holds amu.
func (p *Partition) applyMarkerLocked(h *batch.Header, m records.Marker, stored map[int64]AbortedTxn) []AbortedTxn {
	ps := &p.amu.producers
	pid, off := h.ProducerID, h.BaseOffset
	ps.maxID = max(ps.maxID, pid)
	if g := p.amu.guards[pid]; g != nil && (h.ProducerEpoch > g.epoch || h.ProducerEpoch == g.epoch && !g.v2) {
		delete(p.amu.guards, pid)
	}
	st := ps.m[pid]
	if st == nil {
		st = &producerState{txnFirst: -1, coordEpoch: -1, epoch: h.ProducerEpoch, lastTS: -1}
		ps.m[pid] = st
	}
	st.lastTS = max(st.lastTS, h.MaxTimestamp)
	if h.ProducerEpoch != st.epoch {
		st.epoch = h.ProducerEpoch
		st.batches = st.batches[:0]
	}
	st.coordEpoch = max(st.coordEpoch, m.CoordinatorEpoch)
	first := st.txnFirst
	st.txnFirst = -1
	var out []AbortedTxn
	p.mu.Lock()
	defer p.mu.Unlock()
	if first < 0 {
		if e, ok := stored[off]; ok && !m.Commit && e.ProducerID == pid {
			out = append(out, e)
		}
		return out
	}
	delete(p.mu.open, pid)
	if !m.Commit {
		// Kafka's lastStableOffset(completedTxn): the first offset of the earliest other
		// open transaction, else the offset after the marker.
		lso := off + 1
		for _, f := range p.mu.open {
			lso = min(lso, f)
		}
		out = append(out, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: off, LastStableOffset: lso})
	}
	if off >= p.mu.hw {
		p.mu.completing = append(p.mu.completing, completedTxn{pid: pid, first: first, marker: off})
	}
	return out
}

// stableLocked is the last stable offset: the high watermark, or the first offset of the
// earliest transaction still open, or completed by a marker not yet below the high
// watermark, if lower (Kafka's firstUnstableOffset). The caller holds mu.
func (p *Partition) stableLocked() int64 {
	lso := p.mu.hw
	for _, f := range p.mu.open {
		lso = min(lso, f)
	}
	for _, c := range p.mu.completing {
		lso = min(lso, c.first)
	}
	return lso
}

// pruneCompletedLocked drops the completed transactions whose marker the high watermark
// has passed. The caller holds mu.
func (p *Partition) pruneCompletedLocked() {
	k := 0
	for _, c := range p.mu.completing {
		if c.marker >= p.mu.hw {
			p.mu.completing[k] = c
			k++
		}
	}
	clear(p.mu.completing[k:])
	p.mu.completing = p.mu.completing[:k]
}

// OpenTxn describes a transaction open in a partition (DescribeProducers).
type OpenTxn struct {
	ProducerID  int64
	FirstOffset int64
}

// OpenTxns returns the transactions open in the partition (their first batch appended,
// no marker yet), in no particular order.
func (p *Partition) OpenTxns() []OpenTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]OpenTxn, 0, len(p.mu.open))
	for pid, f := range p.mu.open {
		out = append(out, OpenTxn{ProducerID: pid, FirstOffset: f})
	}
	return out
}

// abortedFor returns the aborted transactions a read_committed read of [from, upper)
// reports.
func (p *Partition) abortedFor(from, upper int64) ([]AbortedTxn, error) {
	if upper <= from {
		return nil, nil
	}
	return p.st.AbortedTxns(from, upper)
}

// ProducerInfo is one producer's state in the partition (DescribeProducers).
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32 // of its last batch here; -1 if none
	LastTimestamp         int64 // max timestamp of its last batch; -1 if none
	CoordinatorEpoch      int32 // of its last marker; -1 if none
	CurrentTxnStartOffset int64 // first offset of its open transaction; -1 if none
}

// Producers returns the state of every producer the partition knows (idempotent and
// transactional), in no particular order.
func (p *Partition) Producers() []ProducerInfo {
	p.amu.Lock()
	defer p.amu.Unlock()
	out := make([]ProducerInfo, 0, len(p.amu.producers.m))
	for pid, st := range p.amu.producers.m {
		pi := ProducerInfo{ProducerID: pid, ProducerEpoch: st.epoch, LastSequence: -1, LastTimestamp: -1,
			CoordinatorEpoch: st.coordEpoch, CurrentTxnStartOffset: st.txnFirst}
		if n := len(st.batches); n > 0 {
			pi.LastSequence, pi.LastTimestamp = st.batches[n-1].lastSeq, st.batches[n-1].maxTimestamp
		}
		out = append(out, pi)
	}
	return out
}
