package partition

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/fds"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/segment"
)

// BenchmarkPartitionOpenHistory opens (and closes) a cleanly closed partition whose log
// holds 1,000 sealed segments of 16 KiB batches: a partition's startup cost with
// history, with every segment's files left open and with a segment cache of 10
// (strata.log.open.segments.max), with the producer state loaded from the snapshot Close
// wrote (snapshot=true) and rebuilt from every batch header (snapshot=false: the
// snapshots deleted before each open). fds is what the open partition holds.
//
//	go test ./partition -run '^$' -bench BenchmarkPartitionOpenHistory -benchtime 20x
func BenchmarkPartitionOpenHistory(b *testing.B) {
	dir := b.TempDir()
	o := &Options{Logger: quietLogger(), Log: log.Options{Logger: quietLogger(), SegmentBytes: 16 << 10, SegmentIndexBytes: 4096,
		FlushMessages: 1 << 40, RetentionMs: -1}}
	p, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	proto := testutil.SizedBatch(16<<10, 1024, time.Now().UnixMilli())
	for len(p.Log().Segments()) < 1000 {
		if _, err := p.Append(append([]byte(nil), proto...)); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	for _, snap := range []bool{true, false} {
		for _, limit := range []int{0, 10} {
			b.Run(fmt.Sprintf("snapshot=%v/open-segments=%d", snap, limit), func(b *testing.B) {
				benchOpen(b, dir, o, limit, snap)
			})
		}
	}
}

func benchOpen(b *testing.B, dir string, o *Options, limit int, snap bool) {
	oc := *o
	if limit > 0 {
		oc.Log.OpenSegments = segment.NewCache(limit)
	}
	fsys := vfs.Default
	held := 0
	b.ReportAllocs()
	for b.Loop() {
		if !snap {
			b.StopTimer()
			names, err := fsys.List(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, n := range names {
				if strings.HasSuffix(n, SnapshotSuffix) {
					if err := fsys.Remove(filepath.Join(dir, n)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StartTimer()
		}
		before, _ := fds.Count()
		p, err := Open(dir, &oc)
		if err != nil {
			b.Fatal(err)
		}
		after, _ := fds.Count()
		held = after - before
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(held), "fds")
}
