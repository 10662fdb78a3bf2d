package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/stratalog/strata/coord"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// markerLog is a MarkerWriter that records the markers, and can fail or block.
type markerLog struct {
	mu      sync.Mutex
	written []written
	fail    error                   // returned by every write while set
	gone    map[TopicPartition]bool // ErrUnknownPartition
	block   chan struct{}           // writes wait for it to close, when set
}

type written struct {
	tp TopicPartition
	m  Marker
}

func (w *markerLog) WriteMarker(ctx context.Context, tp TopicPartition, m Marker) error {
	w.mu.Lock()
	block, fail, gone := w.block, w.fail, w.gone[tp]
	w.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch {
	case fail != nil:
		return fail
	case gone:
		return fmt.Errorf("%w: %v", ErrUnknownPartition, tp)
	}
	w.mu.Lock()
	w.written = append(w.written, written{tp, m})
	w.mu.Unlock()
	return nil
}

func (w *markerLog) take() []written {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.written
	w.written = nil
	return out
}

func (w *markerLog) set(fn func(w *markerLog)) {
	w.mu.Lock()
	fn(w)
	w.mu.Unlock()
}

type env struct {
	t       *testing.T
	c       *Coordinator
	logs    []*coord.MemLog
	markers *markerLog
	mu      sync.Mutex
	nextPID int64
	mod     func(*Options)
}

// newEnv starts a coordinator over in-memory logs with every partition loaded (at leader
// epoch 3). Call it inside synctest.Test when timers matter.
func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	e := &env{t: t, markers: &markerLog{}, nextPID: 1000, mod: mod}
	e.logs = make([]*coord.MemLog, 3)
	for i := range e.logs {
		e.logs[i] = coord.NewMemLog()
	}
	e.reopen()
	return e
}

// reopen closes the coordinator and starts another on the same logs (a restart).
func (e *env) reopen() {
	e.t.Helper()
	if e.c != nil {
		e.c.Close()
	}
	o := Options{
		NumPartitions: int32(len(e.logs)),
		OpenLog:       func(p int32) (coord.Log, error) { return e.logs[p], nil },
		Markers:       e.markers,
		NewProducerID: func(context.Context) (int64, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.nextPID++
			return e.nextPID, nil
		},
		Logger: slog.New(slog.DiscardHandler),
	}
	if e.mod != nil {
		e.mod(&o)
	}
	c, err := New(&o)
	if err != nil {
		e.t.Fatal(err)
	}
	for p := range int32(len(e.logs)) {
		if err := c.Load(p, 3); err != nil {
			e.t.Fatal(err)
		}
	}
	e.c = c
	e.t.Cleanup(func() { c.Close() })
}

func (e *env) init(id string) (int64, int16) {
	e.t.Helper()
	pid, epoch, err := e.c.InitProducerID(context.Background(), id, 60000, -1, -1)
	if err != nil {
		e.t.Fatalf("init %q: %v", id, err)
	}
	return pid, epoch
}

func (e *env) describe(id string) Txn {
	e.t.Helper()
	tx, err := e.c.Describe(id)
	if err != nil {
		e.t.Fatalf("describe %q: %v", id, err)
	}
	return tx
}

// settle waits until the background marker writing is done (virtual time).
func settle() {
	synctest.Wait()
}

var (
	tpA = TopicPartition{"a", 0}
	tpB = TopicPartition{"b", 2}
)

func expect(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// TestTxnInitProducerID: epochs, KIP-360 retries and fencing, the timeout limit.
func TestTxnInitProducerID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	pid, epoch := e.init("t1")
	if epoch != 0 {
		t.Fatalf("first epoch %d", epoch)
	}
	pid2, epoch2 := e.init("t1")
	if pid2 != pid || epoch2 != 1 {
		t.Fatalf("second init: %d/%d", pid2, epoch2)
	}
	// KIP-360: the producer at epoch 1 bumps; a retry with the old epoch gets the same.
	if p, ep, err := e.c.InitProducerID(ctx, "t1", 60000, pid, 1); err != nil || p != pid || ep != 2 {
		t.Fatalf("bump: %d/%d %v", p, ep, err)
	}
	if p, ep, err := e.c.InitProducerID(ctx, "t1", 60000, pid, 1); err != nil || p != pid || ep != 2 {
		t.Fatalf("retry: %d/%d %v", p, ep, err)
	}
	_, _, err := e.c.InitProducerID(ctx, "t1", 60000, pid, 0)
	expect(t, "stale epoch", err, ErrProducerFenced)
	_, _, err = e.c.InitProducerID(ctx, "t1", 60000, pid+77, 2)
	expect(t, "other producer id", err, ErrProducerFenced)
	_, _, err = e.c.InitProducerID(ctx, "t2", 900001, -1, -1)
	expect(t, "timeout above the max", err, ErrInvalidTransactionTimeout)
	_, _, err = e.c.InitProducerID(ctx, "t2", 0, -1, -1)
	expect(t, "zero timeout", err, ErrInvalidTransactionTimeout)
	_, _, err = e.c.InitProducerID(ctx, "", 1000, -1, -1)
	expect(t, "empty id", err, ErrInvalidRequest)
	if p3, _ := e.init("t3"); p3 == pid {
		t.Fatal("two ids share a producer id")
	}
	// Durable: a restart keeps the epoch.
	e.reopen()
	if tx := e.describe("t1"); tx.ProducerID != pid || tx.ProducerEpoch != 2 || tx.State != Empty || tx.TimeoutMs != 60000 {
		t.Fatalf("after restart: %+v", tx)
	}
	if _, ep := e.init("t1"); ep != 3 {
		t.Fatalf("epoch after restart %d", ep)
	}
}

// TestTxnCommitAbort: a transaction's partitions get its markers (with the coordinator
// epoch) once EndTxn wrote PrepareCommit, then CompleteCommit is written; retries and
// wrong outcomes are answered as Kafka does.
func TestTxnCommitAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		pid, epoch := e.init("t")
		expect(t, "end without a transaction", e.c.EndTxn(ctx, "t", pid, epoch, true), ErrInvalidTxnState)
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB, tpA}); err != nil {
			t.Fatal(err)
		}
		log := e.logs[e.c.Partition("t")]
		n := log.Len()
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA}); err != nil || log.Len() != n {
			t.Fatalf("adding a partition already in: %v, %d records written", err, log.Len()-n)
		}
		if tx := e.describe("t"); tx.State != Ongoing || !slices.Equal(tx.Partitions, []TopicPartition{tpA, tpB}) || tx.StartMs < 0 {
			t.Fatalf("ongoing: %+v", tx)
		}
		expect(t, "wrong producer id", e.c.AddPartitions(ctx, "t", pid+1, epoch, []TopicPartition{tpA}), ErrInvalidProducerIDMapping)
		expect(t, "old epoch", e.c.AddPartitions(ctx, "t", pid, epoch-1, []TopicPartition{tpA}), ErrProducerFenced)
		expect(t, "unknown id", e.c.AddPartitions(ctx, "nope", pid, epoch, []TopicPartition{tpA}), ErrInvalidProducerIDMapping)
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatal(err)
		}
		settle()
		got := e.markers.take()
		want := []written{{tpA, Marker{pid, epoch, true, 3}}, {tpB, Marker{pid, epoch, true, 3}}}
		if !slices.Equal(got, want) {
			t.Fatalf("markers %+v, want %+v", got, want)
		}
		if tx := e.describe("t"); tx.State != CompleteCommit || len(tx.Partitions) != 0 {
			t.Fatalf("after commit: %+v", tx)
		}
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatalf("retried commit: %v", err)
		}
		expect(t, "abort after commit", e.c.EndTxn(ctx, "t", pid, epoch, false), ErrInvalidTxnState)

		// The next transaction aborts; a partition whose topic is gone is skipped.
		e.markers.set(func(w *markerLog) { w.gone = map[TopicPartition]bool{tpB: true} })
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA, tpB}); err != nil {
			t.Fatal(err)
		}
		if err := e.c.EndTxn(ctx, "t", pid, epoch, false); err != nil {
			t.Fatal(err)
		}
		settle()
		if got := e.markers.take(); !slices.Equal(got, []written{{tpA, Marker{pid, epoch, false, 3}}}) {
			t.Fatalf("abort markers %+v", got)
		}
		if tx := e.describe("t"); tx.State != CompleteAbort {
			t.Fatalf("after abort: %+v", tx)
		}
		expect(t, "commit after abort", e.c.EndTxn(ctx, "t", pid, epoch, true), ErrInvalidTxnState)
	})
}

// TestTxnConcurrentWhileEnding: while the markers are being written, the id's requests
// get CONCURRENT_TRANSACTIONS (a retried EndTxn of the same outcome too), at once with
// EndWait < 0 (Kafka's way).
func TestTxnConcurrentWhileEnding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.EndWait = -1 })
		ctx := context.Background()
		pid, epoch := e.init("t")
		block := make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA})
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatal(err)
		}
		settle()
		expect(t, "add", e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB}), ErrConcurrentTransactions)
		expect(t, "retried commit", e.c.EndTxn(ctx, "t", pid, epoch, true), ErrConcurrentTransactions)
		expect(t, "abort", e.c.EndTxn(ctx, "t", pid, epoch, false), ErrInvalidTxnState)
		_, _, err := e.c.InitProducerID(ctx, "t", 1000, -1, -1)
		expect(t, "init", err, ErrConcurrentTransactions)
		close(block)
		settle()
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB}); err != nil {
			t.Fatalf("after the markers: %v", err)
		}
	})
}

// TestTxnEndWait: AddPartitions and InitProducerId of an id whose markers are being
// written wait for them (up to EndWait) instead of answering CONCURRENT_TRANSACTIONS;
// TryAddPartitions (other brokers' adds) does not.
func TestTxnEndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		pid, epoch := e.init("t")
		block := make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA})
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		expect(t, "TryAddPartitions does not wait", e.c.TryAddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB}), ErrConcurrentTransactions)
		if time.Since(start) != 0 {
			t.Fatalf("TryAddPartitions waited %v", time.Since(start))
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			close(block)
		}()
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB}); err != nil {
			t.Fatalf("add after waiting for the markers: %v", err)
		}
		if waited := time.Since(start); waited != 300*time.Millisecond {
			t.Fatalf("waited %v", waited)
		}
		// Markers that take longer than EndWait: CONCURRENT_TRANSACTIONS after it.
		block = make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		if err := e.c.EndTxn(ctx, "t", pid, epoch, false); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		_, _, err := e.c.InitProducerID(ctx, "t", 1000, -1, -1)
		expect(t, "init past EndWait", err, ErrConcurrentTransactions)
		if waited := time.Since(start); waited != DefaultEndWait {
			t.Fatalf("waited %v", waited)
		}
		close(block)
		settle()
	})
}

// TestTxnInitFencesOngoing: InitProducerId of an id whose transaction is open aborts it
// with a bumped epoch (the old producer is fenced) and answers CONCURRENT_TRANSACTIONS
// until the abort completed.
func TestTxnInitFencesOngoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		pid, epoch := e.init("t")
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA})
		_, _, err := e.c.InitProducerID(ctx, "t", 1000, -1, -1)
		expect(t, "init during a transaction", err, ErrConcurrentTransactions)
		settle()
		if got := e.markers.take(); !slices.Equal(got, []written{{tpA, Marker{pid, epoch + 1, false, 3}}}) {
			t.Fatalf("fencing abort markers %+v", got)
		}
		expect(t, "zombie's end", e.c.EndTxn(ctx, "t", pid, epoch, true), ErrProducerFenced)
		p2, e2 := e.init("t")
		if p2 != pid || e2 != epoch+2 {
			t.Fatalf("new producer %d/%d", p2, e2)
		}
	})
}

// TestTxnTimeout: a transaction open past its timeout is aborted by the coordinator (at
// the next check) with the epoch bumped; the abort is durable across a restart.
func TestTxnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		pid, epoch, err := e.c.InitProducerID(ctx, "t", 1000, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA, tpB})
		time.Sleep(DefaultAbortInterval - time.Second)
		settle()
		if tx := e.describe("t"); tx.State != Ongoing {
			t.Fatalf("before the check: %s", tx.State)
		}
		time.Sleep(2 * time.Second)
		settle()
		if got := e.markers.take(); len(got) != 2 || got[0].m != (Marker{pid, epoch + 1, false, 3}) {
			t.Fatalf("timeout abort markers %+v", got)
		}
		expect(t, "fenced producer", e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA}), ErrProducerFenced)
		e.reopen()
		if tx := e.describe("t"); tx.State != CompleteAbort || tx.ProducerEpoch != epoch+1 {
			t.Fatalf("after restart: %+v", tx)
		}
	})
}

// TestTxnRestartMidCommit: a transaction in PrepareCommit whose markers could not all be
// written when the coordinator stopped is completed by the next one after its load.
func TestTxnRestartMidCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.RetryBackoff = time.Second })
		ctx := context.Background()
		pid, epoch := e.init("t")
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA, tpB})
		e.markers.set(func(w *markerLog) { w.fail = errors.New("disk on fire") })
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second) // retried, failing
		settle()
		if tx := e.describe("t"); tx.State != PrepareCommit {
			t.Fatalf("state %s", tx.State)
		}
		e.markers.set(func(w *markerLog) { w.fail = nil })
		e.c.Close()
		if got := e.markers.take(); len(got) != 0 {
			t.Fatalf("markers before the restart %+v", got)
		}
		e.reopen()
		settle()
		if got := e.markers.take(); len(got) != 2 || !got[0].m.Commit {
			t.Fatalf("markers after restart %+v", got)
		}
		if tx := e.describe("t"); tx.State != CompleteCommit {
			t.Fatalf("after restart: %+v", tx)
		}
	})
}

// TestTxnExpiration: an id without a transaction, unused for
// transactional.id.expiration.ms, is removed (a tombstone), across restarts too; one with
// an open transaction is not.
func TestTxnExpiration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.IDExpiration = 2 * time.Hour; o.MaxTimeout = 10 * time.Hour })
		ctx := context.Background()
		e.init("idle")
		pid, epoch, _ := e.c.InitProducerID(ctx, "busy", int32((5 * time.Hour).Milliseconds()), -1, -1)
		e.c.AddPartitions(ctx, "busy", pid, epoch, []TopicPartition{tpA})
		time.Sleep(3*time.Hour + time.Minute)
		settle()
		_, err := e.c.Describe("idle")
		expect(t, "expired id", err, ErrTransactionalIDNotFound)
		if tx := e.describe("busy"); tx.State != Ongoing {
			t.Fatalf("busy: %+v", tx)
		}
		e.reopen()
		_, err = e.c.Describe("idle")
		expect(t, "expired id after restart", err, ErrTransactionalIDNotFound)
		if list, err := e.c.List(); err != nil || len(list) != 1 || list[0].ID != "busy" {
			t.Fatalf("list %+v %v", list, err)
		}
	})
}

// TestTxnNotCoordinator: ids of a partition not loaded are refused with the runtime's
// errors.
func TestTxnNotCoordinator(t *testing.T) {
	e := newEnv(t, nil)
	e.c.Unload(e.c.Partition("t"), -1)
	_, _, err := e.c.InitProducerID(context.Background(), "t", 1000, -1, -1)
	expect(t, "unloaded", err, coord.ErrNotCoordinator)
	e.c.Close()
	_, err = e.c.Describe("t")
	expect(t, "closed", err, coord.ErrNotAvailable)
}

// TestTxnVerify: KIP-890 part 1's verification (Kafka's handleVerifyPartitionsInTransaction):
// per partition whether it is in the open transaction, the producer's errors for the whole
// request, CONCURRENT_TRANSACTIONS while the transaction ends.
func TestTxnVerify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.EndWait = -1 })
		ctx := context.Background()
		pid, epoch := e.init("t")
		errs, err := e.c.Verify("t", pid, epoch, []TopicPartition{tpA})
		if err != nil || len(errs) != 1 {
			t.Fatalf("no transaction: %v %v", errs, err)
		}
		expect(t, "no transaction", errs[0], ErrTransactionAbortable)
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA}); err != nil {
			t.Fatal(err)
		}
		errs, err = e.c.Verify("t", pid, epoch, []TopicPartition{tpA, tpB})
		if err != nil || len(errs) != 2 || errs[0] != nil {
			t.Fatalf("verify: %v %v", errs, err)
		}
		expect(t, "not added", errs[1], ErrTransactionAbortable)
		_, err = e.c.Verify("t", pid+1, epoch, []TopicPartition{tpA})
		expect(t, "other producer", err, ErrInvalidProducerIDMapping)
		_, err = e.c.Verify("t", pid, epoch+1, []TopicPartition{tpA})
		expect(t, "other epoch", err, ErrProducerFenced)
		_, err = e.c.Verify("nope", pid, epoch, []TopicPartition{tpA})
		expect(t, "unknown id", err, ErrInvalidProducerIDMapping)

		block := make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		if err := e.c.EndTxn(ctx, "t", pid, epoch, true); err != nil {
			t.Fatal(err)
		}
		_, err = e.c.Verify("t", pid, epoch, []TopicPartition{tpA})
		expect(t, "ending", err, ErrConcurrentTransactions)
		close(block)
		settle()
		errs, err = e.c.Verify("t", pid, epoch, []TopicPartition{tpA})
		if err != nil || len(errs) != 1 {
			t.Fatalf("after commit: %v %v", errs, err)
		}
		expect(t, "after commit", errs[0], ErrTransactionAbortable)
	})
}

// TestTxnEndTxnV2: transactions v2 (KIP-890 part 2). Every end bumps the epoch, the
// markers carry the bumped epoch, the answer is the epoch the producer continues with;
// Kafka's table for ends without an open transaction (an empty abort bumps; a retry of
// the last end gets the current epoch; other epochs are fenced); at an exhausted epoch
// the producer continues with a new id, at epoch 0, and a retry from the old id works.
func TestTxnEndTxnV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.EndWait = -1 })
		ctx := context.Background()
		pid, epoch := e.init("t")
		_, _, err := e.c.EndTxnV2(ctx, "t", pid, epoch, true)
		expect(t, "commit in Empty", err, ErrInvalidTxnState)
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA}); err != nil {
			t.Fatal(err)
		}
		block := make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		npid, nepoch, err := e.c.EndTxnV2(ctx, "t", pid, epoch, true)
		if err != nil || npid != pid || nepoch != epoch+1 {
			t.Fatalf("commit: %d %d %v, want %d %d", npid, nepoch, err, pid, epoch+1)
		}
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch, true)
		expect(t, "retried commit while the markers are written", err, ErrConcurrentTransactions)
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch, false)
		expect(t, "abort while the commit's markers are written", err, ErrInvalidTxnState)
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch+1, true)
		expect(t, "the new epoch while the markers are written", err, ErrConcurrentTransactions)
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch+2, true)
		expect(t, "a newer epoch while the markers are written", err, ErrProducerFenced)
		close(block)
		settle()
		if got := e.markers.take(); !slices.Equal(got, []written{{tpA, Marker{pid, epoch + 1, true, 3}}}) {
			t.Fatalf("markers %+v, want the bumped epoch", got)
		}
		if tx := e.describe("t"); tx.State != CompleteCommit || tx.ProducerEpoch != epoch+1 {
			t.Fatalf("after commit: %+v", tx)
		}
		if p, ep, err := e.c.EndTxnV2(ctx, "t", pid, epoch, true); err != nil || p != pid || ep != epoch+1 {
			t.Fatalf("retried commit: %d %d %v", p, ep, err)
		}
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch, false)
		expect(t, "abort retried after a commit", err, ErrInvalidTxnState)
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch+1, true)
		expect(t, "commit without a transaction", err, ErrInvalidTxnState)
		_, _, err = e.c.EndTxnV2(ctx, "t", pid, epoch-1, false)
		expect(t, "an older epoch", err, ErrProducerFenced)

		// An empty abort bumps the epoch and writes no marker.
		epoch++
		if p, ep, err := e.c.EndTxnV2(ctx, "t", pid, epoch, false); err != nil || p != pid || ep != epoch+1 {
			t.Fatalf("empty abort: %d %d %v", p, ep, err)
		}
		settle()
		if tx := e.describe("t"); tx.State != CompleteAbort || len(e.markers.take()) != 0 {
			t.Fatalf("after an empty abort: %+v", tx)
		}
		if p, ep, err := e.c.EndTxnV2(ctx, "t", pid, epoch, false); err != nil || ep != epoch+1 || p != pid {
			t.Fatalf("retried abort: %d %d %v", p, ep, err)
		}

		// An exhausted epoch: the markers carry the old id at MaxInt16, the producer goes
		// on with a new id at epoch 0, also when the coordinator restarts between the
		// PrepareAbort and the markers.
		sh, _ := e.c.shardOf("t")
		sh.mu.Lock()
		sh.mu.txns["t"].ProducerEpoch = math.MaxInt16 - 1
		sh.mu.Unlock()
		epoch = math.MaxInt16 - 1
		if err := e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpB}); err != nil {
			t.Fatal(err)
		}
		e.markers.set(func(w *markerLog) { w.block = make(chan struct{}) })
		npid, nepoch, err = e.c.EndTxnV2(ctx, "t", pid, epoch, false)
		if err != nil || npid == pid || nepoch != 0 {
			t.Fatalf("abort at an exhausted epoch: %d %d %v", npid, nepoch, err)
		}
		settle() // the marker write is blocked
		e.markers.set(func(w *markerLog) { w.block = nil })
		e.reopen()
		settle()
		if got := e.markers.take(); !slices.Equal(got, []written{{tpB, Marker{pid, math.MaxInt16, false, 3}}}) {
			t.Fatalf("markers %+v", got)
		}
		if tx := e.describe("t"); tx.State != CompleteAbort || tx.ProducerID != npid || tx.ProducerEpoch != 0 || tx.PrevProducerID != pid || tx.NextProducerID != -1 {
			t.Fatalf("after the overflow: %+v", tx)
		}
		if p, ep, err := e.c.EndTxnV2(ctx, "t", pid, epoch, false); err != nil || p != npid || ep != 0 {
			t.Fatalf("retry from the old id: %d %d %v", p, ep, err)
		}
		if err := e.c.AddPartitions(ctx, "t", npid, 0, []TopicPartition{tpA}); err != nil {
			t.Fatalf("the new id: %v", err)
		}
	})
}

// TestTxnEndTxnV2Waits: the next transaction's EndTxn v5 that comes while the previous
// transaction's markers are written waits for them (EndWait) instead of answering
// PRODUCER_FENCED, as Kafka would (its epoch is the bumped one, which Prepare* only
// takes as a retry).
func TestTxnEndTxnV2Waits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, nil)
		ctx := context.Background()
		pid, epoch := e.init("t")
		e.c.AddPartitions(ctx, "t", pid, epoch, []TopicPartition{tpA})
		block := make(chan struct{})
		e.markers.set(func(w *markerLog) { w.block = block })
		_, epoch, err := e.c.EndTxnV2(ctx, "t", pid, epoch, true)
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(100*time.Millisecond, func() { close(block) })
		if p, ep, err := e.c.EndTxnV2(ctx, "t", pid, epoch, false); err != nil || p != pid || ep != epoch+1 {
			t.Fatalf("the next transaction's abort: %d %d %v", p, ep, err)
		}
	})
}
