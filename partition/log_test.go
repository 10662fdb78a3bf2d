package partition_test

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/partition"
)

// TestPartitionOnLog runs the partition on the real log: durable HW, read, restart with
// producer state rebuilt from the log.
func TestPartitionOnLog(t *testing.T) {
	dir := t.TempDir()
	p, err := partition.Open(dir, &partition.Options{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wake := make(chan struct{}, 1)
	stop := p.NotifyHW(0, wake)
	defer stop()
	res := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: 5, Timestamp: 100, TimestampStep: 1}))
	if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	<-wake // the flusher moved the HW
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HW = %d", hw)
	}
	r, err := p.Read(1, 1, partition.ReadHighWatermark)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := batch.Validate(r.Records); err != nil || h.BaseOffset != 0 || h.LastOffset() != 2 {
		t.Fatalf("read %+v, %v", h, err)
	}
	if off, ts, err := p.OffsetForTimestamp(101); off != 1 || ts != 101 || err != nil {
		t.Fatalf("OffsetForTimestamp = %d, %d, %v", off, ts, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = partition.Open(dir, &partition.Options{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HW after restart = %d", hw)
	}
	dup := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: 5, Timestamp: 100, TimestampStep: 1}))
	if !dup.Duplicate || dup.BaseOffset != 0 || p.EndOffset() != 3 {
		t.Fatalf("retry after restart: %+v, end %d", dup, p.EndOffset())
	}
	next := mustAppend(t, p, testutil.Batch(testutil.BatchOptions{ProducerID: 5, BaseSequence: 3}))
	if next.BaseOffset != 3 {
		t.Fatalf("next: %+v", next)
	}
}

// TestPartitionStorageErrorRetry fails the fsync of an idempotent batch: the wait fails
// with log.ErrStorage, and the producer's retry of the same batch (same sequence) once
// the disk works again is appended anew, at the offset the dropped batch had, and made
// durable, instead of being answered as a duplicate of records the repair dropped.
func TestPartitionStorageErrorRetry(t *testing.T) {
	inj := errorfs.OnKinds(errorfs.OpSync)
	inj.Err = syscall.EIO
	inj.Enabled.Store(false)
	p, err := partition.Open("/p", &partition.Options{Topic: "t", Log: log.Options{FS: errorfs.Wrap(vfs.NewMem(), inj)}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	first := testutil.Batch(testutil.BatchOptions{Records: 2, ProducerID: 7})
	res := mustAppend(t, p, first)
	if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	inj.Enabled.Store(true)
	second := func() []byte {
		return testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: 7, BaseSequence: 2, Seed: 1})
	}
	res = mustAppend(t, p, second())
	if err := p.WaitDurable(ctx, res.LastOffset+1); !errors.Is(err, log.ErrStorage) {
		t.Fatalf("wait with failing fsync: %v, want log.ErrStorage", err)
	}
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("HW %d after the failed fsync, want 2", hw)
	}
	inj.Enabled.Store(false)
	retry := mustAppend(t, p, second())
	if retry.Duplicate || retry.BaseOffset != 2 {
		t.Fatalf("retry after the failed fsync: %+v, want a new append at offset 2", retry)
	}
	if err := p.WaitDurable(ctx, retry.LastOffset+1); err != nil {
		t.Fatalf("wait for the retry: %v", err)
	}
	if dup := mustAppend(t, p, second()); !dup.Duplicate || dup.BaseOffset != 2 {
		t.Fatalf("second retry: %+v, want a duplicate of offset 2", dup)
	}
	if err := p.Log().Check(); err != nil {
		t.Fatal(err)
	}
}
