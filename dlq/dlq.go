package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// Kafka's header names of a dead-letter record (ShareGroupDLQRecordHelper).
const (
	HeaderTopic         = "__dlq.errors.topic"
	HeaderPartition     = "__dlq.errors.partition"
	HeaderOffset        = "__dlq.errors.offset"
	HeaderGroup         = "__dlq.errors.group"
	HeaderDeliveryCount = "__dlq.errors.delivery.count"
	HeaderMessage       = "__dlq.errors.message"
)

// ErrNotConfigured: the group has no dead-letter topic (errors.deadletterqueue.topic.name
// is empty); its dead records are only archived. Cluster.Target returns it wrapped.
var ErrNotConfigured = errors.New("dlq: the share group has no dead-letter topic")

// Reason says why a record is dead.
type Reason int8

const (
	// Rejected: a consumer acknowledged it with REJECT.
	Rejected Reason = iota + 1
	// DeliveryLimit: it was delivered share.delivery.count.limit times without being
	// accepted.
	DeliveryLimit
)

// Message is Kafka's __dlq.errors.message for the reason.
func (r Reason) Message() string {
	switch r {
	case Rejected:
		return "Offset rejected by client."
	case DeliveryLimit:
		return "Offset delivery count exceeded the threshold."
	}
	return ""
}

// Record is one dead record of a share group: where it came from, how often it was
// delivered and why it is dead, and its key and value (nil is null), used only when the
// group copies records: when both are nil the Writer reads them from the source partition
// (Cluster.Sources).
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	DeliveryCount int16
	Reason        Reason
	Key, Value    []byte
}

// Source is the key and value of a source record (nil: null).
type Source struct {
	Key, Value []byte
}

// Target is a group's dead-letter topic as the cluster resolved it.
type Target struct {
	Topic string
	// Partitions is the topic's partition count (at least 1).
	Partitions int32
	// CopyRecord is the group's errors.deadletterqueue.copy.record.enable.
	CopyRecord bool
	// MaxBatchBytes is the topic's max.message.bytes; 0: no limit.
	MaxBatchBytes int
}

// Cluster is what a Writer needs of the broker. Implementations are safe for concurrent
// use.
type Cluster interface {
	// Target returns group's dead-letter topic once KIP-1191's rules allow writing to it
	// (creating the topic if it does not exist and auto-creation is on), or an error:
	// ErrNotConfigured wrapped when the group has none.
	Target(ctx context.Context, group string) (Target, error)
	// Append appends batch (a RecordBatch v2 without producer) to a partition of topic
	// through its leader and returns once it is committed (acks=all).
	Append(ctx context.Context, topic string, partition int32, batch []byte) error
	// Sources returns the keys and values of the records of a source partition at
	// offsets (sorted, distinct) that this broker can read, by offset; a record it cannot
	// read (not here, deleted by retention) is left out, and its dead letter goes without
	// key and value, as Kafka's writer sends headers only.
	Sources(ctx context.Context, topic string, partition int32, offsets []int64) (map[int64]Source, error)
}

// Writer writes dead letters to the groups' dead-letter topics.
type Writer struct {
	c   Cluster
	now func() time.Time
}

// New returns a Writer over c; now is the wall clock the records are stamped with (nil:
// time.Now).
func New(c Cluster, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{c: c, now: now}
}

// Write writes one dead-letter record per rec to group's dead-letter topic, in the order
// given within each of its partitions, and returns once all are committed. On error some
// may have been written (a retry writes them again: at least once, as Kafka's). Errors:
// ErrNotConfigured (wrapped) when the group has no dead-letter topic, a refusal of
// KIP-1191's rules, or the append's.
func (w *Writer) Write(ctx context.Context, group string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	t, err := w.c.Target(ctx, group)
	if err != nil {
		return err
	}
	if t.Partitions < 1 {
		return fmt.Errorf("dlq: dead-letter topic %s has no partitions", t.Topic)
	}
	if t.CopyRecord {
		if recs, err = w.withSources(ctx, recs); err != nil {
			return err
		}
	}
	var errs []error
	for _, pb := range Batches(group, t, recs, w.now()) {
		if err := w.c.Append(ctx, t.Topic, pb.Partition, pb.Batch); err != nil {
			errs = append(errs, fmt.Errorf("dlq: write to %s-%d for share group %s: %w", t.Topic, pb.Partition, group, err))
		}
	}
	return errors.Join(errs...)
}

// withSources returns recs with the key and value of those that have neither read from
// their source partitions (one Sources call per partition, with the offsets needed).
func (w *Writer) withSources(ctx context.Context, recs []Record) ([]Record, error) {
	type tp struct {
		topic string
		part  int32
	}
	need := map[tp][]int64{}
	for _, r := range recs {
		if r.Key == nil && r.Value == nil {
			k := tp{r.Topic, r.Partition}
			need[k] = append(need[k], r.Offset)
		}
	}
	if len(need) == 0 {
		return recs, nil
	}
	found := map[tp]map[int64]Source{}
	for k, offs := range need {
		slices.Sort(offs)
		src, err := w.c.Sources(ctx, k.topic, k.part, slices.Compact(offs))
		if err != nil {
			return nil, fmt.Errorf("dlq: read the source records of %s-%d: %w", k.topic, k.part, err)
		}
		found[k] = src
	}
	out := slices.Clone(recs)
	for i := range out {
		if r := &out[i]; r.Key == nil && r.Value == nil {
			src := found[tp{r.Topic, r.Partition}][r.Offset]
			r.Key, r.Value = src.Key, src.Value
		}
	}
	return out, nil
}

// PartitionBatch is one batch for one partition of a dead-letter topic.
type PartitionBatch struct {
	Partition int32
	Batch     []byte
}

// Partition is the dead-letter partition of a record of source partition p: p mod n.
func Partition(p, n int32) int32 { return p % n }

// Batches builds the dead-letter records of recs for t, stamped now: grouped by
// dead-letter partition (in partition order; records in the order given), each group cut
// into batches of at most t.MaxBatchBytes (a record that alone exceeds it gets a batch of
// its own).
func Batches(group string, t Target, recs []Record, now time.Time) []PartitionBatch {
	byPart := map[int32][]records.Record{}
	for _, r := range recs {
		p := Partition(r.Partition, t.Partitions)
		byPart[p] = append(byPart[p], record(group, r, t.CopyRecord))
	}
	ts := now.UnixMilli()
	var out []PartitionBatch
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		rs := byPart[p]
		for len(rs) > 0 {
			n := fit(rs, t.MaxBatchBytes, ts)
			out = append(out, PartitionBatch{Partition: p, Batch: encode(slices.Clone(rs[:n]), ts)})
			rs = rs[n:]
		}
	}
	return out
}

// record is the dead-letter record of r.
func record(group string, r Record, copyRecord bool) records.Record {
	rec := records.Record{Headers: []records.Header{
		{Key: HeaderTopic, Value: []byte(r.Topic)},
		{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
		{Key: HeaderGroup, Value: []byte(group)},
		{Key: HeaderDeliveryCount, Value: strconv.AppendInt(nil, int64(r.DeliveryCount), 10)},
	}}
	if m := r.Reason.Message(); m != "" {
		rec.Headers = append(rec.Headers, records.Header{Key: HeaderMessage, Value: []byte(m)})
	}
	if copyRecord {
		rec.Key, rec.Value = r.Key, r.Value
	}
	return rec
}

// batchOverhead is the size of a RecordBatch v2 header (Kafka's RECORD_BATCH_OVERHEAD).
const batchOverhead = 61

// fit returns how many of rs (at least one) fit in a batch of at most max bytes (0: all).
func fit(rs []records.Record, max int, ts int64) int {
	if max <= 0 {
		return len(rs)
	}
	size := batchOverhead
	for i := range rs {
		// A record's size at offset delta i: its size alone plus the varint growth of
		// the delta (at most 4 more bytes).
		size += len(encode([]records.Record{rs[i]}, ts)) - batchOverhead + varintGrowth(i)
		if size > max {
			return cmp.Or(i, 1)
		}
	}
	return len(rs)
}

func varintGrowth(i int) int {
	n := 0
	for z := uint64(i) << 1; z >= 0x80; z >>= 7 {
		n++
	}
	return n
}

// encode is the uncompressed RecordBatch v2 of rs, without producer, first timestamp ts.
func encode(rs []records.Record, ts int64) []byte {
	b, err := records.Encode(nil, records.NewBatch(ts, rs), batch.CodecNone)
	if err != nil {
		// Only the codec can fail, and None is always valid: a broken invariant.
		panic(fmt.Sprintf("dlq: encode a batch: %v", err))
	}
	return b
}
