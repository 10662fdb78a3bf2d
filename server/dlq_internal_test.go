package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/dlq"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// fetchDLQ returns the records of topic-partition from offset 0, as stored.
func fetchDLQ(t *testing.T, s *Server, topic string, part int32) []records.Record {
	t.Helper()
	p, err := s.data.replicas.Lookup(topic, part, -1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Read(0, 1<<20, partition.ReadHighWatermark)
	if err != nil {
		t.Fatal(err)
	}
	var out []records.Record
	for b := res.Records; len(b) > 0; {
		h, err := batch.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		r, err := records.NewReader(b[:h.Size()])
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			rec := *r.Record()
			rec.Key, rec.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
			hs := make([]records.Header, len(rec.Headers))
			for i, h := range rec.Headers {
				hs[i] = records.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
			}
			rec.Headers = hs
			out = append(out, rec)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		b = b[h.Size():]
	}
	return out
}

func dlqHeader(rec records.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestDLQServerWrite: the broker's dead-letter writer reads the group's
// errors.deadletterqueue.* settings, checks KIP-1191's rules at each write, appends to the
// dead-letter partition (source partition mod its count) and waits for it; key and value
// are copied only when the group asks.
func TestDLQServerWrite(t *testing.T) {
	s := newGroupTestServer(t)
	ctx := t.Context()
	w := s.deadLetters()
	rec := func(p int32, off int64) dlq.Record {
		return dlq.Record{Topic: "orders", Partition: p, Offset: off, DeliveryCount: 5, Reason: dlq.DeliveryLimit,
			Key: []byte("k" + strconv.Itoa(int(off))), Value: []byte("v")}
	}
	if err := w.Write(ctx, "g", []dlq.Record{rec(0, 1)}); !errors.Is(err, dlq.ErrNotConfigured) {
		t.Fatalf("a group without a dead-letter topic: %v", err)
	}
	if _, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: "dlq.g", Partitions: 3, ReplicationFactor: -1,
		Configs: map[string]*string{metadata.DLQGroupEnableConfig: kmsg.StringPtr("true")}}); err != nil {
		t.Fatal(err)
	}
	setGroup := func(group string, alters ...config.Alter) {
		t.Helper()
		if err := s.data.store.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: group, Alters: alters}); err != nil {
			t.Fatal(err)
		}
	}
	setGroup("g", config.Alter{Name: metadata.DLQTopicConfig, Value: "dlq.g"})
	if err := w.Write(ctx, "g", []dlq.Record{rec(0, 10), rec(1, 11), rec(3, 13), rec(5, 15)}); err != nil {
		t.Fatal(err)
	}
	got := map[int32][]string{}
	for p := range int32(3) {
		for _, r := range fetchDLQ(t, s, "dlq.g", p) {
			if r.Key != nil || r.Value != nil || dlqHeader(r, dlq.HeaderGroup) != "g" || dlqHeader(r, dlq.HeaderDeliveryCount) != "5" ||
				dlqHeader(r, dlq.HeaderMessage) != dlq.DeliveryLimit.Message() || dlqHeader(r, dlq.HeaderTopic) != "orders" {
				t.Errorf("partition %d: %+v", p, r)
			}
			got[p] = append(got[p], dlqHeader(r, dlq.HeaderOffset))
		}
	}
	want := map[int32][]string{0: {"10", "13"}, 1: {"11"}, 2: {"15"}} // 0, 3 → 0; 1 → 1; 5 → 2
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("offsets by partition %v, want %v", got, want)
	}

	setGroup("g", config.Alter{Name: metadata.DLQCopyRecordConfig, Value: "true"})
	if err := w.Write(ctx, "g", []dlq.Record{rec(1, 21)}); err != nil {
		t.Fatal(err)
	}
	if rs := fetchDLQ(t, s, "dlq.g", 1); len(rs) != 2 || string(rs[1].Key) != "k21" || string(rs[1].Value) != "v" {
		t.Fatalf("copied record: %+v", rs)
	}

	// The rules hold at write time: a topic whose enable setting was removed is refused.
	if err := s.data.store.AlterTopicConfigs(ctx, metadata.AlterTopicConfigs{Topic: "dlq.g",
		Alters: []config.Alter{{Name: metadata.DLQGroupEnableConfig, Op: config.OpDelete}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, "g", []dlq.Record{rec(0, 30)}); !errors.Is(err, metadata.ErrInvalidGroupConfig) {
		t.Fatalf("write to a topic no longer enabled: %v", err)
	}
}

// TestDLQServerAutoCreate: with errors.deadletterqueue.auto.create.topics.enable a group
// may name a topic that does not exist; the first dead letter creates it (num.partitions,
// errors.deadletterqueue.group.enable=true).
func TestDLQServerAutoCreate(t *testing.T) {
	s, err := New(&Options{
		DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: map[string]string{metadata.DLQAutoCreateConfig: "true", "num.partitions": "2", "offsets.topic.num.partitions": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.data.store.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: "g",
		Alters: []config.Alter{{Name: metadata.DLQTopicConfig, Value: "dlq.auto"}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.image().Topic("dlq.auto"); ok {
		t.Fatal("created before the first dead letter")
	}
	if err := s.deadLetters().Write(ctx, "g", []dlq.Record{{Topic: "t", Partition: 3, Offset: 7, DeliveryCount: 1, Reason: dlq.Rejected}}); err != nil {
		t.Fatal(err)
	}
	tp, ok := s.image().Topic("dlq.auto")
	if !ok || tp.NumPartitions() != 2 || tp.Configs[metadata.DLQGroupEnableConfig] != "true" {
		t.Fatalf("created %+v", tp)
	}
	if rs := fetchDLQ(t, s, "dlq.auto", 1); len(rs) != 1 || dlqHeader(rs[0], dlq.HeaderMessage) != dlq.Rejected.Message() {
		t.Fatalf("records %+v", rs)
	}
}

// TestDLQServerSources: a group that copies records gets the key and value of each dead
// record read from the source partition on this broker (compressed batches too, records
// far apart); an offset past the end goes with headers only.
func TestDLQServerSources(t *testing.T) {
	s := newGroupTestServer(t)
	ctx := t.Context()
	for _, name := range []string{"orders", "dlq.g"} {
		cfg := map[string]*string{}
		if name == "dlq.g" {
			cfg[metadata.DLQGroupEnableConfig] = kmsg.StringPtr("true")
		}
		if _, err := s.data.store.CreateTopic(ctx, metadata.CreateTopic{Name: name, Partitions: 1, ReplicationFactor: -1, Configs: cfg}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.data.replicas.Lookup("orders", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	for i, codec := range []int{batch.CodecNone, batch.CodecLZ4, batch.CodecNone} { // offsets 0-99, 100-199, 200-299
		var recs []records.Record
		for j := range 100 {
			n := strconv.Itoa(i*100 + j)
			recs = append(recs, records.Record{Key: []byte("k" + n), Value: bytes.Repeat([]byte(n), 2000)})
		}
		b, err := records.Encode(nil, records.NewBatch(1, recs), codec)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Append(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.data.store.AlterGroupConfigs(ctx, metadata.AlterGroupConfigs{Group: "g", Alters: []config.Alter{
		{Name: metadata.DLQTopicConfig, Value: "dlq.g"}, {Name: metadata.DLQCopyRecordConfig, Value: "true"}}}); err != nil {
		t.Fatal(err)
	}
	dead := []int64{3, 150, 299, 5000}
	var recs []dlq.Record
	for _, o := range dead {
		recs = append(recs, dlq.Record{Topic: "orders", Partition: 0, Offset: o, DeliveryCount: 1, Reason: dlq.Rejected})
	}
	if err := s.deadLetters().Write(ctx, "g", recs); err != nil {
		t.Fatal(err)
	}
	got := fetchDLQ(t, s, "dlq.g", 0)
	if len(got) != len(dead) {
		t.Fatalf("%d dead letters", len(got))
	}
	for i, r := range got[:3] {
		n := strconv.FormatInt(dead[i], 10)
		if string(r.Key) != "k"+n || !bytes.Equal(r.Value, bytes.Repeat([]byte(n), 2000)) {
			t.Errorf("dead letter of offset %d: key %q, value of %d bytes", dead[i], r.Key, len(r.Value))
		}
	}
	if r := got[3]; r.Key != nil || r.Value != nil || dlqHeader(r, dlq.HeaderOffset) != "5000" {
		t.Errorf("an offset past the end: %+v", r)
	}
}
