package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
)

// rec is one record of a compaction model.
type rec struct {
	off        int64
	key, value []byte // nil value: tombstone
	ts         int64
	hdr        string
}

// keyedBatch encodes recs (offsets relative to 0) as one batch with codec.
func keyedBatch(t testing.TB, recs []rec, codec int, pid int64) []byte {
	t.Helper()
	ts := recs[0].ts
	h := batch.Header{Magic: 2, LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: ts, MaxTimestamp: ts,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, LeaderEpoch: -1}
	if pid >= 0 {
		h.ProducerID, h.ProducerEpoch, h.BaseSequence = pid, 0, 0
	}
	var rs []records.Record
	for i, r := range recs {
		h.MaxTimestamp = max(h.MaxTimestamp, r.ts)
		rr := records.Record{OffsetDelta: int32(i), TimestampDelta: r.ts - ts, Key: r.key, Value: r.value}
		if r.hdr != "" {
			rr.Headers = []records.Header{{Key: "h", Value: []byte(r.hdr)}}
		}
		rs = append(rs, rr)
	}
	b, err := records.Encode(nil, &records.Batch{Header: h, Records: rs}, codec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRecords returns every record of the log, in order.
func readRecords(t testing.TB, l *Log) []rec {
	t.Helper()
	var out []rec
	err := l.Scan(l.StartOffset(), func(h batch.Header, b []byte) error {
		r, err := records.NewReader(b)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			x := r.Record()
			if r.Offset() < l.StartOffset() {
				continue
			}
			got := rec{off: r.Offset(), key: bytes.Clone(x.Key), ts: r.Timestamp()}
			if x.Value != nil {
				got.value = bytes.Clone(x.Value)
			}
			if len(x.Headers) == 1 {
				got.hdr = string(x.Headers[0].Value)
			}
			out = append(out, got)
		}
		return r.Err()
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

// compactModel is the appended records by offset.
type compactModel struct {
	recs   map[int64]rec
	latest map[string]int64 // key -> offset of its latest record
	next   int64
}

func newCompactModel() *compactModel {
	return &compactModel{recs: map[int64]rec{}, latest: map[string]int64{}}
}

func (m *compactModel) add(recs []rec, base int64) {
	for i, r := range recs {
		r.off = base + int64(i)
		m.recs[r.off] = r
		if r.key != nil {
			m.latest[string(r.key)] = r.off
		}
		m.next = r.off + 1
	}
}

// checkSafe verifies what every state of a compacted log must satisfy: every record read
// is the one appended at that offset, in increasing offset order, and every record
// missing was keyless, superseded by a later record of its key, or a tombstone.
func (m *compactModel) checkSafe(t testing.TB, got []rec, from int64) {
	t.Helper()
	seen := map[int64]bool{}
	prev := int64(-1)
	for _, g := range got {
		if g.off <= prev {
			t.Fatalf("offset %d after %d", g.off, prev)
		}
		prev = g.off
		w, ok := m.recs[g.off]
		if !ok || !bytes.Equal(w.key, g.key) || !bytes.Equal(w.value, g.value) || (w.value == nil) != (g.value == nil) || w.ts != g.ts || w.hdr != g.hdr {
			t.Fatalf("offset %d: got %q=%q ts %d hdr %q, appended %q=%q ts %d hdr %q", g.off, g.key, g.value, g.ts, g.hdr, w.key, w.value, w.ts, w.hdr)
		}
		seen[g.off] = true
	}
	for off, w := range m.recs {
		if off < from || seen[off] {
			continue
		}
		if w.key != nil && m.latest[string(w.key)] == off && w.value != nil {
			t.Fatalf("offset %d: latest live record of key %q lost", off, w.key)
		}
	}
}

var codecs = []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd}

// TestLogCompactRandomized appends random keyed workloads (updates, tombstones, every
// codec, idempotent and plain batches), compacts at random points with random key-map
// sizes and reopens, checking the safety invariants after every step; at the end, with
// everything in closed segments, a full read gives exactly the latest value of every
// live key, in offset order. The seed is printed; replay with -seed.
func TestLogCompactRandomized(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay: go test ./log -run TestLogCompactRandomized -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewMem()
	clk := &fakeClock{t: time.UnixMilli(1_000_000_000)}
	o := memOpts(fs)
	o.Now = clk.Now
	o.SegmentBytes = int64(1500 + rng.Intn(3000))
	o.IndexIntervalBytes = 64 + rng.Intn(256)
	o.RetentionMs = -1
	l := openLog(t, "/c", o)
	m := newCompactModel()
	keys := 5 + rng.Intn(60)
	mkRecs := func(n int) []rec {
		var rs []rec
		for i := 0; i < n; i++ {
			r := rec{key: []byte(fmt.Sprintf("key-%d", rng.Intn(keys))), ts: clk.Now().UnixMilli()}
			if rng.Intn(8) != 0 {
				r.value = []byte(fmt.Sprintf("v%d-%d", m.next+int64(i), rng.Int63()))
			}
			if rng.Intn(4) == 0 {
				r.hdr = fmt.Sprint(rng.Intn(100))
			}
			rs = append(rs, r)
		}
		return rs
	}
	appendRecs := func(rs []rec) {
		pid := int64(-1)
		if rng.Intn(3) == 0 {
			pid = int64(rng.Intn(3))
		}
		info := mustAppend(t, l, keyedBatch(t, rs, codecs[rng.Intn(len(codecs))], pid))
		m.add(rs, info.BaseOffset)
	}
	compact := func(o CompactOptions) CompactResult {
		res, err := l.Compact(o)
		if err != nil {
			t.Fatalf("compact: %v", err)
		}
		if err := l.Check(); err != nil {
			t.Fatalf("check after compact: %v", err)
		}
		m.checkSafe(t, readRecords(t, l), l.StartOffset())
		return res
	}
	for step := 0; step < 300; step++ {
		clk.Add(time.Duration(rng.Intn(1000)) * time.Millisecond)
		switch x := rng.Intn(100); {
		case x < 80:
			appendRecs(mkRecs(1 + rng.Intn(8)))
		case x < 93:
			buf := []int64{0, 24 * 16, 24 * 40}[rng.Intn(3)]
			compact(CompactOptions{Force: rng.Intn(2) == 0, MinCleanableRatio: 0.3, DedupeBufferBytes: buf,
				DeleteRetention: time.Duration(rng.Intn(3000)) * time.Millisecond})
		case x < 97:
			l.Close()
			l = openLog(t, "/c", o)
			m.checkSafe(t, readRecords(t, l), l.StartOffset())
		default:
			// Crash: reopen what a power loss would leave (everything was acked durable).
			l.Close()
			fs2 := fs.CrashClone()
			o.FS = fs2
			fs = fs2
			l = openLog(t, "/c", o)
			m.checkSafe(t, readRecords(t, l), l.StartOffset())
		}
	}
	// Move everything into closed segments, then compact until no dirty data is left:
	// the log must hold exactly the latest record of each key (tombstones included, as
	// delete.retention.ms is long).
	roll := func() {
		o2 := *o
		o2.SegmentMs = time.Millisecond
		if err := l.Reconfigure(o2); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
		appendRecs([]rec{{key: []byte("sentinel"), value: []byte("s"), ts: clk.Now().UnixMilli()}})
		if err := l.Reconfigure(*o); err != nil {
			t.Fatal(err)
		}
	}
	roll()
	compact(CompactOptions{Force: true, DeleteRetention: time.Hour})
	// exact: the log holds the latest record of every key and nothing else; the latest
	// record may be missing only for a tombstone (expired earlier), and with
	// tombstones=false every tombstone must be gone.
	exact := func(tombstones bool) {
		t.Helper()
		have := map[int64]bool{}
		for _, g := range readRecords(t, l) {
			if string(g.key) == "sentinel" {
				continue
			}
			if m.latest[string(g.key)] != g.off {
				t.Fatalf("offset %d is not the latest of key %q", g.off, g.key)
			}
			if !tombstones && g.value == nil {
				t.Fatalf("offset %d: tombstone of %q kept past delete.retention.ms", g.off, g.key)
			}
			have[g.off] = true
		}
		for k, off := range m.latest {
			if k != "sentinel" && m.recs[off].value != nil && !have[off] {
				t.Fatalf("latest value of key %q (offset %d) missing", k, off)
			}
		}
	}
	exact(true)
	// A second pass, with delete.retention.ms elapsed, drops the tombstones.
	clk.Add(time.Second)
	roll()
	compact(CompactOptions{Force: true, DeleteRetention: time.Millisecond})
	exact(false)
}

func crashOpts(fs vfs.FS) *Options {
	o := memOpts(fs)
	o.RetentionMs, o.SegmentBytes = -1, 1200
	return o
}

// buildCompactable writes a log with several closed segments of keyed records (updates
// and tombstones, mixed codecs) and returns its model.
func buildCompactable(t testing.TB, fs vfs.FS, dir string) *compactModel {
	l, err := Open(dir, crashOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := newCompactModel()
	for i := 0; i < 60; i++ {
		var rs []rec
		for j := 0; j < 5; j++ {
			r := rec{key: []byte(fmt.Sprintf("k%d", (i*5+j)%17)), ts: int64(1000 + i)}
			if (i+j)%7 != 0 {
				r.value = bytes.Repeat([]byte{byte(i)}, 40)
			}
			rs = append(rs, r)
		}
		info := mustAppend(t, l, keyedBatch(t, rs, codecs[i%len(codecs)], int64(i%2)-1))
		m.add(rs, info.BaseOffset)
	}
	if len(l.Segments()) < 4 {
		t.Fatalf("want several segments, have %d", len(l.Segments()))
	}
	return m
}

// mergeOpts is crashOpts with segment.bytes large enough for compaction to merge the
// closed segments buildCompactable writes into a few.
func mergeOpts(fs vfs.FS) *Options {
	o := crashOpts(fs)
	o.SegmentBytes = 1 << 20
	return o
}

// TestLogCrashCompactSwap simulates a power loss at every step of every segment swap of
// a compaction (MemFS.CrashClone, then the step fails as the crash would stop it), with
// segments cleaned one by one and merged in groups: the log recovered from the crash
// image passes Check, serves every record it holds as appended, and keeps the latest
// live record of every key.
func TestLogCrashCompactSwap(t *testing.T) {
	for name, opts := range map[string]func(vfs.FS) *Options{"one-by-one": crashOpts, "merge": mergeOpts} {
		t.Run(name, func(t *testing.T) {
			for k := 0; ; k++ {
				fs := vfs.NewMem()
				m := buildCompactable(t, fs, "/p")
				l, err := Open("/p", opts(fs))
				if err != nil {
					t.Fatal(err)
				}
				before := len(l.Segments())
				var img *vfs.MemFS
				var where string
				calls := 0
				res, err := l.Compact(CompactOptions{Force: true, beforeSwapStep: func(step string) error {
					if calls++; calls-1 == k {
						img, where = fs.CrashClone(), step
						return errors.New("crash")
					}
					return nil
				}})
				l.Close()
				if img == nil {
					if err != nil {
						t.Fatalf("compact without crash: %v", err)
					}
					if k < 8 {
						t.Fatalf("only %d swap steps", k)
					}
					if name == "merge" && res.SegmentsAfter >= res.Segments {
						t.Fatalf("no merge: %+v", res)
					}
					t.Logf("crashed at each of %d swap steps; %d segments before, %d swapped out for %d", k, before, res.Segments, res.SegmentsAfter)
					return
				}
				l2, err := Open("/p", opts(img))
				if err != nil {
					t.Fatalf("crash at step %d (%s): reopen: %v", k, where, err)
				}
				if err := l2.Check(); err != nil {
					t.Fatalf("crash at step %d (%s): %v", k, where, err)
				}
				m.checkSafe(t, readRecords(t, l2), 0)
				// The reopened log compacts to completion.
				if _, err := l2.Compact(CompactOptions{Force: true}); err != nil {
					t.Fatalf("crash at step %d (%s): compact after reopen: %v", k, where, err)
				}
				if err := l2.Check(); err != nil {
					t.Fatalf("crash at step %d (%s): check after compact: %v", k, where, err)
				}
				m.checkSafe(t, readRecords(t, l2), 0)
				l2.Close()
			}
		})
	}
}

// TestLogCrashCompactErrorFS fails the n-th file-system mutation of a compaction pass
// (errorfs) for every n, with segments cleaned one by one and merged: the pass fails or
// completes, and the log reopened on the same files is valid and keeps every record it
// must.
func TestLogCrashCompactErrorFS(t *testing.T) {
	for name, opts := range map[string]func(vfs.FS) *Options{"one-by-one": crashOpts, "merge": mergeOpts} {
		t.Run(name, func(t *testing.T) {
			for n := int64(0); ; n++ {
				mem := vfs.NewMem()
				m := buildCompactable(t, mem, "/p")
				var on atomic.Bool
				var count atomic.Int64
				var fired atomic.Bool
				efs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
					if on.Load() && op.IsMutation() && count.Add(1)-1 == n {
						fired.Store(true)
						return errorfs.ErrInjected
					}
					return nil
				}))
				l, err := Open("/p", opts(efs))
				if err != nil {
					t.Fatal(err)
				}
				on.Store(true)
				_, cerr := l.Compact(CompactOptions{Force: true})
				on.Store(false)
				l.Close()
				if !fired.Load() {
					if cerr != nil {
						t.Fatalf("compact: %v", cerr)
					}
					if n < 10 {
						t.Fatalf("only %d mutations", n)
					}
					t.Logf("failed each of %d mutations", n)
					return
				}
				l2, err := Open("/p", opts(mem))
				if err != nil {
					t.Fatalf("fail op %d: reopen: %v", n, err)
				}
				if err := l2.Check(); err != nil {
					t.Fatalf("fail op %d: %v", n, err)
				}
				m.checkSafe(t, readRecords(t, l2), 0)
				l2.Close()
			}
		})
	}
}

// TestLogCompactKeepsBatchFields checks that a batch re-encoded by compaction keeps its
// codec, base offset, last offset delta, timestamps and producer fields.
func TestLogCompactKeepsBatchFields(t *testing.T) {
	for _, codec := range codecs {
		t.Run(records.CodecName(codec), func(t *testing.T) {
			o := memOpts(vfs.NewMem())
			o.RetentionMs = -1
			l := openLog(t, "/p", o)
			rs := []rec{{key: []byte("a"), value: []byte("1"), ts: 100}, {key: []byte("b"), value: []byte("2"), ts: 105, hdr: "x"}, {key: []byte("a"), value: []byte("3"), ts: 107}}
			b := keyedBatch(t, rs, codec, 42)
			want, _ := batch.ParseHeader(b)
			mustAppend(t, l, b)
			for l.Segments()[0].Active {
				mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("c"), value: bytes.Repeat([]byte("z"), 500), ts: 200}}, codec, -1))
			}
			if _, err := l.Compact(CompactOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			var got batch.Header
			l.Scan(0, func(h batch.Header, _ []byte) error {
				if h.BaseOffset == 0 {
					got = h
				}
				return nil
			})
			if got.RecordCount != 2 || got.Codec() != codec || got.LastOffsetDelta != 2 || got.BaseTimestamp != want.BaseTimestamp ||
				got.MaxTimestamp != want.MaxTimestamp || got.ProducerID != 42 || got.ProducerEpoch != want.ProducerEpoch || got.BaseSequence != want.BaseSequence {
				t.Fatalf("compacted header %+v, original %+v", got, want)
			}
			recs := readRecords(t, l)
			if recs[0].off != 1 || string(recs[0].key) != "b" || recs[0].hdr != "x" || recs[0].ts != 105 || recs[1].off != 2 || string(recs[1].value) != "3" {
				t.Fatalf("records %+v", recs[:2])
			}
		})
	}
}

// TestLogCompactLag checks min.compaction.lag.ms (young segments untouched), the dirty
// ratio threshold and max.compaction.lag.ms (forces a pass below the ratio).
func TestLogCompactLag(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	o := memOpts(vfs.NewMem())
	o.Now, o.RetentionMs = clk.Now, -1
	l := openLog(t, "/p", o)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("k"), value: bytes.Repeat([]byte("v"), 200), ts: clk.Now().UnixMilli()}}, batch.CodecNone, -1))
	}
	res, err := l.Compact(CompactOptions{MinLag: time.Hour, MinCleanableRatio: 0.1})
	if err != nil || res.Cleaned {
		t.Fatalf("young log compacted: %+v %v", res, err)
	}
	clk.Add(2 * time.Hour)
	res, err = l.Compact(CompactOptions{MinLag: time.Hour, MinCleanableRatio: 0.1})
	if err != nil || !res.Cleaned || res.Segments == 0 {
		t.Fatalf("old log not compacted: %+v %v", res, err)
	}
	// Now mostly clean: a little more dirty data stays below the ratio ...
	for i := 0; i < 20; i++ {
		mustAppend(t, l, keyedBatch(t, []rec{{key: []byte("k"), value: bytes.Repeat([]byte("v"), 200), ts: clk.Now().UnixMilli()}}, batch.CodecNone, -1))
	}
	if res, err = l.Compact(CompactOptions{MinCleanableRatio: 0.99}); err != nil || res.Cleaned {
		t.Fatalf("compacted below the ratio: %+v %v", res, err)
	}
	// ... until it is older than max.compaction.lag.ms.
	clk.Add(time.Hour)
	if res, err = l.Compact(CompactOptions{MinCleanableRatio: 0.99, MaxLag: time.Minute}); err != nil || !res.Cleaned {
		t.Fatalf("max lag did not force a pass: %+v %v", res, err)
	}
}

// TestLogRetentionOnlyClosedInOrder checks that retention deletes the oldest closed
// segments in order and never the active one, even when every segment is expired.
func TestLogRetentionOnlyClosedInOrder(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	o := memOpts(vfs.NewMem())
	o.Now, o.RetentionMs = clk.Now, time.Minute
	l := openLog(t, "/p", o)
	for i := 0; i < 30; i++ {
		mustAppend(t, l, mkBatch(1, 200, clk.Now().UnixMilli()+int64(i)*1000, byte(i)))
	}
	before := l.Segments()
	// Expire the segments one at a time (max timestamps grow): each run deletes a prefix.
	deleted := 0
	for i := 0; deleted < len(before)-1; i++ {
		clk.Add(2 * time.Second)
		n, err := l.EnforceRetention()
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
		segs := l.Segments()
		if len(segs) != len(before)-deleted || segs[0].BaseOffset != before[deleted].BaseOffset || l.StartOffset() != segs[0].BaseOffset {
			t.Fatalf("after deleting %d: segments %+v, start %d", deleted, segs, l.StartOffset())
		}
		if i > 1000 {
			t.Fatal("retention never reached the active segment")
		}
	}
	clk.Add(time.Hour)
	if n, err := l.EnforceRetention(); err != nil || n != 0 {
		t.Fatalf("deleted the active segment: %d %v", n, err)
	}
	if segs := l.Segments(); len(segs) != 1 || !segs[0].Active {
		t.Fatalf("segments %+v", segs)
	}
}

// TestNoRaceRetentionDoesNotBlockAppend blocks retention inside its file work (the rename
// of a deleted segment) and checks that appends and reads complete meanwhile: no log lock
// is held across it.
func TestNoRaceRetentionDoesNotBlockAppend(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	blocked, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	efs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if op == errorfs.OpRename && armed.CompareAndSwap(true, false) {
			close(blocked)
			<-release
		}
		return nil
	}))
	o := memOpts(efs)
	o.Now, o.RetentionMs = clk.Now, time.Minute
	l := openLog(t, "/p", o)
	for i := 0; i < 20; i++ {
		mustAppend(t, l, mkBatch(1, 200, clk.Now().UnixMilli(), byte(i)))
	}
	clk.Add(time.Hour)
	armed.Store(true)
	done := make(chan error, 1)
	go func() { _, err := l.EnforceRetention(); done <- err }()
	<-blocked
	mustAppend(t, l, mkBatch(1, 200, clk.Now().UnixMilli(), 1))
	if _, err := l.ReadCopy(l.StartOffset(), 1000, l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
