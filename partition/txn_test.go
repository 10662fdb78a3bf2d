package partition_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/partition"
)

// txnBatch is a transactional batch of n records from producer pid at epoch and seq.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	return testutil.Batch(testutil.BatchOptions{Records: n, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Attributes: batch.TransactionalBit})
}

func mustMarker(t *testing.T, p *partition.Partition, pid int64, epoch int16, commit bool) partition.AppendResult {
	t.Helper()
	res, err := p.AppendMarker(partition.Marker{ProducerID: pid, ProducerEpoch: epoch, Commit: commit})
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	return res
}

func txnOpts() partition.Options { return partition.Options{Transactional: true} }

// readOffsets returns the base offsets of the batches a read returns.
func readOffsets(t *testing.T, r partition.ReadResult) []int64 {
	t.Helper()
	var out []int64
	for b := r.Records; len(b) > 0; {
		sz, err := batch.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := batch.ParseHeader(b[:sz])
		out = append(out, h.BaseOffset)
		b = b[sz:]
	}
	return out
}

// TestPartitionTxnLSO: an open transaction holds the last stable offset at its first
// offset while the high watermark moves on; read_committed reads stop there; a marker
// releases it only once the high watermark passes the marker; an abort is reported to
// read_committed readers of the transaction's offsets.
func TestPartitionTxnLSO(t *testing.T) {
	st := partition.NewMemStore(false)
	p := openMem(t, st, txnOpts())
	a := mustAppend(t, p, txnBatch(1, 0, 0, 2)) // offsets 0-1, producer 1's transaction
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{}))
	st.Flush()
	if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != 3 || lso != a.BaseOffset {
		t.Fatalf("open transaction: HW %d LSO %d", hw, lso)
	}
	if p.ReadEnd(partition.ReadCommitted) != 0 {
		t.Fatalf("ReadEnd(committed) %d", p.ReadEnd(partition.ReadCommitted))
	}
	if r, err := p.Read(0, 1<<20, partition.ReadCommitted); err != nil || len(r.Records) != 0 || r.LastStableOffset != 0 {
		t.Fatalf("read_committed past the LSO: %+v %v", r, err)
	}
	if r, _ := p.Read(0, 1<<20, partition.ReadHighWatermark); !slices.Equal(readOffsets(t, r), []int64{0, 2}) {
		t.Fatalf("read_uncommitted: %v", readOffsets(t, r))
	}
	if got := p.OpenTxns(); len(got) != 1 || got[0] != (partition.OpenTxn{ProducerID: 1, FirstOffset: 0}) {
		t.Fatalf("open txns %+v", got)
	}
	wake := make(chan struct{}, 1)
	stop := p.NotifyStable(0, wake)
	defer stop()
	m := mustMarker(t, p, 1, 0, true) // offset 3
	select {
	case <-wake:
		t.Fatal("LSO waiter woken before the marker is below the HW")
	default:
	}
	if lso := p.LastStableOffset(); lso != 0 {
		t.Fatalf("LSO %d before the marker is durable", lso)
	}
	st.Flush()
	<-wake
	if lso := p.LastStableOffset(); lso != m.LastOffset+1 || len(p.OpenTxns()) != 0 {
		t.Fatalf("LSO %d after commit, open %v", lso, p.OpenTxns())
	}
	r, err := p.Read(0, 1<<20, partition.ReadCommitted)
	if err != nil || !slices.Equal(readOffsets(t, r), []int64{0, 2, 3}) || len(r.AbortedTxns) != 0 {
		t.Fatalf("read_committed after commit: %v %+v %v", readOffsets(t, r), r.AbortedTxns, err)
	}

	// Producer 2 aborts while producer 3's transaction is open: the entry's LSO is 3's
	// first offset.
	b := mustAppend(t, p, txnBatch(2, 0, 0, 1)) // 4
	c := mustAppend(t, p, txnBatch(3, 0, 0, 1)) // 5
	ab := mustMarker(t, p, 2, 0, false)         // 6
	st.Flush()
	if lso := p.LastStableOffset(); lso != c.BaseOffset {
		t.Fatalf("LSO %d with producer 3 open", lso)
	}
	r, err = p.Read(b.BaseOffset, 1<<20, partition.ReadCommitted)
	if err != nil || !slices.Equal(readOffsets(t, r), []int64{4}) {
		t.Fatalf("read_committed: %v %v", readOffsets(t, r), err)
	}
	want := partition.AbortedTxn{ProducerID: 2, FirstOffset: b.BaseOffset, LastOffset: ab.BaseOffset, LastStableOffset: c.BaseOffset}
	if !slices.Equal(r.AbortedTxns, []partition.AbortedTxn{want}) {
		t.Fatalf("aborted %+v, want %+v", r.AbortedTxns, want)
	}
	mustMarker(t, p, 3, 0, true) // 7
	st.Flush()
	r, _ = p.Read(b.BaseOffset, 1<<20, partition.ReadCommitted)
	if !slices.Equal(readOffsets(t, r), []int64{4, 5, 6, 7}) || !slices.Equal(r.AbortedTxns, []partition.AbortedTxn{want}) {
		t.Fatalf("read_committed all: %v %+v", readOffsets(t, r), r.AbortedTxns)
	}
	// Past the aborted transaction, nothing to report; read_uncommitted never reports.
	if r, _ := p.Read(ab.BaseOffset+1, 1<<20, partition.ReadCommitted); len(r.AbortedTxns) != 0 {
		t.Fatalf("aborted after it: %+v", r.AbortedTxns)
	}
	if r, _ := p.Read(b.BaseOffset, 1<<20, partition.ReadHighWatermark); len(r.AbortedTxns) != 0 {
		t.Fatalf("read_uncommitted aborted: %+v", r.AbortedTxns)
	}
}

// TestPartitionTxnErrors: the rules of Kafka's producer state for transactions.
func TestPartitionTxnErrors(t *testing.T) {
	t.Run("refused without the option", func(t *testing.T) {
		p := openMem(t, partition.NewMemStore(true), partition.Options{})
		if _, err := p.Append(txnBatch(1, 0, 0, 1)); !errors.Is(err, partition.ErrInvalidRecord) {
			t.Fatalf("transactional append: %v", err)
		}
	})
	p := openMem(t, partition.NewMemStore(true), txnOpts())
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{Attributes: batch.TransactionalBit})); !errors.Is(err, partition.ErrInvalidRecord) {
		t.Fatalf("transactional without producer: %v", err)
	}
	if _, err := p.Append(records.AppendMarker(nil, 1, 0, records.Marker{Commit: true}, 0)); !errors.Is(err, partition.ErrInvalidRecord) {
		t.Fatalf("marker from a client: %v", err)
	}
	mustAppend(t, p, txnBatch(1, 0, 0, 1))
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 1, BaseSequence: 1})); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("idempotent batch during the transaction: %v", err)
	}
	// A retry of the transactional batch is a duplicate, the next one continues.
	if dup := mustAppend(t, p, txnBatch(1, 0, 0, 1)); !dup.Duplicate {
		t.Fatalf("retry: %+v", dup)
	}
	mustAppend(t, p, txnBatch(1, 0, 1, 1))
	// The coordinator bumps the epoch with its abort (KIP-890): the old epoch is fenced.
	if _, err := p.AppendMarker(partition.Marker{ProducerID: 1, ProducerEpoch: 1, CoordinatorEpoch: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(txnBatch(1, 0, 2, 1)); !errors.Is(err, partition.ErrInvalidProducerEpoch) {
		t.Fatalf("zombie batch: %v", err)
	}
	if _, err := p.AppendMarker(partition.Marker{ProducerID: 1, ProducerEpoch: 0, CoordinatorEpoch: 5}); !errors.Is(err, partition.ErrInvalidProducerEpoch) {
		t.Fatalf("marker of an older epoch: %v", err)
	}
	if _, err := p.AppendMarker(partition.Marker{ProducerID: 1, ProducerEpoch: 1, CoordinatorEpoch: 4}); !errors.Is(err, partition.ErrTransactionCoordinatorFenced) {
		t.Fatalf("marker of an older coordinator: %v", err)
	}
	if _, err := p.Append(txnBatch(1, 1, 5, 1)); !errors.Is(err, partition.ErrOutOfOrderSequence) {
		t.Fatalf("new epoch not at sequence 0: %v", err)
	}
	mustAppend(t, p, txnBatch(1, 1, 0, 1))
	if got := p.OpenTxns(); len(got) != 1 {
		t.Fatalf("open %+v", got)
	}
	// A marker for a producer without a transaction here is appended, and changes
	// nothing but the epoch.
	end := p.EndOffset()
	mustMarker(t, p, 9, 0, false)
	if p.EndOffset() != end+1 || len(p.OpenTxns()) != 1 {
		t.Fatalf("end %d, open %+v", p.EndOffset(), p.OpenTxns())
	}
	if r, _ := p.Read(0, 1<<20, partition.ReadCommitted); len(r.AbortedTxns) != 1 {
		t.Fatalf("aborted %+v", r.AbortedTxns)
	}
}

// TestPartitionTxnReopen: the transaction state is rebuilt from the log: an open
// transaction still holds the LSO after a restart, and its marker then releases it; the
// aborted-transaction index is rebuilt when it was lost.
func TestPartitionTxnReopen(t *testing.T) {
	st := partition.NewMemStore(true)
	p := openMem(t, st, txnOpts())
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{}))
	a := mustAppend(t, p, txnBatch(1, 0, 0, 1))
	b := mustAppend(t, p, txnBatch(2, 0, 0, 1))
	ab := mustMarker(t, p, 2, 0, false)
	p.Close()

	st2 := st.Reopen()
	st2.ReconcileAbortedTxns(0, nil) // the index lost
	p2 := openMem(t, st2, txnOpts())
	if lso := p2.LastStableOffset(); lso != a.BaseOffset {
		t.Fatalf("LSO after reopen %d, want %d", lso, a.BaseOffset)
	}
	want := partition.AbortedTxn{ProducerID: 2, FirstOffset: b.BaseOffset, LastOffset: ab.BaseOffset, LastStableOffset: a.BaseOffset}
	if got, _ := st2.AbortedTxns(0, 100); !slices.Equal(got, []partition.AbortedTxn{want}) {
		t.Fatalf("index rebuilt: %+v, want %+v", got, want)
	}
	if _, err := p2.Append(txnBatch(1, 0, 0, 1)); err != nil {
		t.Fatal(err) // a duplicate, known after the restart
	}
	if _, err := p2.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 1, BaseSequence: 1})); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("after reopen: %v", err)
	}
	mustMarker(t, p2, 1, 0, true)
	if lso, end := p2.LastStableOffset(), p2.EndOffset(); lso != end {
		t.Fatalf("LSO %d, end %d", lso, end)
	}
}

// TestPartitionTxnFollower: a follower's AppendAt of the leader's batches (markers
// included) builds the same LSO and aborted-transaction index; a truncation below a
// marker reopens its transaction.
func TestPartitionTxnFollower(t *testing.T) {
	lst := partition.NewMemStore(true)
	leader := openMem(t, lst, txnOpts())
	mustAppend(t, leader, txnBatch(1, 0, 0, 2))
	mustAppend(t, leader, txnBatch(2, 0, 0, 1))
	ab := mustMarker(t, leader, 1, 0, false)
	mustAppend(t, leader, testutil.Batch(testutil.BatchOptions{}))
	r, err := leader.Read(0, 1<<20, partition.ReadLogEnd)
	if err != nil {
		t.Fatal(err)
	}
	fst := partition.NewMemStore(true)
	f := openMem(t, fst, partition.Options{})
	if err := f.MakeFollower(1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AppendAt(r.Records); err != nil {
		t.Fatal(err)
	}
	if lso, want := f.LastStableOffset(), leader.LastStableOffset(); lso != want || lso != 2 { // producer 2 still open
		t.Fatalf("follower LSO %d, leader %d", lso, want)
	}
	lg, _ := lst.AbortedTxns(0, 100)
	fg, _ := fst.AbortedTxns(0, 100)
	if len(lg) != 1 || !slices.Equal(lg, fg) {
		t.Fatalf("leader index %+v, follower %+v", lg, fg)
	}
	if err := f.Truncate(ab.BaseOffset); err != nil {
		t.Fatal(err)
	}
	if lso := f.LastStableOffset(); lso != 0 {
		t.Fatalf("LSO after truncating the marker: %d", lso)
	}
	if fg, _ := fst.AbortedTxns(0, 100); len(fg) != 0 {
		t.Fatalf("index after truncation %+v", fg)
	}
}

// TestPartitionTxnFromCoordinator: a coordinator's transactional batch (no sequence: the
// group coordinator's transactional offset commits) opens a transaction, is refused from a
// client and from an older epoch, and its transaction survives a reopen.
func TestPartitionTxnFromCoordinator(t *testing.T) {
	st := partition.NewMemStore(true)
	p := openMem(t, st, partition.Options{})
	b := testutil.Batch(testutil.BatchOptions{ProducerID: 4, ProducerEpoch: 2, BaseSequence: -1, Attributes: batch.TransactionalBit})
	if _, err := p.Append(b); !errors.Is(err, partition.ErrInvalidRecord) {
		t.Fatalf("from a client: %v", err)
	}
	res, err := p.AppendFromCoordinator(b)
	if err != nil {
		t.Fatal(err)
	}
	if lso := p.LastStableOffset(); lso != res.BaseOffset {
		t.Fatalf("LSO %d", lso)
	}
	old := testutil.Batch(testutil.BatchOptions{ProducerID: 4, ProducerEpoch: 1, BaseSequence: -1, Attributes: batch.TransactionalBit})
	if _, err := p.AppendFromCoordinator(old); !errors.Is(err, partition.ErrInvalidProducerEpoch) {
		t.Fatalf("older epoch: %v", err)
	}
	if _, err := p.AppendFromCoordinator(append(append([]byte(nil), b...), b...)); !errors.Is(err, partition.ErrInvalidRecord) {
		t.Fatalf("two transactional batches: %v", err)
	}
	p.Close()
	p2 := openMem(t, st.Reopen(), partition.Options{})
	if got := p2.OpenTxns(); len(got) != 1 || got[0].ProducerID != 4 {
		t.Fatalf("after reopen: %+v", got)
	}
	mustMarker(t, p2, 4, 2, true)
	if lso, end := p2.LastStableOffset(), p2.EndOffset(); lso != end {
		t.Fatalf("LSO %d end %d", lso, end)
	}
}

// TestPartitionProducers: DescribeProducers' view of the producer state.
func TestPartitionProducers(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), txnOpts())
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: 1, Timestamp: 50}))
	a := mustAppend(t, p, txnBatch(2, 0, 0, 2))
	mustMarker(t, p, 3, 1, false)
	got := p.Producers()
	slices.SortFunc(got, func(a, b partition.ProducerInfo) int { return int(a.ProducerID - b.ProducerID) })
	want := []partition.ProducerInfo{
		{ProducerID: 1, LastSequence: 2, LastTimestamp: 50, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1},
		{ProducerID: 2, LastSequence: 1, LastTimestamp: 0, CoordinatorEpoch: -1, CurrentTxnStartOffset: a.BaseOffset},
		{ProducerID: 3, ProducerEpoch: 1, LastSequence: -1, LastTimestamp: -1, CoordinatorEpoch: 0, CurrentTxnStartOffset: -1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("producers\n got %+v\nwant %+v", got, want)
	}
}

// TestPartitionTxnVerificationGuard: KIP-890 part 1's verification guard. A transactional
// batch opening a transaction needs the producer's current guard; a marker written
// between the verification and the append (the transaction ended) drops it, so the late
// batch cannot open a hanging transaction; once the transaction is open, no
// verification is needed, but the batch is refused if it ended meanwhile.
func TestPartitionTxnVerificationGuard(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), txnOpts())
	g, need := p.StartTxnVerification(1, 0, false)
	if !need {
		t.Fatal("no transaction open: verification needed")
	}
	mustMarker(t, p, 1, 0, false) // the coordinator ended the transaction meanwhile
	if _, err := p.AppendVerified(txnBatch(1, 0, 0, 1), g); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("append after a marker: %v, want ErrInvalidTxnState", err)
	}
	g1, _ := p.StartTxnVerification(1, 0, false)
	g2, _ := p.StartTxnVerification(1, 0, false)
	if _, err := p.AppendVerified(txnBatch(1, 0, 0, 1), g1); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("append with a replaced guard: %v, want ErrInvalidTxnState", err)
	}
	if _, err := p.AppendVerified(txnBatch(1, 0, 0, 1), g2); err != nil {
		t.Fatalf("verified append: %v", err)
	}
	g3, need := p.StartTxnVerification(1, 0, false)
	if need {
		t.Fatal("transaction open here: no verification needed")
	}
	if _, err := p.AppendVerified(txnBatch(1, 0, 1, 1), g3); err != nil {
		t.Fatalf("append to the open transaction: %v", err)
	}
	g4, _ := p.StartTxnVerification(1, 0, false)
	mustMarker(t, p, 1, 0, true)
	if _, err := p.AppendVerified(txnBatch(1, 0, 2, 1), g4); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("append after the transaction ended: %v, want ErrInvalidTxnState", err)
	}
	if _, err := p.Append(txnBatch(1, 0, 2, 1)); err != nil {
		t.Fatalf("unverified append (verification off): %v", err)
	}
}

// TestPartitionTxnVerificationGuardV2: under transactions v2 the marker of the previous
// transaction carries the epoch EndTxn bumped, which the next transaction's batches use:
// it does not drop their guard (v1's would), and a batch of the new epoch is not taken
// into the previous transaction while its marker has not come.
func TestPartitionTxnVerificationGuardV2(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), txnOpts())
	g, _ := p.StartTxnVerification(1, 0, true)
	if _, err := p.AppendVerified(txnBatch(1, 0, 0, 1), g); err != nil {
		t.Fatal(err)
	}
	g, need := p.StartTxnVerification(1, 1, true) // the next transaction, epoch bumped by EndTxn
	if !need {
		t.Fatal("a batch of the next epoch while the previous transaction is open: verification needed")
	}
	if _, err := p.AppendVerified(txnBatch(1, 1, 0, 1), g); !errors.Is(err, partition.ErrInvalidTxnState) {
		t.Fatalf("batch of the next epoch before the previous marker: %v, want ErrInvalidTxnState", err)
	}
	g, _ = p.StartTxnVerification(1, 1, true)
	mustMarker(t, p, 1, 1, true) // the previous transaction's marker, at the bumped epoch
	if _, err := p.AppendVerified(txnBatch(1, 1, 0, 1), g); err != nil {
		t.Fatalf("v2 guard after the previous transaction's marker: %v", err)
	}
	g, _ = p.StartTxnVerification(1, 2, true)
	mustMarker(t, p, 1, 2, false) // this transaction's own end: epoch 2
	mustMarker(t, p, 1, 3, false)
	if _, err := p.AppendVerified(txnBatch(1, 2, 0, 1), g); !errors.Is(err, partition.ErrInvalidTxnState) && !errors.Is(err, partition.ErrInvalidProducerEpoch) {
		t.Fatalf("v2 guard after a marker of a newer epoch: %v", err)
	}
}
