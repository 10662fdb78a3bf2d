package observe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// scrapeBroker starts a broker with 100 topics of 10 partitions (1,000 partitions, one
// record in each) and 20 groups with an offset committed on every partition of 5 topics,
// and returns a Handler attached to it.
func scrapeBroker(tb testing.TB) (*server.Server, *observe.Handler) {
	tb.Helper()
	s := servertest.StartBroker(tb, memDir(tb), nil)
	ctx := ctxT(tb)
	cl := kgoClient(tb, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ad := kadm.NewClient(cl)
	topics := make([]string, 100)
	for i := range topics {
		topics[i] = fmt.Sprintf("scrape-%03d", i)
	}
	if _, err := ad.CreateTopics(ctx, 10, 1, nil, topics...); err != nil {
		tb.Fatal(err)
	}
	var recs []*kgo.Record
	for _, t := range topics {
		for p := range int32(10) {
			recs = append(recs, &kgo.Record{Topic: t, Partition: p, Value: []byte("v")})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatal(err)
	}
	for g := range 20 {
		o := kadm.Offsets{}
		for _, t := range topics[g*5 : g*5+5] {
			for p := range int32(10) {
				o.AddOffset(t, p, 1, -1)
			}
		}
		if res, err := ad.CommitOffsets(ctx, fmt.Sprintf("group-%02d", g), o); err != nil || res.Error() != nil {
			tb.Fatalf("commit: %v %v", err, res.Error())
		}
	}
	h := observe.New(nil)
	h.Attach(s)
	tb.Cleanup(func() { h.Close() })
	return s, h
}

// memDir is a temporary directory on tmpfs (/dev/shm) when the machine has one, else
// t.TempDir: creating 1,000 partitions costs thousands of fsyncs, which these tests do
// not measure.
func memDir(tb testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "strata-observe-")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// scrapeOnce serves GET /metrics to a writer that counts and discards the body (as a
// connection would take it) and returns the body's size.
func scrapeOnce(tb testing.TB, h http.Handler) int {
	w := &countingWriter{header: http.Header{}}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.code != 0 && w.code != 200 {
		tb.Fatalf("metrics: %d", w.code)
	}
	return w.n
}

type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header  { return w.header }
func (w *countingWriter) WriteHeader(code int) { w.code = code }
func (w *countingWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// TestObserveScrapeSize: a scrape of a broker with 1,000 partitions stays under 2 MiB of
// text and of allocations, has every partition's series, and repeated scrapes do not grow
// the heap.
func TestObserveScrapeSize(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 partitions")
	}
	_, h := scrapeBroker(t)
	if n := scrapeOnce(t, h); n > 2<<20 {
		t.Fatalf("scrape of 1,000 partitions: %d bytes, want < 2 MiB", n)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	fams := parseMetrics(t, rec.Body.String())
	if n := len(fams["strata_partition_log_end_offset"].Metric); n < 1000 {
		t.Fatalf("%d partitions' end offsets, want 1,000 (and the internal topics')", n)
	}
	if n := len(fams["strata_consumer_group_lag"].Metric); n != 100 {
		t.Fatalf("%d group lag series, want 100", n)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for range 3 {
		scrapeOnce(t, h)
	}
	before := heap()
	for range 20 {
		scrapeOnce(t, h)
	}
	if after := heap(); after > before+1<<20 {
		t.Fatalf("heap grew from %d to %d bytes over 20 scrapes", before, after)
	}
	// What a scrape allocates (the idle broker's own allocations included).
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 10 {
		scrapeOnce(t, h)
	}
	runtime.ReadMemStats(&m1)
	perScrape := (m1.TotalAlloc - m0.TotalAlloc) / 10
	t.Logf("a scrape of 1,000 partitions allocates %d bytes", perScrape)
	if perScrape > 2<<20 && !raceEnabled {
		t.Fatalf("a scrape of 1,000 partitions allocates %d bytes, want < 2 MiB", perScrape)
	}
}

// BenchmarkObserveScrape measures one GET /metrics of a broker with 1,000 partitions and
// 20 groups (scrapeBroker); text-bytes/op is the size of the exposition.
//
//	go test ./observe -run '^$' -bench BenchmarkObserveScrape -benchmem
func BenchmarkObserveScrape(b *testing.B) {
	_, h := scrapeBroker(b)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = scrapeOnce(b, h)
	}
	b.ReportMetric(float64(n), "text-bytes/op")
}
