package partition_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/partition"
)

func openMem(t *testing.T, st *partition.MemStore, o partition.Options) *partition.Partition {
	t.Helper()
	if o.Topic == "" {
		o.Topic = "t"
	}
	p, err := partition.OpenStore(st, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustAppend(t *testing.T, p *partition.Partition, b []byte) partition.AppendResult {
	t.Helper()
	res, err := p.Append(b)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func TestPartitionHighWatermarkDurable(t *testing.T) {
	st := partition.NewMemStore(false)
	p := openMem(t, st, partition.Options{})
	res := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 3}))
	if res.BaseOffset != 0 || res.LastOffset != 2 || res.LogAppendTime != -1 {
		t.Fatalf("append result %+v", res)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HW before flush = %d, want 0", hw)
	}
	if r, err := p.Read(0, 1<<20, partition.ReadHighWatermark); err != nil || len(r.Records) != 0 || r.HighWatermark != 0 {
		t.Fatalf("read before flush: %+v, %v", r, err)
	}
	st.Flush()
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HW after flush = %d, want 3", hw)
	}
	r, err := p.Read(0, 1<<20, partition.ReadHighWatermark)
	if err != nil || r.HighWatermark != 3 {
		t.Fatalf("read: %+v, %v", r, err)
	}
	h, err := batch.Validate(r.Records)
	if err != nil || h.BaseOffset != 0 || h.RecordCount != 3 {
		t.Fatalf("read batch %+v, %v", h, err)
	}
	if err := p.WaitDurable(context.Background(), 3); err != nil {
		t.Fatalf("wait durable: %v", err)
	}
}

func TestPartitionHighWatermarkRelaxed(t *testing.T) {
	st := partition.NewMemStore(false)
	o := partition.Options{}
	o.Log.FlushMessages = 1000
	p := openMem(t, st, o)
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 2}))
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("relaxed HW = %d, want 2", hw)
	}
	// Nothing is durable, yet the relaxed mode does not wait.
	if err := p.WaitDurable(context.Background(), 2); err != nil {
		t.Fatalf("wait durable: %v", err)
	}
}

func TestPartitionWaitDurableContext(t *testing.T) {
	st := partition.NewMemStore(false)
	p := openMem(t, st, partition.Options{})
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitDurable(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait durable with cancelled ctx: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitDurable(context.Background(), 1) }()
	st.Flush()
	if err := <-done; err != nil {
		t.Fatalf("wait durable: %v", err)
	}
}

func TestPartitionAppendErrors(t *testing.T) {
	good := testutil.Batch(testutil.BatchOptions{Records: 2})
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	short := good[:len(good)-3]
	magic := append([]byte(nil), good...)
	magic[16] = 1
	batch.SetCRC(magic)
	control := testutil.Batch(testutil.BatchOptions{Attributes: batch.ControlBit})
	txn := testutil.Batch(testutil.BatchOptions{Attributes: batch.TransactionalBit, ProducerID: 1})
	big := testutil.Batch(testutil.BatchOptions{ValueSize: 2000})
	twoIdem := testutil.Batches(2, testutil.BatchOptions{ProducerID: 1})
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"crc", corrupt, partition.ErrCorrupt},
		{"short", short, partition.ErrCorrupt},
		{"garbage", []byte{1, 2, 3}, partition.ErrCorrupt},
		{"empty", nil, partition.ErrInvalidRecord},
		{"magic", magic, partition.ErrInvalidRecord},
		{"control", control, partition.ErrInvalidRecord},
		{"transactional", txn, partition.ErrInvalidRecord},
		{"too large", big, partition.ErrMessageTooLarge},
		{"two idempotent batches", twoIdem, partition.ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openMem(t, partition.NewMemStore(true), partition.Options{MaxMessageBytes: 1000})
			if _, err := p.Append(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("append: %v, want %v", err, tc.want)
			}
			if end := p.EndOffset(); end != 0 {
				t.Fatalf("end offset %d after a refused append", end)
			}
		})
	}
}

func TestPartitionAppendSeveralBatches(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	res := mustAppend(t, p, testutil.Batches(3, testutil.BatchOptions{Records: 2}))
	if res.BaseOffset != 0 || res.LastOffset != 5 {
		t.Fatalf("append result %+v", res)
	}
}

func TestPartitionLogAppendTime(t *testing.T) {
	now := func() int64 { return 1_700_000_000_000 }
	o := partition.Options{LogAppendTime: true}
	o.Now = func() time.Time { return time.UnixMilli(now()) }
	p := openMem(t, partition.NewMemStore(true), o)
	res := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 2, Timestamp: 5}))
	if res.LogAppendTime != now() {
		t.Fatalf("LogAppendTime = %d, want %d", res.LogAppendTime, now())
	}
	r, err := p.Read(0, 1<<20, partition.ReadHighWatermark)
	if err != nil {
		t.Fatal(err)
	}
	h, err := batch.Validate(r.Records)
	if err != nil || !h.LogAppendTime() || h.MaxTimestamp != now() {
		t.Fatalf("stored header %+v, %v", h, err)
	}
}

func TestPartitionIdempotence(t *testing.T) {
	type step struct {
		epoch   int16
		seq     int32
		records int
		want    error
		dupOf   int64 // base offset of the original, -1 if not a duplicate
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{0, 0, 2, nil, -1}, {0, 2, 3, nil, -1}, {0, 5, 1, nil, -1}}},
		{"duplicate of last", []step{{0, 0, 2, nil, -1}, {0, 2, 3, nil, -1}, {0, 2, 3, nil, 2}}},
		{"duplicate of older", []step{{0, 0, 2, nil, -1}, {0, 2, 3, nil, -1}, {0, 0, 2, nil, 0}}},
		{"gap", []step{{0, 0, 2, nil, -1}, {0, 3, 1, partition.ErrOutOfOrderSequence, -1}}},
		{"unknown producer not at 0", []step{{0, 7, 1, partition.ErrOutOfOrderSequence, -1}}},
		{"old epoch", []step{{1, 0, 1, nil, -1}, {0, 1, 1, partition.ErrInvalidProducerEpoch, -1}}},
		{"new epoch restarts at 0", []step{{0, 0, 3, nil, -1}, {1, 0, 1, nil, -1}, {1, 1, 1, nil, -1}}},
		{"new epoch not at 0", []step{{0, 0, 3, nil, -1}, {1, 3, 1, partition.ErrOutOfOrderSequence, -1}}},
		{"partial overlap", []step{{0, 0, 3, nil, -1}, {0, 1, 3, partition.ErrOutOfOrderSequence, -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openMem(t, partition.NewMemStore(true), partition.Options{})
			for i, s := range tc.steps {
				end := p.EndOffset()
				res, err := p.Append(testutil.Batch(testutil.BatchOptions{
					Records: s.records, ProducerID: 42, ProducerEpoch: s.epoch, BaseSequence: s.seq,
				}))
				if !errors.Is(err, s.want) {
					t.Fatalf("step %d: err %v, want %v", i, err, s.want)
				}
				if err != nil {
					continue
				}
				if s.dupOf >= 0 {
					if !res.Duplicate || res.BaseOffset != s.dupOf || p.EndOffset() != end {
						t.Fatalf("step %d: %+v, end %d -> %d; want duplicate of %d", i, res, end, p.EndOffset(), s.dupOf)
					}
				} else if res.Duplicate || res.BaseOffset != end {
					t.Fatalf("step %d: %+v, want new batch at %d", i, res, end)
				}
			}
		})
	}
}

func TestPartitionIdempotenceFiveBatches(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	for i := range 6 {
		mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 9, BaseSequence: int32(i)}))
	}
	// Batches 1..5 are remembered; 0 has been forgotten.
	if res := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 9, BaseSequence: 1})); !res.Duplicate || res.BaseOffset != 1 {
		t.Fatalf("retry of batch 1: %+v", res)
	}
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 9, BaseSequence: 0})); !errors.Is(err, partition.ErrOutOfOrderSequence) {
		t.Fatalf("retry of forgotten batch 0: %v", err)
	}
}

func TestPartitionRestartRebuildsProducers(t *testing.T) {
	st := partition.NewMemStore(true)
	p := openMem(t, st, partition.Options{})
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 4}))
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 7, ProducerEpoch: 2, Records: 3}))
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 3, Records: 2}))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := openMem(t, st.Reopen(), partition.Options{})
	if got := p2.MaxProducerID(); got != 7 {
		t.Fatalf("MaxProducerID after restart = %d", got)
	}
	if hw := p2.HighWatermark(); hw != 9 {
		t.Fatalf("HW after restart = %d, want 9", hw)
	}
	res := mustAppend(t, p2, testutil.Batch(testutil.BatchOptions{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 3, Records: 2}))
	if !res.Duplicate || res.BaseOffset != 7 {
		t.Fatalf("retry after restart: %+v", res)
	}
	if _, err := p2.Append(testutil.Batch(testutil.BatchOptions{ProducerID: 7, ProducerEpoch: 1})); !errors.Is(err, partition.ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch after restart: %v", err)
	}
	res = mustAppend(t, p2, testutil.Batch(testutil.BatchOptions{ProducerID: 7, ProducerEpoch: 2, BaseSequence: 5}))
	if res.Duplicate || res.BaseOffset != 9 {
		t.Fatalf("next batch after restart: %+v", res)
	}
}

func TestPartitionWaiters(t *testing.T) {
	st := partition.NewMemStore(false)
	p := openMem(t, st, partition.Options{})
	wake := make(chan struct{}, 1)
	stop := p.NotifyHW(0, wake)
	defer stop()
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{}))
	select {
	case <-wake:
		t.Fatal("woken before the HW moved")
	default:
	}
	st.Flush()
	select {
	case <-wake:
	default:
		t.Fatal("not woken by the HW moving")
	}
	// Already past: fires at once.
	p.NotifyHW(0, wake)
	select {
	case <-wake:
	default:
		t.Fatal("not woken for an offset below the HW")
	}
	// A stopped waiter does not fire.
	stop2 := p.NotifyHW(1, wake)
	stop2()
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{}))
	st.Flush()
	select {
	case <-wake:
		t.Fatal("stopped waiter fired")
	default:
	}
	// Close wakes everybody.
	p.NotifyHW(100, wake)
	p.Close()
	select {
	case <-wake:
	default:
		t.Fatal("close did not wake the waiter")
	}
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{})); !errors.Is(err, partition.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestPartitionReadRanges(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	for range 4 {
		mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 5, ValueSize: 100}))
	}
	// KIP-74: at least one batch even with a tiny maxBytes.
	r, err := p.Read(7, 1, partition.ReadHighWatermark)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := batch.Next(r.Records); n != len(r.Records) || n == 0 {
		t.Fatalf("read with maxBytes 1 returned %d bytes, batch %d", len(r.Records), n)
	}
	if h, _ := batch.ParseHeader(r.Records); h.BaseOffset != 5 {
		t.Fatalf("read at 7 starts at batch %d", h.BaseOffset)
	}
	if r, err := p.Read(20, 100, partition.ReadHighWatermark); err != nil || len(r.Records) != 0 {
		t.Fatalf("read at the end: %d bytes, %v", len(r.Records), err)
	}
	if _, err := p.Read(21, 100, partition.ReadHighWatermark); !errors.Is(err, partition.ErrOffsetOutOfRange) {
		t.Fatalf("read past the end: %v", err)
	}
	if low, err := p.DeleteRecords(10); err != nil || low != 10 {
		t.Fatalf("delete records: %d, %v", low, err)
	}
	if _, err := p.Read(9, 100, partition.ReadHighWatermark); !errors.Is(err, partition.ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v", err)
	}
	if low, err := p.DeleteRecords(3); err != nil || low != 10 {
		t.Fatalf("delete records below the start: %d, %v", low, err)
	}
	if _, err := p.DeleteRecords(21); !errors.Is(err, partition.ErrOffsetOutOfRange) {
		t.Fatalf("delete records past HW: %v", err)
	}
	if low, err := p.DeleteRecords(-1); err != nil || low != 20 || p.LogStartOffset() != 20 {
		t.Fatalf("delete records to HW: %d, %v", low, err)
	}
}

func TestPartitionOffsetForTimestamp(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	// Offsets 0-4 at 1000,1010,...,1040; 5-9 at 2000,...,2040.
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 5, Timestamp: 1000, TimestampStep: 10}))
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 5, Timestamp: 2000, TimestampStep: 10}))
	for _, tc := range []struct {
		ts, off, got int64
	}{
		{0, 0, 1000},
		{1000, 0, 1000},
		{1001, 1, 1010},
		{1040, 4, 1040},
		{1041, 5, 2000},
		{2025, 8, 2030},
		{2040, 9, 2040},
		{2041, -1, -1},
	} {
		off, ts, err := p.OffsetForTimestamp(tc.ts)
		if err != nil || off != tc.off || ts != tc.got {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", tc.ts, off, ts, err, tc.off, tc.got)
		}
	}
	off, ts, err := p.MaxTimestamp()
	if err != nil || off != 9 || ts != 2040 {
		t.Fatalf("MaxTimestamp = %d, %d, %v", off, ts, err)
	}
	empty := openMem(t, partition.NewMemStore(true), partition.Options{})
	if off, ts, err := empty.MaxTimestamp(); off != -1 || ts != -1 || err != nil {
		t.Fatalf("MaxTimestamp of an empty log = %d, %d, %v", off, ts, err)
	}
}

func TestPartitionLeaderEpoch(t *testing.T) {
	p := openMem(t, partition.NewMemStore(true), partition.Options{})
	mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 3}))
	if err := p.CheckLeaderEpoch(-1); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckLeaderEpoch(0); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckLeaderEpoch(1); !errors.Is(err, partition.ErrUnknownLeaderEpoch) {
		t.Fatal(err)
	}
	if e, end, err := p.EndOffsetForEpoch(0); e != 0 || end != 3 || err != nil {
		t.Fatalf("EndOffsetForEpoch(0) = %d, %d, %v", e, end, err)
	}
	if _, _, err := p.EndOffsetForEpoch(3); !errors.Is(err, partition.ErrUnknownLeaderEpoch) {
		t.Fatalf("EndOffsetForEpoch(3): %v", err)
	}
}
