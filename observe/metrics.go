package observe

import (
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/server"
)

// The broker's metrics (docs/metrics.md lists them with their meaning). Everything is
// read at scrape time from the broker's own counters (server.Server.Metrics: plain atomics
// updated by the request pipeline and the logs' flushers) and state (state.go); nothing
// here is updated on a request or an append.
var (
	descRequests = prometheus.NewDesc("strata_kafka_requests_total",
		"Kafka requests received (decoded and dispatched), by API.", []string{"api"}, nil)
	descErrors = prometheus.NewDesc("strata_kafka_request_errors_total",
		"Error codes in Kafka responses, by API and Kafka error name (NONE included), each counted once per partition or resource that carries it.",
		[]string{"api", "error"}, nil)
	descDuration = prometheus.NewDesc("strata_kafka_request_duration_seconds",
		"Time from a Kafka request's receipt to its response written, by API.", []string{"api"}, nil)
	descRequestBytes = prometheus.NewDesc("strata_kafka_request_bytes_total",
		"Bytes of Kafka request frames received (size prefix included), by API.", []string{"api"}, nil)
	descResponseBytes = prometheus.NewDesc("strata_kafka_response_bytes_total",
		"Bytes of Kafka response frames written (size prefix and fetched records included), by API.", []string{"api"}, nil)
	descConnections = prometheus.NewDesc("strata_kafka_connections",
		"Kafka client connections open now, by listener.", []string{"listener"}, nil)
	descFsync = prometheus.NewDesc("strata_fsync_duration_seconds",
		"Time each successful flush of a partition's log spent in fsync (group commit: one flush covers every append waiting for it).", nil, nil)
	descDiskFree = prometheus.NewDesc("strata_disk_free_bytes",
		"Bytes available to the broker on the file system of each data directory.", []string{"dir"}, nil)
	descDiskTotal = prometheus.NewDesc("strata_disk_total_bytes",
		"Size of the file system of each data directory.", []string{"dir"}, nil)
	descBuildInfo = prometheus.NewDesc("strata_build_info",
		"Always 1; the labels give the broker's version and the Go version it was built with.", []string{"version", "go_version"}, nil)
)

// collector exports the broker's metrics at scrape time.
type collector struct{ h *Handler }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descDuration, descRequestBytes, descResponseBytes,
		descConnections, descFsync, descDiskFree, descDiskTotal, descBuildInfo} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, c.h.opts.Version, runtime.Version())
	s := c.h.server()
	if s == nil {
		return
	}
	snap := s.Metrics()
	for _, a := range snap.APIs {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(a.Requests), a.Name)
		ch <- prometheus.MustNewConstMetric(descRequestBytes, prometheus.CounterValue, float64(a.BytesIn), a.Name)
		ch <- prometheus.MustNewConstMetric(descResponseBytes, prometheus.CounterValue, float64(a.BytesOut), a.Name)
		for _, e := range a.Errors {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(e.Count), a.Name, errorName(e.Code))
		}
		ch <- constHistogram(descDuration, a.Latency, a.Name)
	}
	for _, l := range snap.Listeners {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(l.Connections), l.Name)
	}
	ch <- constHistogram(descFsync, snap.Fsync)
	for _, d := range snap.Disks {
		if d.FreeBytes >= 0 {
			ch <- prometheus.MustNewConstMetric(descDiskFree, prometheus.GaugeValue, float64(d.FreeBytes), d.Dir)
			ch <- prometheus.MustNewConstMetric(descDiskTotal, prometheus.GaugeValue, float64(d.TotalBytes), d.Dir)
		}
	}
}

// constHistogram converts a server histogram (per-bucket counts, durations) into a
// Prometheus one (cumulative counts, seconds).
func constHistogram(d *prometheus.Desc, h server.Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets, labels...)
}

// errorName is the Kafka name of an error code: NONE, UNKNOWN_TOPIC_OR_PARTITION …;
// a code franz-go does not know is CODE_<n>.
func errorName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Code == code {
		return e.Message
	}
	return "CODE_" + strconv.Itoa(int(code))
}
