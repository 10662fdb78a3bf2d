package segment

import (
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
)

// BenchmarkSegmentDropCache: the process's CPU per GiB appended in 1 MiB batches with
// a Sync every 8 MiB, as a follower writes, keeping the pages cached or dropping them
// after each Sync (DropCache). Segments roll at 1 GiB and stay until the end, so the
// page cache grows as a broker's does. Run it long enough to use more memory than the
// machine has just freed (-benchtime 8192x: 8 GiB): on a VM whose free memory goes
// back to the host, fresh pages cost far more than reused ones (docs/benchmarks.md).
func BenchmarkSegmentDropCache(b *testing.B) {
	for _, drop := range []bool{false, true} {
		name := "keep"
		if drop {
			name = "drop"
		}
		b.Run(name, func(b *testing.B) {
			const size, perSync, perSegment = 1 << 20, 8, 1024
			dir := b.TempDir()
			rec := testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: size - 200})
			h, _ := batch.ParseHeader(rec)
			var segs []*Segment
			defer func() {
				for _, s := range segs {
					s.Release()
				}
			}()
			b.SetBytes(int64(len(rec)))
			c0 := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				if i%perSegment == 0 {
					s, err := Create(vfs.Default, dir, int64(i), opts, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					segs = append(segs, s)
				}
				s := segs[len(segs)-1]
				batch.SetBaseOffset(rec, int64(i))
				if err := s.Append(rec, []BatchInfo{{Base: int64(i), Last: int64(i), MaxTimestamp: h.MaxTimestamp, Size: len(rec)}}); err != nil {
					b.Fatal(err)
				}
				if (i+1)%perSync == 0 {
					if err := s.Sync(false); err != nil {
						b.Fatal(err)
					}
					if drop {
						s.DropCache()
					}
				}
			}
			b.StopTimer()
			b.ReportMetric((cpuTime()-c0).Seconds()/(float64(b.N)*float64(len(rec))/(1<<30)), "cpu-s/GiB")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
