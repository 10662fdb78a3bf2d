package server

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// latencyBounds are the upper bounds of the buckets of the request latency and fsync
// histograms (the last bucket, above the last bound, has none).
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// errorSlots is the number of error codes counted apart: Kafka's codes -1..errorSlots-3
// (slot code+1); the last slot counts any other code.
const errorSlots = 256

// apiStats are the counters of one API: plain atomics, updated by every connection.
type apiStats struct {
	requests atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	latency  histogram
	errors   [errorSlots]atomic.Uint64
}

// histogram counts durations in the buckets of latencyBounds: plain atomics.
type histogram struct {
	counts [len(latencyBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// observe records a duration.
func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot copies the histogram.
func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: latencyBounds[:], Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	return out
}

// metrics is the server's registry of request metrics: per API, the requests received,
// the bytes of their frames and of their responses, a latency histogram (receipt to
// response written) and the error codes the responses carried. It allocates nothing per
// request; Server.Metrics takes a snapshot.
type metrics struct {
	apis     [kmsg.MaxKey + 1]*apiStats // nil for an API not in the dispatch table
	unlisted apiStats                   // counts of any other (never reported)
	// fsync is the time of the logs' flushes (log.Options.OnFlush).
	fsync histogram
}

func newMetrics() *metrics {
	m := new(metrics)
	for key := range apis {
		m.apis[key] = new(apiStats)
	}
	return m
}

// api returns the counters of key (an API registered after the server started, which
// only tests do, counts into a discarded set).
func (m *metrics) api(key int16) *apiStats {
	if key >= 0 && int(key) < len(m.apis) && m.apis[key] != nil {
		return m.apis[key]
	}
	return &m.unlisted
}

// errTally gathers the error codes of one response before they are added to the
// registry: runs of the same code (the common case: every partition NONE) cost one
// atomic add.
type errTally struct {
	a    *apiStats
	code int16
	n    uint64
}

func (t *errTally) add(code int16) {
	if code != t.code && t.n > 0 {
		t.flush()
	}
	t.code = code
	t.n++
}

func (t *errTally) flush() {
	if t.n == 0 {
		return
	}
	slot := int(t.code) + 1
	if slot < 0 || slot >= errorSlots-1 {
		slot = errorSlots - 1
	}
	t.a.errors[slot].Add(t.n)
	t.n = 0
}

// MetricsSnapshot is a copy of the broker's counters at one moment, for exporters
// (Prometheus: strata_kafka_requests_total, strata_kafka_request_errors_total,
// strata_kafka_request_duration_seconds, strata_kafka_connections,
// strata_fsync_duration_seconds, strata_disk_free_bytes; see docs/metrics.md).
type MetricsSnapshot struct {
	// APIs holds every API the broker serves, by key.
	APIs []APIMetrics
	// Listeners holds every bound listener, in configuration order.
	Listeners []ListenerMetrics
	// Fsync is the time each successful flush of a partition's log spent in fsync (the
	// log's flusher, group commit: one flush covers every append that waited for it).
	Fsync Histogram
	// Disks holds the file system of each data directory.
	Disks []DiskMetrics
}

// DiskMetrics describe the file system holding a data directory.
type DiskMetrics struct {
	Dir string
	// TotalBytes and FreeBytes are the file system's size and the bytes available to
	// the broker (not to root only); -1 each when the platform does not tell.
	TotalBytes, FreeBytes int64
}

// APIMetrics are the counters of one API since the broker started.
type APIMetrics struct {
	Key  int16
	Name string // Kafka's name of the API: Produce, Fetch, Metadata ...
	// Requests counts the requests received (decoded and dispatched).
	Requests uint64
	// BytesIn and BytesOut count the request and response frames, size prefix included.
	// Fetch record bytes sent from the segment files are counted in BytesOut.
	BytesIn, BytesOut uint64
	// Errors counts the error codes of the responses written, each once per partition
	// or resource that carries it (a Produce to three partitions that all succeed counts
	// NONE three times); codes never seen are left out, in code order.
	Errors []ErrorCount
	// Latency is the time from the request's receipt to its response written.
	Latency Histogram
}

// ErrorCount is how often a response carried a Kafka error code (0 is NONE; a code
// outside -1..253 is counted as 32767).
type ErrorCount struct {
	Code  int16
	Count uint64
}

// Histogram is a latency histogram: Counts[i] counts the observations in
// (Bounds[i-1], Bounds[i]], the last one those above every bound (not cumulative).
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// ListenerMetrics are the gauges of one listener.
type ListenerMetrics struct {
	Name        string
	Connections int64 // open now
}

// Metrics returns a snapshot of the request metrics. Counters are read one at a time
// while requests go on, so a snapshot is not one instant: a request may be counted in
// Requests and not yet in Latency.
func (s *Server) Metrics() MetricsSnapshot {
	var snap MetricsSnapshot
	for _, a := range sortedAPIs() {
		st := s.metrics.api(a.key)
		if st == &s.metrics.unlisted {
			continue
		}
		am := APIMetrics{
			Key: a.key, Name: kmsg.NameForKey(a.key),
			Requests: st.requests.Load(), BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
			Latency: st.latency.snapshot(),
		}
		for slot := range st.errors {
			if n := st.errors[slot].Load(); n > 0 {
				code := int16(slot - 1)
				if slot == errorSlots-1 {
					code = 1<<15 - 1
				}
				am.Errors = append(am.Errors, ErrorCount{Code: code, Count: n})
			}
		}
		snap.APIs = append(snap.APIs, am)
	}
	for _, l := range s.boundListeners() {
		snap.Listeners = append(snap.Listeners, ListenerMetrics{Name: l.Name, Connections: l.conns.Load()})
	}
	snap.Fsync = s.metrics.fsync.snapshot()
	total, free := diskUsage(s.opts.DataDir)
	snap.Disks = []DiskMetrics{{Dir: s.opts.DataDir, TotalBytes: total, FreeBytes: free}}
	return snap
}
