package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// fakeCluster resolves every group to target (or err) and keeps the appended batches.
type fakeCluster struct {
	target    Target
	err       error
	appendErr map[int32]error

	sources    map[int32]map[int64]Source // by source partition
	sourcesErr error

	mu      sync.Mutex
	appends []PartitionBatch
	reads   []string // Sources calls: topic-partition offsets
}

func (c *fakeCluster) Sources(_ context.Context, topic string, p int32, offsets []int64) (map[int64]Source, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, fmt.Sprintf("%s-%d %v", topic, p, offsets))
	return c.sources[p], c.sourcesErr
}

func (c *fakeCluster) Target(_ context.Context, group string) (Target, error) {
	if c.err != nil {
		return Target{}, fmt.Errorf("group %s: %w", group, c.err)
	}
	return c.target, nil
}

func (c *fakeCluster) Append(_ context.Context, topic string, p int32, b []byte) error {
	if topic != c.target.Topic {
		return fmt.Errorf("append to %s", topic)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends = append(c.appends, PartitionBatch{Partition: p, Batch: b})
	return c.appendErr[p]
}

// decode returns the records of a batch, checking it is a valid uncompressed RecordBatch
// v2 without producer.
func decode(t *testing.T, b []byte) (batch.Header, []records.Record) {
	t.Helper()
	r, err := records.NewReader(b)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if h.Magic != 2 || h.Codec() != batch.CodecNone || h.ProducerID != -1 || int(h.Length)+12 != len(b) {
		t.Fatalf("batch header %+v of %d bytes", h, len(b))
	}
	var out []records.Record
	for r.Next() {
		rec := *r.Record()
		rec.Key, rec.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
		hs := make([]records.Header, len(rec.Headers)) // the reader reuses its buffers
		for i, h := range rec.Headers {
			hs[i] = records.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
		rec.Headers = hs
		out = append(out, rec)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return h, out
}

func headers(rec records.Record) map[string]string {
	m := map[string]string{}
	for _, h := range rec.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestDLQWrite: one dead-letter record per dead record, with Kafka's headers and
// messages, on partition source partition mod the topic's partition count, in order, one
// batch per partition, stamped with the clock; key and value only when the group copies
// records.
func TestDLQWrite(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	for _, copyRecord := range []bool{false, true} {
		t.Run(fmt.Sprint("copy=", copyRecord), func(t *testing.T) {
			c := &fakeCluster{target: Target{Topic: "dlq.orders", Partitions: 4, CopyRecord: copyRecord}}
			w := New(c, func() time.Time { return now })
			var recs []Record
			for i := range 6 {
				recs = append(recs, Record{Topic: "orders", Partition: int32(i), Offset: int64(100 + i), DeliveryCount: int16(i%3 + 1),
					Reason: Reason(i%2 + 1), Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i))})
			}
			recs = append(recs, Record{Topic: "orders", Partition: 5, Offset: 200, DeliveryCount: 5, Reason: DeliveryLimit}) // null key and value
			if err := w.Write(t.Context(), "workers", recs); err != nil {
				t.Fatal(err)
			}
			want := map[int32][]int{0: {0, 4}, 1: {1, 5, 6}, 2: {2}, 3: {3}} // dead-letter partition → indexes into recs
			if len(c.appends) != len(want) {
				t.Fatalf("%d batches, want %d", len(c.appends), len(want))
			}
			for i, pb := range c.appends {
				if pb.Partition != int32(i) {
					t.Fatalf("batch %d is for partition %d", i, pb.Partition)
				}
				h, got := decode(t, pb.Batch)
				if h.BaseTimestamp != now.UnixMilli() || len(got) != len(want[pb.Partition]) {
					t.Fatalf("partition %d: %+v, %d records", pb.Partition, h, len(got))
				}
				for j, rec := range got {
					src := recs[want[pb.Partition][j]]
					hs := headers(rec)
					wantHs := map[string]string{HeaderTopic: "orders", HeaderPartition: strconv.Itoa(int(src.Partition)),
						HeaderOffset: strconv.FormatInt(src.Offset, 10), HeaderGroup: "workers",
						HeaderDeliveryCount: strconv.Itoa(int(src.DeliveryCount)), HeaderMessage: src.Reason.Message()}
					if fmt.Sprint(hs) != fmt.Sprint(wantHs) || len(rec.Headers) != 6 || rec.Headers[0].Key != HeaderTopic || rec.Headers[5].Key != HeaderMessage {
						t.Errorf("partition %d record %d headers %v, want %v", pb.Partition, j, rec.Headers, wantHs)
					}
					wantKey, wantValue := src.Key, src.Value
					if !copyRecord {
						wantKey, wantValue = nil, nil
					}
					if !bytes.Equal(rec.Key, wantKey) || !bytes.Equal(rec.Value, wantValue) || (rec.Key == nil) != (wantKey == nil) || (rec.Value == nil) != (wantValue == nil) {
						t.Errorf("partition %d record %d key %q value %q, want %q %q", pb.Partition, j, rec.Key, rec.Value, wantKey, wantValue)
					}
				}
			}
		})
	}
	if got := Rejected.Message(); got != "Offset rejected by client." {
		t.Fatal(got)
	}
	if got := DeliveryLimit.Message(); got != "Offset delivery count exceeded the threshold." {
		t.Fatal(got)
	}
}

// TestDLQBatchLimit: the records of one partition are cut into batches no larger than the
// topic's max.message.bytes; a record larger than that alone goes in a batch of its own.
func TestDLQBatchLimit(t *testing.T) {
	var recs []Record
	for i := range 300 {
		recs = append(recs, Record{Topic: "t", Partition: 0, Offset: int64(i), DeliveryCount: 1, Reason: Rejected, Value: bytes.Repeat([]byte{'x'}, 50)})
	}
	big := Record{Topic: "t", Offset: 300, Reason: Rejected, Value: bytes.Repeat([]byte{'y'}, 5000)}
	recs = append(recs[:150:150], append([]Record{big}, recs[150:]...)...)
	const limit = 2000
	pbs := Batches("g", Target{Topic: "d", Partitions: 1, CopyRecord: true, MaxBatchBytes: limit}, recs, time.Now())
	var offsets []string
	for _, pb := range pbs {
		_, got := decode(t, pb.Batch)
		if len(pb.Batch) > limit && (len(got) != 1 || len(got[0].Value) != 5000) {
			t.Fatalf("a batch of %d bytes, %d records, over %d", len(pb.Batch), len(got), limit)
		}
		for _, r := range got {
			offsets = append(offsets, headers(r)[HeaderOffset])
		}
	}
	if len(pbs) < 10 || len(offsets) != len(recs) {
		t.Fatalf("%d batches, %d records", len(pbs), len(offsets))
	}
	for i, o := range offsets {
		if o != strconv.FormatInt(recs[i].Offset, 10) {
			t.Fatalf("record %d has offset %s, want %d (order)", i, o, recs[i].Offset)
		}
	}
}

// TestDLQWriteErrors: a group without a dead-letter topic writes nothing
// (ErrNotConfigured); a failed append is returned, the other partitions still written.
func TestDLQWriteErrors(t *testing.T) {
	c := &fakeCluster{err: ErrNotConfigured}
	recs := []Record{{Topic: "t", Partition: 0, Reason: Rejected}, {Topic: "t", Partition: 1, Reason: Rejected}}
	if err := New(c, nil).Write(t.Context(), "g", recs); !errors.Is(err, ErrNotConfigured) || len(c.appends) != 0 {
		t.Fatalf("%v, %d appends", err, len(c.appends))
	}
	boom := errors.New("boom")
	c = &fakeCluster{target: Target{Topic: "d", Partitions: 2}, appendErr: map[int32]error{0: boom}}
	if err := New(c, nil).Write(t.Context(), "g", recs); !errors.Is(err, boom) || len(c.appends) != 2 {
		t.Fatalf("%v, %d appends", err, len(c.appends))
	}
	if err := New(c, nil).Write(t.Context(), "g", nil); err != nil {
		t.Fatal(err)
	}
	c = &fakeCluster{target: Target{Topic: "d"}}
	if err := New(c, nil).Write(t.Context(), "g", recs); err == nil {
		t.Fatal("a topic without partitions")
	}
}

// TestDLQWriteSources: a group that copies records gets the key and value of records the
// caller gave without them read from their source partitions (one read per partition,
// over the offsets needed); one that cannot be read goes with headers only; a group that
// does not copy reads nothing.
func TestDLQWriteSources(t *testing.T) {
	c := &fakeCluster{target: Target{Topic: "d", Partitions: 1, CopyRecord: true}, sources: map[int32]map[int64]Source{
		0: {5: {Key: []byte("k5"), Value: []byte("v5")}, 9: {Value: []byte("v9")}},
		1: {2: {Key: []byte("k2")}},
	}}
	recs := []Record{
		{Topic: "t", Partition: 0, Offset: 9, Reason: Rejected},
		{Topic: "t", Partition: 1, Offset: 2, Reason: Rejected},
		{Topic: "t", Partition: 0, Offset: 5, Reason: Rejected},
		{Topic: "t", Partition: 0, Offset: 7, Reason: Rejected},                                          // not readable
		{Topic: "t", Partition: 1, Offset: 3, Reason: Rejected, Key: []byte("given"), Value: []byte("")}, // given by the caller
	}
	if err := New(c, nil).Write(t.Context(), "g", recs); err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.reads)
	if fmt.Sprint(c.reads) != "[t-0 [5 7 9] t-1 [2]]" {
		t.Fatalf("reads %v", c.reads)
	}
	_, got := decode(t, c.appends[0].Batch)
	want := []struct{ key, value []byte }{{nil, []byte("v9")}, {[]byte("k2"), nil}, {[]byte("k5"), []byte("v5")}, {nil, nil}, {[]byte("given"), []byte{}}}
	for i, r := range got {
		if !bytes.Equal(r.Key, want[i].key) || !bytes.Equal(r.Value, want[i].value) || (r.Key == nil) != (want[i].key == nil) || (r.Value == nil) != (want[i].value == nil) {
			t.Errorf("record %d: key %q value %q, want %q %q", i, r.Key, r.Value, want[i].key, want[i].value)
		}
	}
	if recs[0].Value != nil {
		t.Fatal("Write changed the caller's records")
	}

	c.target.CopyRecord, c.reads, c.appends = false, nil, nil
	if err := New(c, nil).Write(t.Context(), "g", recs); err != nil || len(c.reads) != 0 {
		t.Fatalf("a group that does not copy: %v, reads %v", err, c.reads)
	}
	boom := errors.New("boom")
	c.target.CopyRecord, c.sourcesErr, c.appends = true, boom, nil
	if err := New(c, nil).Write(t.Context(), "g", recs); !errors.Is(err, boom) || len(c.appends) != 0 {
		t.Fatalf("a failed read: %v, %d appends", err, len(c.appends))
	}
}
