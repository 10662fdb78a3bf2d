package group

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stratalog/strata/coord"
)

// BenchmarkGroupCommit: OffsetCommit of a simple group to an in-memory log (the encoding
// and bookkeeping of a commit, without the fsync), 1 and 10 partitions per commit.
func BenchmarkGroupCommit(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			c := benchCoordinator(b, coord.NewMemLog())
			req := &CommitRequest{Group: "g", Generation: -1}
			for p := range n {
				req.Offsets = append(req.Offsets, CommitOffset{Topic: "topic", Partition: int32(p), LeaderEpoch: -1, Metadata: strp("")})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for j := range req.Offsets {
					req.Offsets[j].Offset = int64(i)
				}
				if _, err := c.Commit(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGroupLoad: replay of a __consumer_offsets partition holding 10,000 commit
// batches of 10 offsets (1,000 groups), as at a broker's start; per record replayed.
func BenchmarkGroupLoad(b *testing.B) {
	l := coord.NewMemLog()
	c := benchCoordinator(b, l)
	for i := range 10000 {
		req := &CommitRequest{Group: fmt.Sprintf("group-%d", i%1000), Generation: -1}
		for p := range 10 {
			req.Offsets = append(req.Offsets, CommitOffset{Topic: "topic", Partition: int32(p), Offset: int64(i), LeaderEpoch: -1})
		}
		if _, err := c.Commit(req); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c := benchCoordinator(b, l)
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/record")
}

// benchCoordinator is a one-partition coordinator over l, loaded.
func benchCoordinator(b *testing.B, l *coord.MemLog) *Coordinator {
	c, err := New(&Options{NumPartitions: 1, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(int32) (coord.Log, error) { return l, nil }})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Load(0, 0); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
