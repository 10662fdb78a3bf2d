package partition

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/log"
)

// BenchmarkPartitionAppendRecompress measures Append throughput of uncompressed producer
// batches (100 records of 100 bytes, 16-byte keys) with compression.type=producer (stored
// as sent) and with broker-side re-compression to each codec. OS files, flush.messages
// large (no fsync in the loop).
//
//	go test ./partition -run '^$' -bench BenchmarkPartitionAppendRecompress -benchtime 2s
func BenchmarkPartitionAppendRecompress(b *testing.B) {
	for _, c := range []struct {
		name  string
		codec int
	}{{"producer", records.Producer}, {"gzip", batch.CodecGzip}, {"snappy", batch.CodecSnappy}, {"lz4", batch.CodecLZ4}, {"zstd", batch.CodecZstd}} {
		b.Run(c.name, func(b *testing.B) {
			p, err := Open(b.TempDir(), &Options{Compression: c.codec, Logger: quietLogger(),
				Log: log.Options{FlushMessages: 1 << 40, SegmentBytes: 256 << 20, RetentionMs: -1}})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			src := testutil.Batch(testutil.BatchOptions{Records: 100, ValueSize: 100, KeySize: 16})
			buf := make([]byte, len(src))
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(buf, src)
				if _, err := p.Append(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
