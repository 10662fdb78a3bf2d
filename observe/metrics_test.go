package observe_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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

// TestObserveMetricsState: after a known workload the per-topic, per-partition and
// per-group metrics hold exact values: the records a client produced, the bytes stored
// and fetched, the offsets, and the lag (end − committed, or end − start where nothing is
// committed).
func TestObserveMetricsState(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	cl := kgoClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ad := kadm.NewClient(cl)
	if _, err := ad.CreateTopic(ctx, 3, 1, nil, "st"); err != nil {
		t.Fatal(err)
	}
	// 10 records to partition 0, 20 to partition 1, none to 2 (kgo compresses its batches:
	// bytes count as stored).
	for p, n := range map[int32]int{0: 10, 1: 20} {
		for i := range n {
			r := &kgo.Record{Topic: "st", Partition: p, Value: []byte(fmt.Sprintf("value %d of partition %d", i, p))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Everything stored, fetched once: the bytes the fetches got are the bytes stored.
	nc := dialRaw(t, s)
	var stored int
	for p := range int32(3) {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.MinBytes = 1<<24, 0
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "st"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = p, 1<<24
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := roundTrip[*kmsg.FetchResponse](t, nc, req)
		stored += len(resp.Topics[0].Partitions[0].RecordBatches)
	}
	// Partition 1 loses its first 5 records; group g1 commits 4 on partition 0 only.
	del := kadm.Offsets{}
	del.AddOffset("st", 1, 5, -1)
	if res, err := ad.DeleteRecords(ctx, del); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	commit := kadm.Offsets{}
	commit.AddOffset("st", 0, 4, -1)
	if res, err := ad.CommitOffsets(ctx, "g1", commit); err != nil || res.Error() != nil {
		t.Fatalf("commit: %v %v", err, res.Error())
	}
	// g2 has one member, subscribed to st, and nothing committed.
	consumer := kgoClient(t, s, kgo.ConsumerGroup("g2"), kgo.ConsumeTopics("st"), kgo.DisableAutoCommit())
	for got := 0; got < 25; {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 25: %v", got, err)
		}
		got += fs.NumRecords()
	}

	fams := scrape(t, url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"strata_produced_records_total", []string{"topic", "st"}, 30},
		{"strata_produced_bytes_total", []string{"topic", "st"}, float64(stored)},
		{"strata_partition_log_end_offset", []string{"partition", "0", "topic", "st"}, 10},
		{"strata_partition_log_end_offset", []string{"partition", "1", "topic", "st"}, 20},
		{"strata_partition_log_end_offset", []string{"partition", "2", "topic", "st"}, 0},
		{"strata_partition_high_watermark", []string{"partition", "1", "topic", "st"}, 20},
		{"strata_partition_log_start_offset", []string{"partition", "1", "topic", "st"}, 5},
		{"strata_partition_log_start_offset", []string{"partition", "0", "topic", "st"}, 0},
		{"strata_partition_size_bytes", []string{"partition", "2", "topic", "st"}, 0},
		{"strata_consumer_group_lag", []string{"group", "g1", "topic", "st"}, (10 - 4) + (20 - 5)},
		{"strata_consumer_group_members", []string{"group", "g1"}, 0},
		{"strata_consumer_group_lag", []string{"group", "g2", "topic", "st"}, 10 + 15},
		{"strata_consumer_group_members", []string{"group", "g2"}, 1},
	} {
		if got := fams[c.name].value(c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The consumer fetched st too: its bytes come on top of the raw fetches'.
	if got := fams["strata_fetched_bytes_total"].value("topic", "st"); got < float64(stored) {
		t.Errorf("fetched bytes %v, want at least %d", got, stored)
	}
	var size float64
	for _, p := range []string{"0", "1", "2"} {
		size += fams["strata_partition_size_bytes"].value("partition", p, "topic", "st")
	}
	if size != float64(stored) {
		t.Errorf("partition sizes add up to %v, want the %d bytes stored", size, stored)
	}
}

// TestObserveMetricsWhileTopicsChange: scrapes while topics are created, written and
// deleted each answer a well-formed exposition (run under -race: the state is read while
// the replica manager changes).
func TestObserveMetricsWhileTopicsChange(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	_, url := startHTTP(t, s, nil)
	ctx := ctxT(t)
	cl := kgoClient(t, s, kgo.AllowAutoTopicCreation())
	ad := kadm.NewClient(cl)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 20 {
			name := fmt.Sprintf("churn-%d", i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("v")}).FirstErr(); err != nil {
				done <- err
				return
			}
			if _, err := ad.DeleteTopic(ctx, name); err != nil {
				done <- err
				return
			}
		}
	}()
	for scrapes := 0; ; scrapes++ {
		fams := scrape(t, url) // fails the test on a bad status or exposition
		select {
		case err, ok := <-done:
			if ok {
				t.Fatal(err)
			}
			if scrapes == 0 || fams["strata_kafka_requests_total"] == nil {
				t.Fatalf("%d scrapes during the churn", scrapes)
			}
			return
		default:
		}
	}
}
