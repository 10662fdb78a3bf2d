package observe_test

import (
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server/servertest"
)

// dtoFamily is a parsed metric family with lookups by labels.
type dtoFamily struct{ *dto.MetricFamily }

// metric returns the series with exactly these label values (name, value pairs), nil if
// none.
func (f *dtoFamily) metric(labels ...string) *dto.Metric {
	if f == nil {
		return nil
	}
	want := label(labels...)
	for _, m := range f.Metric {
		pairs := make([]string, 0, 2*len(m.Label))
		for _, l := range m.Label {
			pairs = append(pairs, l.GetName()+"\x00"+l.GetValue())
		}
		sort.Strings(pairs)
		var flat []string
		for _, p := range pairs {
			n, v, _ := strings.Cut(p, "\x00")
			flat = append(flat, n, v)
		}
		if label(flat...) == want {
			return m
		}
	}
	return nil
}

// value is a counter's or gauge's value, -1 when the series is missing.
func (f *dtoFamily) value(labels ...string) float64 {
	m := f.metric(labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// TestObserveMetricsRequests: after a known workload the request metrics hold exact
// values; the standard collectors are there.
func TestObserveMetricsRequests(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"num.partitions": "2"})
	_, url := startHTTP(t, s, &observe.Options{Version: "v-test"})
	nc := dialRaw(t, s)
	mreq := kmsg.NewPtrMetadataRequest() // creates the topic (auto-creation)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("m")
	mreq.Topics = append(mreq.Topics, mt)
	mreq.AllowAutoTopicCreation = true
	roundTrip[*kmsg.MetadataResponse](t, nc, mreq)
	// Three produce requests, each to partitions 0, 1 (created) and 9 (no such partition).
	for i := range 3 {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "m"
		for _, p := range []int32{0, 1, 9} {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 10, Seed: byte(i)})
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := roundTrip[*kmsg.ProduceResponse](t, nc, req)
		if c := resp.Topics[0].Partitions[2].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("partition 9: %v", kerr.ErrorForCode(c))
		}
	}
	// The writer records a response's metrics before it writes the next one.
	roundTrip[*kmsg.ApiVersionsResponse](t, nc, kmsg.NewPtrApiVersionsRequest())

	fams := scrape(t, url)
	if got := fams["strata_kafka_requests_total"].value("api", "Produce"); got != 3 {
		t.Fatalf("Produce requests %v, want 3", got)
	}
	errs := fams["strata_kafka_request_errors_total"]
	if got := errs.value("api", "Produce", "error", "NONE"); got != 6 {
		t.Fatalf("Produce NONE %v, want 6 (two partitions, three requests)", got)
	}
	if got := errs.value("api", "Produce", "error", "UNKNOWN_TOPIC_OR_PARTITION"); got != 3 {
		t.Fatalf("Produce UNKNOWN_TOPIC_OR_PARTITION %v, want 3", got)
	}
	h := fams["strata_kafka_request_duration_seconds"].metric("api", "Produce")
	if h == nil || h.Histogram.GetSampleCount() != 3 || h.Histogram.GetSampleSum() <= 0 {
		t.Fatalf("Produce duration %v", h)
	}
	if got := fams["strata_kafka_connections"].value("listener", "PLAINTEXT"); got != 1 {
		t.Fatalf("connections %v, want 1", got)
	}
	if got := fams["strata_kafka_request_bytes_total"].value("api", "Produce"); got <= 0 {
		t.Fatalf("Produce bytes %v", got)
	}
	if got := fams["strata_disk_free_bytes"].value("dir", s.Metrics().Disks[0].Dir); got <= 0 {
		t.Fatalf("disk free %v", got)
	}
	if b := fams["strata_build_info"]; b == nil || len(b.Metric) != 1 || b.Metric[0].Label[1].GetValue() != "v-test" {
		t.Fatalf("strata_build_info %v", b)
	}
	for _, std := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[std] == nil {
			t.Errorf("standard metric %s missing", std)
		}
	}
}
