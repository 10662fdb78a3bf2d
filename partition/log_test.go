package partition_test

import (
	"context"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
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
	r, err := p.Read(1, 1)
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
