package partition

import (
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
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
