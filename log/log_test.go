package log

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
)

var seedFlag = flag.Int64("seed", 0, "seed for randomized tests (0: time-based)")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func memOpts(fs vfs.FS) *Options {
	return &Options{FS: fs, Logger: quiet, SegmentBytes: 4096, SegmentIndexBytes: 1024, IndexIntervalBytes: 256}
}

// openLog opens a log and registers a Check + Close in t.Cleanup.
func openLog(t testing.TB, dir string, o *Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if !l.closed.Load() {
			if err := l.Check(); err != nil {
				t.Errorf("cleanup check: %v", err)
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("cleanup close: %v", err)
		}
	})
	return l
}

func mkBatch(records, size int, ts int64, seed byte) []byte {
	return testutil.Batch(testutil.BatchOptions{Records: records, ValueSize: size, Timestamp: ts, TimestampStep: 1, Seed: seed})
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendInfo {
	t.Helper()
	info, err := l.Append(b, 3)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := l.WaitDurable(info.LastOffset + 1); err != nil {
		t.Fatalf("wait durable: %v", err)
	}
	return info
}

// readAll returns every batch from offset start (base offsets and bytes) via Read.
func readAll(t testing.TB, l *Log, from int64) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	off := from
	for off < l.EndOffset() {
		b, err := l.ReadCopy(off, 1, l.EndOffset())
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("read %d: empty below end %d", off, l.EndOffset())
		}
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		out[h.BaseOffset] = b
		off = h.LastOffset() + 1
	}
	return out
}

func TestLogAppendRead(t *testing.T) {
	for _, durable := range []bool{true, false} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			o := memOpts(vfs.NewMem())
			if !durable {
				o.FlushMessages = 5
			}
			l := openLog(t, "/p", o)
			var want [][]byte
			var bases []int64
			for i := 0; i < 50; i++ {
				b := mkBatch(1+i%4, 50+i*3, int64(1000+i*10), byte(i))
				info := mustAppend(t, l, b)
				if i > 0 && info.BaseOffset != bases[i-1]+int64(1+(i-1)%4) {
					t.Fatalf("append %d base %d", i, info.BaseOffset)
				}
				bases = append(bases, info.BaseOffset)
				want = append(want, b)
			}
			if len(l.Segments()) < 3 {
				t.Fatalf("expected rolls, got %d segments", len(l.Segments()))
			}
			got := readAll(t, l, 0)
			for i, b := range want {
				h, _ := batch.ParseHeader(b)
				if h.BaseOffset != bases[i] || h.LeaderEpoch != 3 {
					t.Fatalf("batch %d not stamped: %+v", i, h)
				}
				if !bytes.Equal(got[bases[i]], b) {
					t.Fatalf("batch %d differs", i)
				}
			}
			// Read in the middle of a batch returns the batch containing it.
			c, err := l.Read(bases[10]+1, 1, l.EndOffset())
			if err != nil || c.Len() == 0 {
				t.Fatalf("read mid: %v", err)
			}
			bb, _ := c.Bytes()
			c.Release()
			c.Release()
			if h, _ := batch.ParseHeader(bb); h.BaseOffset > bases[10]+1 || c.Next() != h.LastOffset()+1 {
				t.Fatalf("mid read got base %d, next %d", h.BaseOffset, c.Next())
			}
			// Next is the offset after the chunk's last batch.
			if c, err := l.Read(bases[5], 1<<20, bases[7]); err != nil || c.Next() != bases[7] {
				t.Fatalf("chunk of batches 5 and 6: next %d, want %d (%v)", c.Next(), bases[7], err)
			} else {
				c.Release()
			}
			// maxOffset bounds the read.
			if c, err := l.Read(bases[5], 1<<20, bases[5]); err != nil || c.Len() != 0 {
				t.Fatalf("read at max offset: %v len %d", err, c.Len())
			}
			b6, _ := l.ReadCopy(bases[5], 1<<20, bases[7])
			if !bytes.Equal(b6, append(append([]byte(nil), want[5]...), want[6]...)) {
				t.Fatalf("bounded read returned %d bytes", len(b6))
			}
			// End and out of range.
			if c, err := l.Read(l.EndOffset(), 100, l.EndOffset()); err != nil || c.Len() != 0 {
				t.Fatalf("read at end: %v", err)
			}
			if _, err := l.Read(l.EndOffset()+1, 100, l.EndOffset()+5); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read past end: %v", err)
			}
			if l.DurableEnd() != l.EndOffset() {
				t.Fatalf("durable end %d, end %d", l.DurableEnd(), l.EndOffset())
			}
			// Reopen after a clean close keeps everything.
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openLog(t, "/p", o)
			if l2.EndOffset() != end {
				t.Fatalf("reopen end %d want %d", l2.EndOffset(), end)
			}
			got2 := readAll(t, l2, 0)
			for i := range want {
				if !bytes.Equal(got2[bases[i]], want[i]) {
					t.Fatalf("after reopen batch %d differs", i)
				}
			}
			mustAppend(t, l2, mkBatch(2, 10, 5000, 9))
			if l2.EndOffset() != end+2 {
				t.Fatalf("append after reopen: end %d", l2.EndOffset())
			}
		})
	}
}

func TestLogAppendInvalid(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	good := mkBatch(2, 10, 1, 0)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff // CRC mismatch
	badMagic := append([]byte(nil), good...)
	badMagic[16] = 1
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrInvalidBatch},
		{"crc", append(append([]byte(nil), good...), bad...), batch.ErrCorrupt},
		{"torn", good[:len(good)-3], ErrCorrupt},
		{"magic", badMagic, batch.ErrInvalid},
		{"garbage", []byte{1, 2, 3}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Append(tc.b, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v want %v", err, tc.want)
			}
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("not a BatchError: %T", err)
			}
			if l.EndOffset() != 0 || l.Size() != 0 {
				t.Fatalf("something was written")
			}
		})
	}
	// AppendValidated trusts the CRCs (the caller validated) but still refuses broken
	// framing with nothing written.
	for _, b := range [][]byte{nil, good[:len(good)-3], {1, 2, 3}} {
		if _, err := l.AppendValidated(b, 0); err == nil || l.EndOffset() != 0 || l.Size() != 0 {
			t.Fatalf("AppendValidated of %d bad bytes: %v, end %d", len(b), err, l.EndOffset())
		}
	}
	if info, err := l.AppendValidated(append(append([]byte(nil), good...), good...), 0); err != nil || info.LastOffset != 3 {
		t.Fatalf("AppendValidated: %+v, %v", info, err)
	}
	o := memOpts(vfs.NewMem())
	l2 := openLog(t, "/q", o)
	if _, err := l2.Append(mkBatch(100, 100, 1, 0), 0); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("too large: %v", err)
	}
}

func TestLogRetention(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000)}
	o := memOpts(vfs.NewMem())
	o.Now = clk.Now
	o.RetentionMs = time.Hour
	l := openLog(t, "/p", o)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, mkBatch(1, 200, int64(1_000_000+i), byte(i)))
	}
	segs := l.Segments()
	if n, err := l.EnforceRetention(); err != nil || n != 0 {
		t.Fatalf("nothing expired yet: %d %v", n, err)
	}
	clk.Add(2 * time.Hour)
	n, err := l.EnforceRetention()
	if err != nil || n != len(segs)-1 {
		t.Fatalf("retention by time deleted %d of %d: %v", n, len(segs), err)
	}
	if l.StartOffset() != segs[len(segs)-1].BaseOffset {
		t.Fatalf("start %d", l.StartOffset())
	}
	if _, err := l.Read(0, 100, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	// By size.
	l.Reconfigure(Options{SegmentBytes: 4096, SegmentIndexBytes: 1024, IndexIntervalBytes: 256, RetentionBytes: 5000, RetentionMs: -1})
	for i := 0; i < 60; i++ {
		mustAppend(t, l, mkBatch(1, 200, clk.Now().UnixMilli(), byte(i)))
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.Size() > 5000+4096 {
		t.Fatalf("size %d after retention.bytes 5000", l.Size())
	}
	// Persisted start offset.
	start := l.StartOffset()
	l.Close()
	l2 := openLog(t, "/p", o)
	if l2.StartOffset() != start {
		t.Fatalf("start after reopen %d want %d", l2.StartOffset(), start)
	}
}

func TestLogSetStartOffset(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, "/p", memOpts(fs))
	for i := 0; i < 30; i++ {
		mustAppend(t, l, mkBatch(2, 200, int64(i), byte(i)))
	}
	if err := l.SetStartOffset(l.EndOffset() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond end: %v", err)
	}
	if err := l.SetStartOffset(21); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 21 || l.Segments()[0].NextOffset <= 21 {
		t.Fatalf("start %d segs %+v", l.StartOffset(), l.Segments()[0])
	}
	// The checkpoint is durable at once.
	c := fs.CrashClone()
	l2 := openLog(t, "/p", memOpts(c))
	if l2.StartOffset() != 21 {
		t.Fatalf("crash clone start %d", l2.StartOffset())
	}
	// Start == end: everything goes, appends continue.
	if err := l.SetStartOffset(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if len(l.Segments()) != 1 || l.Size() != 0 {
		t.Fatalf("segments %+v", l.Segments())
	}
	mustAppend(t, l, mkBatch(1, 10, 1, 1))
}

func TestLogTruncate(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	var bases []int64
	var want [][]byte
	for i := 0; i < 40; i++ {
		b := mkBatch(3, 150, int64(i*10), byte(i))
		bases = append(bases, mustAppend(t, l, b).BaseOffset)
		want = append(want, b)
	}
	for _, tc := range []struct {
		off, end int64
	}{
		{bases[35] + 1, bases[35]}, // mid-batch: the batch goes
		{bases[30], bases[30]},
		{bases[12], bases[12]},
	} {
		if err := l.Truncate(tc.off); err != nil {
			t.Fatal(err)
		}
		if l.EndOffset() != tc.end {
			t.Fatalf("truncate %d: end %d want %d", tc.off, l.EndOffset(), tc.end)
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Truncate(l.EndOffset() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("%v", err)
	}
	got := readAll(t, l, 0)
	if len(got) != 12 {
		t.Fatalf("%d batches left", len(got))
	}
	for i, w := range want[:12] {
		if !bytes.Equal(got[bases[i]], w) {
			t.Fatalf("batch %d at %d changed by truncation", i, bases[i])
		}
	}
	b := mkBatch(2, 100, 999, 77)
	info := mustAppend(t, l, b)
	if info.BaseOffset != bases[12] {
		t.Fatalf("append after truncate at %d", info.BaseOffset)
	}
	ts, off := l.MaxTimestamp()
	if ts != 999+1 || off != bases[12] {
		t.Fatalf("max timestamp %d at %d", ts, off)
	}
}

func TestLogOffsetForTimestamp(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	var bases []int64
	for i := 0; i < 60; i++ {
		bases = append(bases, mustAppend(t, l, mkBatch(2, 100, int64(1000+i*10), byte(i))).BaseOffset)
	}
	for _, tc := range []struct {
		ts    int64
		found bool
		base  int64
	}{
		{0, true, 0},
		{1000, true, 0},
		{1001, true, 0},
		{1002, true, bases[1]},
		{1255, true, bases[26]},
		{1000 + 59*10 + 1, true, bases[59]},
		{1000 + 59*10 + 2, false, 0},
	} {
		off, mts, found, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || found != tc.found || (found && off != tc.base) || (found && mts < tc.ts) {
			t.Fatalf("ts %d: off %d mts %d found %v err %v; want %d %v", tc.ts, off, mts, found, err, tc.base, tc.found)
		}
	}
	ts, off := l.MaxTimestamp()
	if ts != 1000+59*10+1 || off != bases[59] {
		t.Fatalf("max ts %d off %d", ts, off)
	}
}

func TestLogScan(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	for i := 0; i < 30; i++ {
		mustAppend(t, l, mkBatch(2, 150, int64(i), byte(i)))
	}
	var got []int64
	err := l.Scan(11, func(h batch.Header, b []byte) error {
		if _, err := batch.Validate(b); err != nil {
			return err
		}
		got = append(got, h.BaseOffset)
		return nil
	})
	if err != nil || len(got) != 25 || got[0] != 10 {
		t.Fatalf("scan: %v %v", got, err)
	}
}

func TestLogSegmentMs(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(0)}
	o := memOpts(vfs.NewMem())
	o.SegmentBytes = 1 << 20
	o.SegmentMs = time.Minute
	o.Now = clk.Now
	l := openLog(t, "/p", o)
	mustAppend(t, l, mkBatch(1, 10, 1, 0))
	mustAppend(t, l, mkBatch(1, 10, 1, 0))
	clk.Add(2 * time.Minute)
	mustAppend(t, l, mkBatch(1, 10, 1, 0))
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments", n)
	}
}

// TestLogWhenDurable checks that a WhenDurable callback is called exactly once: at once
// when durable already, after the flush otherwise, with ErrTruncated when a truncation
// drops its offsets, and with ErrClosed when the log closes first.
func TestLogWhenDurable(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{Logger: quiet, SegmentBytes: 64 << 10})
	calls := make(chan error, 4)
	cb := func(err error) { calls <- err }
	info := mustAppend(t, l, mkBatch(2, 10, 1, 0))
	l.WhenDurable(info.LastOffset+1, cb)
	if err := <-calls; err != nil {
		t.Fatalf("after flush: %v", err)
	}
	l.WhenDurable(info.LastOffset+1, cb) // durable already: called before returning
	select {
	case err := <-calls:
		if err != nil {
			t.Fatalf("durable already: %v", err)
		}
	default:
		t.Fatal("not called at once although durable")
	}
	// Hold the flusher so that the next callbacks stay registered.
	l.flushMu.Lock()
	info2, err := l.Append(mkBatch(2, 10, 2, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	l.WhenDurable(info2.LastOffset+1, cb)
	l.flushMu.Unlock()
	if err := l.Truncate(info2.BaseOffset); err != nil {
		t.Fatal(err)
	}
	if err := <-calls; !errors.Is(err, ErrTruncated) && err != nil {
		t.Fatalf("truncated: %v", err) // nil when the flush won the race with Truncate
	}
	l.flushMu.Lock()
	info3, err := l.Append(mkBatch(2, 10, 3, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	l.WhenDurable(info3.LastOffset+1, cb)
	l.flushMu.Unlock()
	if err := <-calls; err != nil {
		t.Fatalf("after flush: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.WhenDurable(info3.LastOffset+1, cb)
	if err := <-calls; err != nil {
		t.Fatalf("durable before close: %v", err)
	}
	if len(calls) != 0 {
		t.Fatalf("%d extra calls", len(calls))
	}
}

func TestLogOnDurableAndGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{Logger: quiet, SegmentBytes: 64 << 10})
	var mu sync.Mutex
	var seen []int64
	l.OnDurable(func(end int64) {
		time.Sleep(100 * time.Microsecond) // a slow observer: waiters must still not overtake it
		mu.Lock()
		seen = append(seen, end)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				b := mkBatch(2, 100, int64(i), byte(g))
				info, err := l.Append(b, 0)
				if err != nil {
					t.Error(err)
					return
				}
				wait := l.WaitDurable
				if g%2 == 1 { // half the writers wait through the callback
					wait = func(end int64) error {
						ch := make(chan error, 1)
						l.WhenDurable(end, func(err error) { ch <- err })
						return <-ch
					}
				}
				if err := wait(info.LastOffset + 1); err != nil {
					t.Error(err)
					return
				}
				if l.DurableEnd() <= info.LastOffset {
					t.Errorf("durable end %d <= %d", l.DurableEnd(), info.LastOffset)
				}
				// OnDurable observers (the partition's high watermark) run before the
				// waiters wake: an acknowledged record is visible to a fetch sent next.
				mu.Lock()
				observed := int64(-1)
				if len(seen) > 0 {
					observed = seen[len(seen)-1]
				}
				mu.Unlock()
				if observed <= info.LastOffset {
					t.Errorf("WaitDurable(%d) returned before OnDurable saw it (last seen %d)", info.LastOffset+1, observed)
				}
			}
		}()
	}
	// Concurrent readers.
	done := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			end := l.EndOffset()
			if end == 0 {
				continue
			}
			b, err := l.ReadCopy(end/2, 4096, end)
			if err != nil {
				t.Error(err)
				return
			}
			if len(b) > 0 {
				if _, err := batch.Next(b); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(done)
	rwg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[len(seen)-1] != l.EndOffset() {
		t.Fatalf("OnDurable saw %v, end %d", seen, l.EndOffset())
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("OnDurable not increasing: %v", seen)
		}
	}
}

func TestLogChunkKeepsDeletedSegment(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{Logger: quiet, SegmentBytes: 4096, SegmentIndexBytes: 1024})
	var first []byte
	for i := 0; i < 20; i++ {
		b := mkBatch(1, 500, int64(i), byte(i))
		if i == 0 {
			first = append([]byte(nil), b...)
		}
		mustAppend(t, l, b)
	}
	c, err := l.Read(0, 100, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetStartOffset(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	c.Release()
	h, _ := batch.ParseHeader(buf.Bytes())
	batch.SetBaseOffset(first, h.BaseOffset)
	batch.SetLeaderEpoch(first, 3)
	if !bytes.Equal(buf.Bytes(), first) {
		t.Fatalf("chunk of deleted segment differs")
	}
	var nilChunk *Chunk
	nilChunk.Release()
	if nilChunk.Len() != 0 {
		t.Fatal("nil chunk")
	}
}

func TestLogCloseIdempotentAndDelete(t *testing.T) {
	fs := vfs.NewMem()
	l, err := Open("/p", memOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, mkBatch(1, 10, 1, 0))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(mkBatch(1, 10, 1, 0), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := fs.Stat("/p/" + CleanMarker); err != nil {
		t.Fatalf("clean marker: %v", err)
	}
	l2, err := Open("/p", memOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/p/" + CleanMarker); err == nil {
		t.Fatalf("clean marker still present after open")
	}
	if _, err := Open("/p", memOpts(fs)); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if err := l2.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/p"); err == nil {
		t.Fatal("dir survives Delete")
	}
}

func TestLogOptions(t *testing.T) {
	for _, tc := range []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{Options{SegmentBytes: 10}, false},
		{Options{SegmentBytes: 1 << 40}, false},
		{Options{SegmentIndexBytes: 8}, false},
		{Options{FlushMs: -1}, false},
	} {
		tc.o.EnsureDefaults()
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.o, err)
		}
	}
}

// TestLogOnFlush checks the fsync hook: every durable append's flush reports its time,
// Reconfigure keeps the hook, and a failed flush reports nothing.
func TestLogOnFlush(t *testing.T) {
	var mu sync.Mutex
	var flushes []time.Duration
	o := memOpts(vfs.NewMem())
	o.OnFlush = func(d time.Duration) {
		mu.Lock()
		flushes = append(flushes, d)
		mu.Unlock()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(flushes)
	}
	l := openLog(t, "p", o)
	mustAppend(t, l, mkBatch(3, 10, 1, 1))
	if n := count(); n < 1 {
		t.Fatalf("no flush reported after a durable append")
	}
	if err := l.Reconfigure(Options{SegmentBytes: 4096, SegmentIndexBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	before := count()
	mustAppend(t, l, mkBatch(3, 10, 2, 2))
	if count() <= before {
		t.Fatalf("no flush reported after Reconfigure")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, d := range flushes {
		if d < 0 {
			t.Fatalf("negative flush time %v", d)
		}
	}
}
