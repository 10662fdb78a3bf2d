package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil"
)

// BenchmarkManagerPartitions measures the lifecycle of one topic of many partitions on
// the real file system (vfs.Default in a temp dir): creating it (CreateTopic), a clean
// close (Close, what SIGTERM costs), opening the data directory again (OpenManager, what
// a start costs), and deleting the topic (DeleteTopic). Each phase is reported as its own
// metric in seconds per operation (create-s, close-s, open-s, delete-s); ns/op is their
// sum plus the untimed setup. With records=1 every partition takes one durable append
// between the create and the close, so that the close has something to flush in each.
// STRATA_BENCH_PARTITIONS (comma-separated) replaces the default count of 2000.
//
//	go test ./replica -run '^$' -bench BenchmarkManagerPartitions -benchtime 3x
func BenchmarkManagerPartitions(b *testing.B) {
	counts := []int{2000}
	if s := os.Getenv("STRATA_BENCH_PARTITIONS"); s != "" {
		counts = counts[:0]
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n <= 0 {
				b.Fatalf("STRATA_BENCH_PARTITIONS: bad count %q", f)
			}
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		for _, records := range []int{0, 1} {
			b.Run(fmt.Sprintf("partitions=%d/records=%d", n, records), func(b *testing.B) {
				benchManagerLifecycle(b, n, records > 0)
			})
		}
	}
}

func benchManagerLifecycle(b *testing.B, n int, written bool) {
	rec := testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: 100})
	var phases [4]time.Duration // create, close, open, delete
	timed := func(phase int, f func() error) {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		phases[phase] += time.Since(t0)
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		m, err := openNodeDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		var tp *testTopic
		timed(0, func() (err error) { tp, err = m.CreateTopic("many", int32(n), nil, false); return err })
		if written {
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, p := range tp.Partitions() {
				wg.Go(func() {
					res, err := p.Append(bytes.Clone(rec))
					if err == nil {
						err = p.WaitDurable(context.Background(), res.LastOffset+1)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
		timed(1, m.Close)
		timed(2, func() (err error) { m, err = openNodeDir(dir); return err })
		timed(3, func() error { return m.DeleteTopic("many") })
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for i, name := range []string{"create-s", "close-s", "open-s", "delete-s"} {
		b.ReportMetric(phases[i].Seconds()/float64(b.N), name)
	}
}
