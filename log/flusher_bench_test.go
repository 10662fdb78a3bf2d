package log

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLogAppendPartitions is durable append to 8 logs in one directory (a broker's
// partitions), 1 KiB records in ~16 KiB batches, the logs sharing one Flusher or each
// running its own, in two workloads: "requests", clients that each append one batch to
// every log and then wait until all 8 are durable (an 8-partition acks=all produce
// request), and "independent", appenders of one log each doing Append then WaitDurable.
// An op is one batch. It reports flushes (one log's fsyncs) and flusher rounds per batch,
// and the process's CPU per batch.
func BenchmarkLogAppendPartitions(b *testing.B) {
	const nlogs = 8
	for _, shared := range []bool{false, true} {
		for _, w := range []struct {
			name    string
			request bool
			writers int
		}{{"requests=1", true, 1}, {"requests=4", true, 4}, {"independent=8x1", false, 1}, {"independent=8x4", false, 4}} {
			name := "own"
			if shared {
				name = "shared"
			}
			b.Run(fmt.Sprintf("flusher=%s/%s", name, w.name), func(b *testing.B) {
				var flushes atomic.Int64
				var f *Flusher
				if shared {
					f = NewFlusher()
					defer f.Close()
				}
				dir := b.TempDir()
				logs := make([]*Log, nlogs)
				for i := range logs {
					l, err := Open(filepath.Join(dir, fmt.Sprint(i)), &Options{Logger: quiet, SegmentBytes: 256 << 20, Flusher: f,
						OnFlush: func(time.Duration) { flushes.Add(1) }})
					if err != nil {
						b.Fatal(err)
					}
					defer l.Close()
					logs[i] = l
				}
				proto := benchBatch(1024)
				b.SetBytes(int64(len(proto)))
				b.ReportAllocs()
				b.ResetTimer()
				flushes.Store(0)
				if f != nil {
					f.rounds.Store(0)
				}
				cpu0 := cpuTime(b)
				var wg sync.WaitGroup
				var next atomic.Int64
				for range w.writers {
					if !w.request {
						break
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						bufs := make([][]byte, nlogs)
						ends := make([]int64, nlogs)
						for next.Add(nlogs) <= int64(b.N)+nlogs-1 {
							for i, l := range logs {
								bufs[i] = append(bufs[i][:0], proto...)
								info, err := l.Append(bufs[i], 0)
								if err != nil {
									b.Error(err)
									return
								}
								ends[i] = info.LastOffset + 1
							}
							for i, l := range logs {
								if err := l.WaitDurable(ends[i]); err != nil {
									b.Error(err)
									return
								}
							}
						}
					}()
				}
				for _, l := range logs {
					for range w.writers {
						if w.request {
							break
						}
						wg.Add(1)
						go func() {
							defer wg.Done()
							buf := append([]byte(nil), proto...)
							for next.Add(1) <= int64(b.N) {
								info, err := l.Append(buf, 0)
								if err == nil {
									err = l.WaitDurable(info.LastOffset + 1)
								}
								if err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
				}
				wg.Wait()
				b.StopTimer()
				reportFlushCPU(b, flushes.Load(), cpuTime(b)-cpu0)
				if f != nil {
					b.ReportMetric(float64(f.rounds.Load())/float64(b.N), "rounds/op")
				}
			})
		}
	}
}
