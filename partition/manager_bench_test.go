package partition

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/vfs"
)

// BenchmarkManagerPartitions measures the lifecycle of one topic of many partitions on
// the real file system (vfs.Default in a temp dir): creating it (CreateTopic), a clean
// close (Close, what SIGTERM costs), opening the data directory again (OpenManager, what
// a start costs), and deleting the topic (DeleteTopic). Each phase is reported as its own
// metric in seconds per operation (create-s, close-s, open-s, delete-s); ns/op is the sum.
// STRATA_BENCH_PARTITIONS (comma-separated) replaces the default count of 2000.
//
//	go test ./partition -run '^$' -bench BenchmarkManagerPartitions -benchtime 3x
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
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			var create, closing, open, del time.Duration
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				opts := &ManagerOptions{FS: vfs.Default, Logger: quietLogger()}
				m, err := OpenManager(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if _, err := m.CreateTopic("many", int32(n), nil, false); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if m, err = OpenManager(dir, opts); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				if err := m.DeleteTopic("many"); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
				create += t1.Sub(t0)
				closing += t2.Sub(t1)
				open += t3.Sub(t2)
				del += t4.Sub(t3)
			}
			per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
			b.ReportMetric(per(create), "create-s")
			b.ReportMetric(per(closing), "close-s")
			b.ReportMetric(per(open), "open-s")
			b.ReportMetric(per(del), "delete-s")
		})
	}
}
