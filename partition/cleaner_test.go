package partition

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openCleanerManager(t *testing.T, clk *testClock) *Manager {
	t.Helper()
	m, err := OpenManager("/data", &ManagerOptions{
		FS:     vfs.NewMem(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    clk.Now,
		Broker: map[string]string{"log.retention.check.interval.ms": "5", "log.cleaner.backoff.ms": "5"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeManager(t, m) })
	return m
}

func appendDurable(t *testing.T, p *Partition, b []byte) {
	t.Helper()
	res, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitDurable(t.Context(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes (no timing asserts:
// the deadline only bounds a hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
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
	if _, err := p.Read(0, 1000, ReadHighWatermark); !errors.Is(err, ErrOffsetOutOfRange) {
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
	if _, err := p.Append(testutil.Batch(testutil.BatchOptions{Records: 2})); !errors.Is(err, ErrInvalidRecord) {
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

// TestPartitionCompactKeepsProducerState: compaction keeps exactly the batches producer
// state needs, Kafka's way: each active producer's last batch (header-only once its
// records are superseded), none of an expired producer's (producer.id.expiration.ms);
// after a restart the rebuilt state still recognises the active producers' retries and
// accepts their next sequence numbers.
func TestPartitionCompactKeepsProducerState(t *testing.T) {
	clk := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	dir := t.TempDir()
	opts := func() *Options {
		return &Options{Topic: "t", Now: clk.Now, Compacted: true,
			Log:     log.Options{Now: clk.Now, SegmentBytes: 1024, RetentionMs: -1},
			Cleanup: CleanupOptions{Compact: true, DeleteRetention: time.Hour}}
	}
	p, err := Open(dir, opts())
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now().UnixMilli()
	// Producer 6 writes first and is superseded by 5; producer 7 writes with timestamps
	// older than the expiration; every batch has the one key "0".
	seqs := map[int64]int32{}
	last := map[int64][]byte{}
	produce := func(pid int64, ts int64) {
		b := testutil.Batch(testutil.BatchOptions{Records: 2, KeySize: 1, ValueSize: 60, ProducerID: pid, BaseSequence: seqs[pid], Timestamp: ts, Seed: byte(seqs[pid])})
		appendDurable(t, p, b)
		last[pid] = b
		seqs[pid] += 2
	}
	for i := 0; i < 3; i++ {
		produce(7, now-2*time.Hour.Milliseconds())
		produce(6, now)
	}
	for i := 0; i < 30; i++ {
		produce(5, now)
	}
	// Close every segment but an empty active one: reopening seals the old active segment.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.Log.SegmentMs = time.Millisecond
	clk.Add(time.Second)
	if p, err = Open(dir, o); err != nil {
		t.Fatal(err)
	}
	defer func() { p.Close() }()
	produce(5, clk.Now().UnixMilli()) // rolls: everything before is closed
	res, err := p.Cleanup(CleanerResources{ProducerExpiration: time.Hour})
	if err != nil || res.Compaction.Segments == 0 {
		t.Fatalf("cleanup %+v: %v", res, err)
	}
	byProducer := map[int64][]batch.Header{}
	p.Log().Scan(0, func(h batch.Header, _ []byte) error {
		byProducer[h.ProducerID] = append(byProducer[h.ProducerID], h)
		return nil
	})
	segEnds := map[int64]bool{} // an empty batch may also stay to end a segment
	for _, s := range p.Log().Segments() {
		segEnds[s.NextOffset] = true
	}
	for _, pid := range []int64{5, 6} {
		hs := byProducer[pid]
		for _, h := range hs[:len(hs)-1] {
			if h.RecordCount == 0 && !segEnds[h.LastOffset()+1] {
				t.Fatalf("producer %d: empty batch %d kept besides its last one", pid, h.BaseOffset)
			}
		}
		if h := hs[len(hs)-1]; h.LastSequence() != seqs[pid]-1 {
			t.Fatalf("producer %d: last batch kept ends at sequence %d, want %d", pid, h.LastSequence(), seqs[pid]-1)
		}
	}
	if hs := byProducer[6]; len(hs) != 1 || hs[0].RecordCount != 0 || hs[0].Codec() != batch.CodecNone {
		t.Fatalf("superseded producer 6: batches %+v, want its last one, header-only", hs)
	}
	if hs := byProducer[7]; len(hs) != 0 && (len(hs) > 1 || !segEnds[hs[0].LastOffset()+1]) {
		t.Fatalf("expired producer 7: batches %+v kept", hs)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err = Open(dir, opts()); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int64{5, 6} {
		res, err := p.Append(last[pid])
		if err != nil || !res.Duplicate {
			t.Fatalf("producer %d: retry of its last batch after restart: %+v %v", pid, res, err)
		}
		b := testutil.Batch(testutil.BatchOptions{Records: 1, KeySize: 1, ProducerID: pid, BaseSequence: seqs[pid], Timestamp: clk.Now().UnixMilli()})
		if res, err := p.Append(b); err != nil || res.Duplicate {
			t.Fatalf("producer %d: next sequence after restart: %+v %v", pid, res, err)
		}
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
				m, err := OpenManager("/data", &ManagerOptions{
					FS:     vfs.NewMem(),
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					Broker: map[string]string{"log.cleaner.enable": fmt.Sprint(enabled)},
				})
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
