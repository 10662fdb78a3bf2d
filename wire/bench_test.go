package wire_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stratalog/strata/wire"
)

// BenchmarkWireReadFrame reads one frame of each size from memory: the allocation
// strategy of the request buffer is what it measures.
func BenchmarkWireReadFrame(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			in := sized(bytes.Repeat([]byte{7}, size))
			r := bytes.NewReader(in)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Reset(in)
				if _, err := wire.ReadFrame(r, nil, wire.DefaultMaxRequestSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
