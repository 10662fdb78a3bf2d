package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// childEnv makes the test binary act as a kfake broker (see TestBenchStartBroker): it
// writes its address to the file named by the variable and serves until killed.
const childEnv = "STRATA_BENCH_TEST_BROKER_READY"

func TestMain(m *testing.M) {
	if ready := os.Getenv(childEnv); ready != "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		tmp := ready + ".tmp"
		os.WriteFile(tmp, []byte(c.ListenAddrs()[0]+"\n"), 0o644)
		os.Rename(tmp, ready)
		select {} // until SIGTERM
	}
	goleak.VerifyTestMain(m)
}

// newCluster starts an in-process kfake broker for a test.
func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkJSON checks that r survives a JSON round trip as one line.
func checkJSON(t *testing.T, r *Result) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n")) {
		t.Fatal("summary is not one line")
	}
	rs, err := ReadResults(bytes.NewReader(append([]byte("progress line\n"), b...)))
	if err != nil || len(rs) != 1 {
		t.Fatalf("ReadResults = %d, %v", len(rs), err)
	}
	if rs[0].Mode != r.Mode || rs[0].Records != r.Records {
		t.Fatalf("round trip: %+v", rs[0])
	}
}

func positive(t *testing.T, what string, v float64) {
	t.Helper()
	if !(v > 0) {
		t.Errorf("%s = %v, want > 0", what, v)
	}
}

// checkBroker checks the broker figures. CPU time moves in clock ticks (10 ms), more than
// a tiny run may use, so CPU is only checked for sign.
func checkBroker(t *testing.T, bs *BrokerStats) {
	t.Helper()
	if bs == nil {
		t.Fatal("no broker stats")
	}
	positive(t, "peak RSS", bs.PeakRSSMiB)
	positive(t, "HWM", bs.HWMMiB)
	if bs.CPUSeconds < 0 || bs.CPUSecPerGB < 0 {
		t.Errorf("CPU %v s, %v s/GiB", bs.CPUSeconds, bs.CPUSecPerGB)
	}
}

func TestBenchProduce(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"count-acks-all", Config{Count: 2000, RecordSize: 100, Partitions: 3, Acks: "all"}},
		{"duration-acks-1-two-producers", Config{Duration: 300 * time.Millisecond, RecordSize: 64, Acks: "1", Producers: 2, Compression: "lz4"}},
		{"rate", Config{Count: 200, Rate: 2000, Linger: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers = c.ListenAddrs()
			cfg.BrokerPID = os.Getpid() // kfake is in this process
			var prog bytes.Buffer
			cfg.Progress = &prog
			r, err := Produce(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cfg.Count > 0 && r.Records != tc.cfg.Count {
				t.Errorf("records = %d, want %d", r.Records, tc.cfg.Count)
			}
			positive(t, "MB/s", r.MBPerSec)
			positive(t, "records/s", r.RecordsPerSec)
			if r.AckLatency == nil {
				t.Fatal("no ack latency")
			}
			positive(t, "ack p50", r.AckLatency.P50Ms)
			positive(t, "ack p999", r.AckLatency.P999Ms)
			checkBroker(t, r.BrokerStats)
			checkJSON(t, r)
		})
	}
}

func TestBenchConsume(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"group", Config{Count: 3000, RecordSize: 200, Partitions: 4}},
		{"named-group", Config{Count: 500, Group: "g1"}},
		{"no-group", Config{Count: 1000, NoGroup: true, Partitions: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers = c.ListenAddrs()
			cfg.BrokerPID = os.Getpid()
			r, err := Consume(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Records != tc.cfg.Count {
				t.Errorf("records = %d, want %d", r.Records, tc.cfg.Count)
			}
			if (r.Group != "") == tc.cfg.NoGroup {
				t.Errorf("group = %q with NoGroup %v", r.Group, tc.cfg.NoGroup)
			}
			positive(t, "MB/s", r.MBPerSec)
			checkBroker(t, r.BrokerStats)
			checkJSON(t, r)
		})
	}
}

func TestBenchConsumeNoFill(t *testing.T) {
	c := newCluster(t)
	cfg := Config{Brokers: c.ListenAddrs(), Topic: "prefilled", Count: 300, Keep: true}
	if _, err := Produce(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.NoFill, cfg.Keep = true, false
	r, err := Consume(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 300 {
		t.Fatalf("records = %d, want 300", r.Records)
	}
}

func TestBenchE2E(t *testing.T) {
	c := newCluster(t)
	r, err := E2E(context.Background(), Config{
		Brokers: c.ListenAddrs(), Count: 600, Rate: 2000, RecordSize: 100,
		Warmup: 50 * time.Millisecond, BrokerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 600 || r.Missing != 0 {
		t.Fatalf("records = %d, missing %d", r.Records, r.Missing)
	}
	if r.E2ELatency == nil || r.AckLatency == nil {
		t.Fatal("no latencies")
	}
	positive(t, "e2e p50", r.E2ELatency.P50Ms)
	positive(t, "e2e p99", r.E2ELatency.P99Ms)
	checkBroker(t, r.BrokerStats)
	checkJSON(t, r)
}

func TestBenchIdle(t *testing.T) {
	c := newCluster(t)
	r, err := Idle(context.Background(), Config{
		Brokers: c.ListenAddrs(), Partitions: 20, Duration: 300 * time.Millisecond, BrokerPID: os.Getpid(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Idle == nil || r.Idle.Partitions != 20 {
		t.Fatalf("idle = %+v", r.Idle)
	}
	positive(t, "RSS", r.Idle.RSSMiB)
	checkJSON(t, r)
}

// TestBenchMemory runs both loads of the memory workload, small, against kfake in this
// process: the figures are there and the fetches read records.
func TestBenchMemory(t *testing.T) {
	c := newCluster(t)
	r, err := Memory(context.Background(), Config{
		Brokers: c.ListenAddrs(), BrokerPID: os.Getpid(), Duration: 100 * time.Millisecond,
		Conns: 20, Consumers: 3, FetchBytes: 256 << 10, Fetches: 2, RecordSize: 1000,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Memory
	if m == nil || m.Conns != 20 || m.Consumers != 3 || m.Fetches != 6 {
		t.Fatalf("memory = %+v", m)
	}
	positive(t, "base RSS", m.BaseRSSMiB)
	positive(t, "RSS with connections", m.ConnsRSSMiB)
	positive(t, "fetch HWM", m.FetchHWMMiB)
	// More than 6 empty responses: records came back (how many per fetch is the
	// broker's choice; kfake sends fewer than the max bytes).
	if m.FetchedMiB*(1<<20) < 6*1000 {
		t.Errorf("fetched %.4f MiB in 6 fetches", m.FetchedMiB)
	}
	checkBroker(t, r.BrokerStats)
	checkJSON(t, r)
	var keys []string
	for _, f := range r.Figures() {
		keys = append(keys, f.Key)
	}
	if want := []string{"conns_rss_mib", "per_conn_kib", "fetch_hwm_mib"}; !slices.Equal(keys, want) {
		t.Errorf("figures %v, want %v", keys, want)
	}
}

// TestBenchStartBroker starts this test binary as a kfake broker process, measures it
// from /proc, restarts it and reports its startup time.
func TestBenchStartBroker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The environment variable carries the {ready} placeholder through env(1).
	b, err := StartBroker(ctx, []string{"env", childEnv + "={ready}", exe, "-test.run=^$"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Addr == "" || b.StartupTime <= 0 {
		t.Fatalf("addr %q startup %v", b.Addr, b.StartupTime)
	}
	r, err := Produce(ctx, Config{Brokers: []string{b.Addr}, Count: 500, BrokerPID: b.PID()})
	if err != nil {
		t.Fatal(err)
	}
	checkBroker(t, r.BrokerStats)
	// kfake in the child keeps no data over a restart; Idle's restart check waits for
	// the topic, so restart directly here.
	old := b.PID()
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if b.PID() == old || b.StartupTime <= 0 || b.StopTime <= 0 {
		t.Fatalf("restart: pid %d (was %d), startup %v, stop %v", b.PID(), old, b.StartupTime, b.StopTime)
	}
}

func TestBenchStartBrokerFails(t *testing.T) {
	_, err := StartBroker(context.Background(), []string{"sh", "-c", "echo boom >&2; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the broker's output", err)
	}
}

func TestBenchReadProc(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	positive(t, "RSS", float64(s.RSSBytes))
	positive(t, "HWM", float64(s.HWMBytes))
	if s.CPUSeconds < 0 {
		t.Fatalf("cpu = %v", s.CPUSeconds)
	}
	if _, err := ReadProc(-5); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestBenchHistogram(t *testing.T) {
	var h Histogram
	if h.Summary() != nil {
		t.Fatal("summary of nothing")
	}
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 99900 * time.Microsecond},
		{1, 100 * time.Millisecond},
	} {
		got := h.Quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d > 0.016 || d < -0.016 {
			t.Errorf("q%v = %v, want %v ±1.6%%", tc.q, got, tc.want)
		}
	}
	// Every bucket maps back into itself.
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 40, 1<<62 + 12345} {
		b := bucketOf(v)
		if b >= histBuckets || bucketOf(bucketMid(b)) != b {
			t.Errorf("v %d: bucket %d, mid %d", v, b, bucketMid(b))
		}
	}
}

func TestBenchReport(t *testing.T) {
	var lines bytes.Buffer
	for round, f := range []float64{1, 3, 2} {
		for _, label := range []string{"strata", "kfake"} {
			scale := 1.0
			if label == "kfake" {
				scale = 2
			}
			r := Result{Mode: "produce", Label: label, Name: "produce-1k", MBPerSec: 10 * f * scale, RecordsPerSec: 1,
				AckLatency:  &Latency{P50Ms: 1, P99Ms: 2, P999Ms: 3},
				BrokerStats: &BrokerStats{CPUSecPerGB: f, PeakRSSMiB: 50}}
			b, _ := json.Marshal(r)
			fmt.Fprintf(&lines, "# round %d\n%s\n", round, b)
		}
	}
	rs, err := ReadResults(&lines)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Report(&out, rs, "", ""); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"| workload | figure | strata | kfake | strata/kfake | goal | met |",
		"| produce-1k | throughput (MB/s) | 20.0 (10.0–30.0) | 40.0 (20.0–60.0) | 0.50x | ≥ 1x | ✗ |",
		"| produce-1k | broker CPU (s/GiB) | 2.00 (1.00–3.00) | 2.00 (1.00–3.00) | 1.00x | ≤ 0.4x | ✗ |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if err := Report(&out, rs[:1], "", ""); err == nil {
		t.Error("report with one label: no error")
	}
}
