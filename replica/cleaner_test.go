package replica

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/partition"
)

func openCleanerManager(t *testing.T, clk *testClock) *node {
	t.Helper()
	m, err := openNode(vfs.NewMem(), map[string]string{"log.retention.check.interval.ms": "5", "log.cleaner.backoff.ms": "5"}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeManager(t, m) })
	return m
}

// TestManagerCleanerRetention: the background cleaner deletes expired closed segments on
// its schedule and a consumer behind the new log start gets ErrOffsetOutOfRange.
func TestManagerCleanerRetention(t *testing.T) {
	clk := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	m := openCleanerManager(t, clk)
	tp, err := m.CreateTopic("r", 1, map[string]*string{"retention.ms": ptr("60000"), "segment.bytes": ptr("2048")}, false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tp.Partition(0)
	for i := 0; i < 40; i++ {
		appendDurable(t, p, testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: 200, Timestamp: clk.Now().UnixMilli(), Seed: byte(i)}))
	}
	segs := p.Log().Segments()
	if len(segs) < 3 || p.LogStartOffset() != 0 {
		t.Fatalf("segments %d, start %d", len(segs), p.LogStartOffset())
	}
	clk.Add(time.Hour)
	last := segs[len(segs)-1].BaseOffset
	waitFor(t, "retention by the cleaner", func() bool { return p.LogStartOffset() == last })
	if got := p.Log().Segments(); len(got) != 1 || !got[0].Active {
		t.Fatalf("segments after retention %+v", got)
	}
	if _, err := p.Read(0, 1000, partition.ReadHighWatermark); !errors.Is(err, partition.ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
}

func keyedBatch(t *testing.T, key string, value []byte, ts int64) []byte {
	t.Helper()
	b, err := records.Encode(nil, &records.Batch{
		Header:  batch.Header{Magic: 2, BaseTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		Records: []records.Record{{Key: []byte(key), Value: value}},
	}, batch.CodecGzip)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestManagerCleanerCompaction: on a compacted topic the background cleaner compacts the
// closed segments once the dirty ratio is reached; keyless records are refused.
func TestManagerCleanerCompaction(t *testing.T) {
	clk := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	m := openCleanerManager(t, clk)
	tp, err := m.CreateTopic("c", 1, map[string]*string{"cleanup.policy": ptr("compact"), "segment.bytes": ptr("2048"),
		"min.cleanable.dirty.ratio": ptr("0.1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tp.Partition(0)
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{Records: 2})); !errors.Is(err, partition.ErrInvalidRecord) {
		t.Fatalf("keyless append on a compacted topic: %v", err)
	}
	for i := 0; i < 100; i++ {
		appendDurable(t, p, keyedBatch(t, fmt.Sprint("k", i%5), []byte(fmt.Sprint("value-", i)), clk.Now().UnixMilli()))
	}
	count := func() int {
		n := 0
		p.Log().Scan(0, func(h batch.Header, _ []byte) error { n += int(h.RecordCount); return nil })
		return n
	}
	active := p.Log().Segments()
	waitFor(t, "compaction by the cleaner", func() bool {
		return count() <= 5+int(p.EndOffset()-active[len(active)-1].BaseOffset)
	})
	if err := p.Log().Check(); err != nil {
		t.Fatal(err)
	}
}

// TestManagerCleanerSchedule runs the cleaner on virtual time with Kafka's defaults:
// compaction every log.cleaner.backoff.ms (15 s), retention every
// log.retention.check.interval.ms (5 min), each on its own schedule; with
// log.cleaner.enable=false nothing is compacted, not even on demand.
func TestManagerCleanerSchedule(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprint("enable=", enabled), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, err := openNode(vfs.NewMem(), map[string]string{"log.cleaner.enable": fmt.Sprint(enabled)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer closeManager(t, m)
				ct, err := m.CreateTopic("c", 1, map[string]*string{"cleanup.policy": ptr("compact"), "segment.bytes": ptr("2048"),
					"min.cleanable.dirty.ratio": ptr("0.01")}, false)
				if err != nil {
					t.Fatal(err)
				}
				dt, err := m.CreateTopic("d", 1, map[string]*string{"retention.ms": ptr("60000"), "segment.bytes": ptr("2048")}, false)
				if err != nil {
					t.Fatal(err)
				}
				cp, _ := ct.Partition(0)
				dp, _ := dt.Partition(0)
				for i := 0; i < 60; i++ {
					appendDurable(t, cp, keyedBatch(t, fmt.Sprint("k", i%3), []byte(fmt.Sprint("value-", i)), time.Now().UnixMilli()))
					appendDurable(t, dp, testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: 200, Timestamp: time.Now().UnixMilli(), Seed: byte(i)}))
				}
				size := func() (n int64) {
					for _, s := range cp.Log().Segments() {
						n += s.Size
					}
					return n
				}
				dirty := size()
				start := time.Now()
				at := func(d time.Duration) {
					time.Sleep(time.Until(start.Add(d)))
					synctest.Wait()
				}

				at(14 * time.Second)
				if size() != dirty {
					t.Fatal("compacted before log.cleaner.backoff.ms")
				}
				at(16 * time.Second)
				if compacted := size() < dirty; compacted != enabled {
					t.Fatalf("compacted at 16 s: %v (%d -> %d bytes), want %v", compacted, dirty, size(), enabled)
				}
				at(299 * time.Second) // the records expired at 60 s; retention checks at 300 s
				if dp.LogStartOffset() != 0 {
					t.Fatal("retention before log.retention.check.interval.ms")
				}
				at(301 * time.Second)
				if dp.LogStartOffset() == 0 {
					t.Fatal("no retention at log.retention.check.interval.ms")
				}
				if !enabled {
					m.RunCleaner()
					synctest.Wait()
					if size() != dirty {
						t.Fatal("compacted on demand with log.cleaner.enable=false")
					}
				}
			})
		})
	}
}
