package partition

import (
	"slices"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/log"
)

// TestPartitionOffsetsBefore checks ListOffsets v0's answer (Kafka's
// legacyFetchOffsetsBefore) on a log of four segments dated 1000-4000 by their records,
// plus the log end dated now: segment starts last written at or before the timestamp,
// newest first, at most maxNum; -1 from the end, -2 the start only.
func TestPartitionOffsetsBefore(t *testing.T) {
	clk := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	p, err := Open(t.TempDir(), &Options{Topic: "t", Now: clk.Now,
		Log: log.Options{Now: clk.Now, SegmentBytes: 1024, RetentionMs: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for i := range 4 { // one batch of 2 records a segment: offsets 0, 2, 4, 6; end 8
		appendDurable(t, p, testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 300, Timestamp: int64(1000 * (i + 1)), Seed: byte(i)}))
	}
	if n := len(p.st.Segments()); n != 4 {
		t.Fatalf("%d segments, want 4", n)
	}
	for _, c := range []struct {
		ts     int64
		maxNum int
		want   []int64
	}{
		{-1, 10, []int64{8, 6, 4, 2, 0}},
		{-1, 1, []int64{8}},
		{-2, 10, []int64{0}},
		{-2, 0, []int64{}},
		{2500, 10, []int64{2, 0}},
		{3000, 2, []int64{4, 2}},
		{4000, 10, []int64{6, 4, 2, 0}},
		{clk.Now().UnixMilli(), 10, []int64{8, 6, 4, 2, 0}},
		{999, 10, []int64{}},
		{-3, 10, []int64{}},
	} {
		got, err := p.OffsetsBefore(c.ts, c.maxNum, true)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("OffsetsBefore(%d, %d) = %v, %v; want %v", c.ts, c.maxNum, got, err, c.want)
		}
	}
	// Offsets below the log start offset are raised to it.
	if _, err := p.DeleteRecords(3); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.OffsetsBefore(-1, 10, true); !slices.Equal(got, []int64{8, 6, 4, 3}) {
		t.Errorf("after DeleteRecords(3): %v, want [8 6 4 3]", got)
	}
}

// TestPartitionOffsetsBeforeHighWatermark: for a consumer, offsets above the high
// watermark give way to it (Kafka: hw +: offsets.dropWhile(_ > hw)); a replica sees them.
func TestPartitionOffsetsBeforeHighWatermark(t *testing.T) {
	st := NewMemStore(false) // nothing durable: the high watermark stays 0
	p, err := OpenStore(st, Options{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{Records: 3, Timestamp: 1000})); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.OffsetsBefore(-1, 10, true); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("consumer: %v, want [0 0]", got)
	}
	if got, _ := p.OffsetsBefore(-1, 10, false); !slices.Equal(got, []int64{3, 0}) {
		t.Errorf("replica: %v, want [3 0]", got)
	}
}
