package partition

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/log"
)

// BenchmarkPartitionAppend is the produce path below the server: Append of one ~16 KiB
// batch (validation, producer-state and epoch bookkeeping, the log's append), without
// fsync (flush.messages huge) and with one durable writer waiting for each ack.
//
//	go test ./partition -run '^$' -bench 'BenchmarkPartition(Append|Read)' -benchmem
func BenchmarkPartitionAppend(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "nondurable"
		if durable {
			name = "durable-1"
		}
		b.Run(name, func(b *testing.B) {
			o := &Options{Logger: quietLogger(), Log: log.Options{Logger: quietLogger(), SegmentBytes: 256 << 20}}
			if !durable {
				o.Log.FlushMessages = 1 << 62
			}
			p, err := Open(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			proto := testutil.SizedBatch(16<<10, 1024, time.Now().UnixMilli())
			buf := make([]byte, len(proto))
			ctx := context.Background()
			b.SetBytes(int64(len(proto)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, proto)
				res, err := p.Append(buf)
				if err != nil {
					b.Fatal(err)
				}
				if durable {
					if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkPartitionRead is the fetch path below the server: ReadChunk of 1 MiB from a
// warm log of ~1 KiB batches, sequentially (the chunk is released unread: the cost is
// finding the batches and the references), and of one batch at the same offset over and
// over (fixed: the cost per fetch without the copy).
func BenchmarkPartitionRead(b *testing.B) {
	o := &Options{Logger: quietLogger(), Log: log.Options{Logger: quietLogger(), FlushMessages: 1 << 62, SegmentBytes: 16 << 20}}
	p, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	proto := testutil.SizedBatch(1<<10, 100, time.Now().UnixMilli())
	for p.Log().Size() < 64<<20 {
		if _, err := p.Append(append([]byte(nil), proto...)); err != nil {
			b.Fatal(err)
		}
	}
	h, err := batch.ParseHeader(proto)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"sequential", "fixed"} {
		b.Run(fmt.Sprintf("chunk/%s", mode), func(b *testing.B) {
			b.ReportAllocs()
			off := int64(0)
			for b.Loop() {
				maxBytes := 1 << 20
				if mode == "fixed" {
					maxBytes = 1 // one batch (KIP-74)
				}
				res, err := p.ReadChunk(off, maxBytes, ReadHighWatermark)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "sequential" {
					off += int64(res.Len()/len(proto)) * int64(h.RecordCount)
					if res.Len() == 0 || off >= p.EndOffset() {
						off = 0
					}
				}
				res.Chunk.Release()
			}
		})
	}
}
