package log

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/fds"
	"github.com/stratalog/strata/internal/vfs"
)

// benchBatch is a ~16 KiB batch of recordSize-byte records.
func benchBatch(recordSize int) []byte {
	return testutil.SizedBatch(16<<10, recordSize, time.Now().UnixMilli())
}

// BenchmarkLogAppend measures append throughput on a real directory: non-durable
// (flush.messages huge, no fsync on the path) and durable group commit with 1, 4, 16 and
// 64 concurrent appenders, each doing Append then WaitDurable. It reports the flushes per
// append (flushes/op) and the process's CPU time per append (cpu-us/op).
func BenchmarkLogAppend(b *testing.B) {
	for _, rs := range []int{100, 1024} {
		for _, mode := range []struct {
			name    string
			durable bool
			writers int
		}{{"nondurable", false, 1}, {"durable-1", true, 1}, {"durable-4", true, 4}, {"durable-16", true, 16}, {"durable-64", true, 64}} {
			b.Run(fmt.Sprintf("rec=%dB/%s", rs, mode.name), func(b *testing.B) {
				var flushes atomic.Int64
				o := &Options{Logger: quiet, SegmentBytes: 256 << 20, OnFlush: func(time.Duration) { flushes.Add(1) }}
				if !mode.durable {
					o.FlushMessages = 1 << 62
				}
				l, err := Open(b.TempDir(), o)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				proto := benchBatch(rs)
				b.SetBytes(int64(len(proto)))
				b.ReportAllocs()
				b.ResetTimer()
				flushes.Store(0)
				cpu0 := cpuTime(b)
				var wg sync.WaitGroup
				per := b.N / mode.writers
				for w := 0; w < mode.writers; w++ {
					n := per
					if w == 0 {
						n += b.N % mode.writers
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := append([]byte(nil), proto...)
						for i := 0; i < n; i++ {
							info, err := l.Append(buf, 0)
							if err != nil {
								b.Error(err)
								return
							}
							if mode.durable {
								if err := l.WaitDurable(info.LastOffset + 1); err != nil {
									b.Error(err)
									return
								}
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				reportFlushCPU(b, flushes.Load(), cpuTime(b)-cpu0)
			})
		}
	}
}

// reportFlushCPU reports flushes and CPU time per operation.
func reportFlushCPU(b *testing.B, flushes int64, cpu time.Duration) {
	b.ReportMetric(float64(flushes)/float64(b.N), "flushes/op")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLogRead reads a warm segment sequentially in 1 MiB fetches (copying out).
func BenchmarkLogRead(b *testing.B) {
	l, err := Open(b.TempDir(), &Options{Logger: quiet, FlushMessages: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	proto := benchBatch(1024)
	for l.Size() < 256<<20 {
		if _, err := l.Append(append([]byte(nil), proto...), 0); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 2<<20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	off := int64(0)
	for i := 0; i < b.N; i++ {
		c, err := l.Read(off, 1<<20, l.EndOffset())
		if err != nil {
			b.Fatal(err)
		}
		if c.Len() == 0 {
			off = 0
			c.Release()
			continue
		}
		if _, err := c.ReadAt(buf[:c.Len()], 0); err != nil {
			b.Fatal(err)
		}
		off = l.EndOffset()
		if h, _, _ := lastOffsetOf(buf[:c.Len()]); h >= 0 {
			off = h + 1
		}
		c.Release()
	}
}

// lastOffsetOf returns the last offset of the last batch in b.
func lastOffsetOf(b []byte) (int64, int, error) {
	last := int64(-1)
	n := 0
	for len(b) > 0 {
		m := int(int32(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11]))) + 12
		base := int64(0)
		for _, c := range b[:8] {
			base = base<<8 | int64(c)
		}
		delta := int64(int32(uint32(b[23])<<24 | uint32(b[24])<<16 | uint32(b[25])<<8 | uint32(b[26])))
		last = base + delta
		b = b[m:]
		n++
	}
	return last, n, nil
}

// TestLogRecoveryTime builds a 1 GiB log, simulates an unclean shutdown (clean marker and
// recovery point removed: the worst case, a full rescan with CRC of every batch) and
// times Open. Set STRATA_RECOVERY_BENCH=1 to run it (it writes 1 GiB); progress is logged.
func TestLogRecoveryTime(t *testing.T) {
	if os.Getenv("STRATA_RECOVERY_BENCH") == "" {
		t.Log("set STRATA_RECOVERY_BENCH=1 to build a 1 GiB log and time its recovery")
		return
	}
	dir := t.TempDir()
	o := &Options{Logger: quiet, FlushMessages: 1 << 62}
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	proto := benchBatch(1024)
	start := time.Now()
	for next := int64(128 << 20); l.Size() < 1<<30; {
		if _, err := l.Append(append([]byte(nil), proto...), 0); err != nil {
			t.Fatal(err)
		}
		if l.Size() >= next {
			t.Logf("built %d MiB in %v", l.Size()>>20, time.Since(start).Round(time.Millisecond))
			next += 128 << 20
		}
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CleanMarker, RecoveryPointFile} {
		if err := vfs.Default.Remove(dir + "/" + name); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	l2, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	defer l2.Close()
	if l2.EndOffset() != end {
		t.Fatalf("recovered end %d want %d", l2.EndOffset(), end)
	}
	t.Logf("recovery of %d MiB (full rescan, warm page cache): %v (%.0f MiB/s)", l2.Size()>>20, took, float64(l2.Size()>>20)/took.Seconds())
	fmt.Fprintf(io.Discard, "")
}

// BenchmarkLogOpen opens (and closes) a cleanly closed log of 1,000 sealed segments on a
// real directory: the startup cost per partition with history. It reports the file
// descriptors the open log holds (fds).
func BenchmarkLogOpen(b *testing.B) {
	dir := b.TempDir()
	o := &Options{Logger: quiet, SegmentBytes: 16 << 10, SegmentIndexBytes: 4096, FlushMessages: 1 << 62}
	l, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(1024)
	for len(l.Segments()) < 1000 {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	held := 0
	for b.Loop() {
		before, _ := fds.Count()
		l, err := Open(dir, o)
		if err != nil {
			b.Fatal(err)
		}
		after, _ := fds.Count()
		held = after - before
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(held), "fds")
}

// BenchmarkLogReadFixed is the log's part of one client hammering Fetch: Read of the same
// offset (one ~1 KiB batch) and Release, in a sealed segment and in the active one: the
// fixed cost per fetch (lookups, references), without the copy.
func BenchmarkLogReadFixed(b *testing.B) {
	l, err := Open(b.TempDir(), &Options{Logger: quiet, FlushMessages: 1 << 62, SegmentBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	proto := testutil.SizedBatch(1<<10, 100, time.Now().UnixMilli())
	for len(l.Segments()) < 3 {
		if _, err := l.Append(append([]byte(nil), proto...), 0); err != nil {
			b.Fatal(err)
		}
	}
	for name, off := range map[string]int64{"sealed": l.Segments()[1].BaseOffset + 100, "active": l.EndOffset() - 1} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := l.Read(off, 1, l.EndOffset())
				if err != nil || c.Len() == 0 {
					b.Fatal(err)
				}
				c.Release()
			}
		})
	}
}
