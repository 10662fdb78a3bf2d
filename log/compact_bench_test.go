package log

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// BenchmarkLogCompact measures one full compaction pass over an OS-file log of keyed
// records (100-byte values, batches of 100, uncompressed): MB/s of log cleaned and the
// peak heap in use during the pass. Default 64 MiB with 64 Ki distinct keys;
// STRATA_COMPACT_BENCH=1 runs the 1 GiB / 1 Mi keys size.
//
//	go test ./log -run '^$' -bench BenchmarkLogCompact -benchtime 1x
//	STRATA_COMPACT_BENCH=1 go test ./log -run '^$' -bench BenchmarkLogCompact -benchtime 1x -timeout 30m
func BenchmarkLogCompact(b *testing.B) {
	size, keys := int64(64<<20), 64<<10
	if os.Getenv("STRATA_COMPACT_BENCH") == "1" {
		size, keys = 1<<30, 1<<20
	}
	b.Run(fmt.Sprintf("%dMiB-%dkeys", size>>20, keys), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			o := &Options{Logger: quiet, SegmentBytes: 64 << 20, FlushMessages: 1 << 40, RetentionMs: -1}
			l, err := Open(dir, o)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewSource(1))
			val := make([]byte, 100)
			var recs []records.Record
			for l.Size() < size {
				recs = recs[:0]
				for j := 0; j < 100; j++ {
					k := make([]byte, 8)
					binary.BigEndian.PutUint64(k, uint64(rng.Intn(keys)))
					recs = append(recs, records.Record{OffsetDelta: int32(j), Key: k, Value: val})
				}
				bt, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, LastOffsetDelta: 99,
					BaseTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, Records: recs}, batch.CodecNone)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := l.Append(bt, 0); err != nil {
					b.Fatal(err)
				}
			}
			// Roll so that everything is in closed segments.
			l.Reconfigure(Options{SegmentMs: time.Nanosecond, FlushMessages: 1 << 40, RetentionMs: -1, SegmentBytes: 64 << 20})
			time.Sleep(time.Millisecond)
			l.Append(mustEncode(b), 0)
			if err := l.Flush(); err != nil {
				b.Fatal(err)
			}
			total := l.Size()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			peak := base
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(5 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapInuse)
					}
				}
			}()
			b.SetBytes(total)
			b.StartTimer()
			res, err := l.Compact(CompactOptions{Force: true})
			b.StopTimer()
			close(stop)
			wg.Wait()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(res.MapBytes)/(1<<20), "map-MiB")
			b.ReportMetric(float64(res.BytesAfter)/float64(max(res.BytesBefore, 1)), "size-after/before")
			l.Close()
		}
	})
}

func mustEncode(b *testing.B) []byte {
	bt, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, BaseTimestamp: 1, MaxTimestamp: 1,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, Records: []records.Record{{Key: []byte("x"), Value: []byte("y")}}}, batch.CodecNone)
	if err != nil {
		b.Fatal(err)
	}
	return bt
}
