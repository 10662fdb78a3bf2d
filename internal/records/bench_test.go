package records

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stratalog/strata/internal/batch"
)

// benchBatch returns a 16 KiB batch (records section before compression) of records with
// recSize-byte JSON-like values and short keys, uncompressed.
func benchBatch(b *testing.B, recSize int) *Batch {
	b.Helper()
	rng := rand.New(rand.NewPCG(42, uint64(recSize)))
	n := (16 << 10) / (recSize + 20)
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, 0, recSize)
		for len(v) < recSize {
			v = fmt.Appendf(v, `{"user":%d,"event":"%s","ts":%d},`, rng.IntN(100000),
				[]string{"click", "view", "purchase", "login"}[rng.IntN(4)], 1_700_000_000_000+rng.Int64N(1e6))
		}
		recs[i] = Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: fmt.Appendf(nil, "user-%d", rng.IntN(1000)), Value: v[:recSize]}
	}
	h := testHeader(n)
	return &Batch{Header: h, Records: recs}
}

// BenchmarkCompress measures each codec on the records section of a 16 KiB batch; MB/s is
// of uncompressed bytes for both directions.
func BenchmarkCompress(b *testing.B) {
	p := Default()
	for _, recSize := range []int{100, 1024} {
		bt := benchBatch(b, recSize)
		enc, err := p.Encode(nil, bt, batch.CodecNone)
		if err != nil {
			b.Fatal(err)
		}
		raw := enc[batch.HeaderSize:]
		for _, codec := range allCodecs[1:] {
			c, _ := p.Compress(nil, raw, codec)
			name := fmt.Sprintf("%s/rec=%dB", CodecName(codec), recSize)
			b.Run("compress/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				dst := make([]byte, 0, 2*len(raw))
				for b.Loop() {
					dst, err = p.Compress(dst[:0], raw, codec)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(raw))/float64(len(c)), "ratio")
			})
			b.Run("decompress/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				dst := make([]byte, 0, 2*len(raw))
				for b.Loop() {
					dst, err = p.Decompress(dst[:0], c, codec)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRecompress measures the produce-path calls on a 16 KiB batch of 1 KiB records:
// ValidateKeys of a zstd batch, and Recompress from each codec to zstd.
func BenchmarkRecompress(b *testing.B) {
	p := Default()
	bt := benchBatch(b, 1024)
	for _, from := range allCodecs {
		src, err := p.Encode(nil, bt, from)
		if err != nil {
			b.Fatal(err)
		}
		size := int64(len(src) - batch.HeaderSize)
		if from != batch.CodecNone {
			raw, _ := p.Decompress(nil, src[batch.HeaderSize:], from)
			size = int64(len(raw))
		}
		b.Run("validate-keys/"+CodecName(from), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ValidateKeys(src); err != nil {
					b.Fatal(err)
				}
			}
		})
		to := batch.CodecZstd
		if from == to {
			to = batch.CodecLZ4
		}
		b.Run(fmt.Sprintf("recompress/%s-to-%s", CodecName(from), CodecName(to)), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Recompress(src, to); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDownConvert measures the Fetch v0-v3 conversion of a 16 KiB batch (records
// section before compression) of 100 B and 1 KiB records to message format 1 (Fetch v2-v3)
// and 0 (Fetch v0-v1), per codec; MB/s is of the stored batch's uncompressed records, so
// 1024/(MB/s) is the CPU seconds per GiB served. Fetch v4+ serves the same bytes without
// touching them. And BenchmarkConvertMessageSet measures the Produce v0-v2 direction.
func BenchmarkDownConvert(b *testing.B) {
	p := Default()
	for _, recSize := range []int{100, 1024} {
		bt := benchBatch(b, recSize)
		for _, codec := range allCodecs[:4] {
			src, err := p.Encode(nil, bt, codec)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := p.Encode(nil, bt, batch.CodecNone)
			for _, magic := range []int8{MagicV1, MagicV0} {
				b.Run(fmt.Sprintf("magic%d/%s/rec=%dB", magic, CodecName(codec), recSize), func(b *testing.B) {
					b.SetBytes(int64(len(raw) - batch.HeaderSize))
					b.ReportAllocs()
					dst := make([]byte, 0, 4*len(raw))
					for b.Loop() {
						if dst, err = p.DownConvert(dst[:0], src, magic, 0); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkConvertMessageSet(b *testing.B) {
	p := Default()
	bt := benchBatch(b, 1024)
	for _, codec := range allCodecs[:4] {
		src, err := p.Encode(nil, bt, codec)
		if err != nil {
			b.Fatal(err)
		}
		set, err := p.DownConvert(nil, src, MagicV1, 0)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := p.Encode(nil, bt, batch.CodecNone)
		b.Run("magic1/"+CodecName(codec), func(b *testing.B) {
			b.SetBytes(int64(len(raw) - batch.HeaderSize))
			b.ReportAllocs()
			dst := make([]byte, 0, 2*len(raw))
			for b.Loop() {
				if dst, err = p.ConvertMessageSet(dst[:0], set); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
