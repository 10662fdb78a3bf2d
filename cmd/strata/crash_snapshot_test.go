package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
)

// TestServerCrashProducerSnapshot: an idempotent producer whose batches were all deleted
// (DeleteRecords) keeps its state through a SIGKILL of the broker, thanks to the
// producer-state snapshots: after the restart its retry of its last batch is answered
// as a duplicate (no error, the original offset) and its next batch is in sequence, not
// OUT_OF_ORDER_SEQUENCE_NUMBER. Another producer rolls segments in between, so that the
// snapshots holding the first producer's state lie in segments recovery trusts.
func TestServerCrashProducerSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildStrata(t)
	dataDir := t.TempDir()
	const name = "snap"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	b := startStrata(t, bin, dataDir)
	cl := newRawClient(t, b.addr)
	segBytes := "8192"
	created, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &segBytes}, name)
	if err != nil || created.Err != nil {
		t.Fatal(err, created.Err)
	}
	topic := topicRef{name: name, id: created.ID}
	pid1, epoch1 := initProducerID(ctx, t, cl)
	var last int64
	for seq := range int32(10) {
		last = produceRaw(ctx, t, cl, topic, testutil.BatchOptions{ProducerID: pid1, ProducerEpoch: epoch1, BaseSequence: seq})
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic.name, Partition: 0, At: last + 1})
	if res, err := kadm.NewClient(cl).DeleteRecords(ctx, offs); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	pid2, epoch2 := initProducerID(ctx, t, cl)
	for seq := range int32(40) {
		produceRaw(ctx, t, cl, topic, testutil.BatchOptions{ProducerID: pid2, ProducerEpoch: epoch2, BaseSequence: seq, ValueSize: 1000})
	}
	cl.Close()
	b.kill(t)

	b = startStrata(t, bin, dataDir)
	cl = newRawClient(t, b.addr)
	if got := produceRaw(ctx, t, cl, topic, testutil.BatchOptions{ProducerID: pid1, ProducerEpoch: epoch1, BaseSequence: 9}); got != last {
		t.Fatalf("retry of the last batch at offset %d, want the original %d", got, last)
	}
	if got := produceRaw(ctx, t, cl, topic, testutil.BatchOptions{ProducerID: pid1, ProducerEpoch: epoch1, BaseSequence: 10}); got <= last {
		t.Fatalf("next batch at offset %d, want above %d", got, last)
	}
}

// topicRef names a topic for a raw request at any version: by name, and by id from the
// versions that use ids.
type topicRef struct {
	name string
	id   [16]byte
}

func newRawClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func initProducerID(ctx context.Context, t *testing.T, cl *kgo.Client) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = -1
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("init producer id: %v", err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// produceRaw produces one batch (acks=all) to partition 0 of topic and returns its base
// offset; an error code fails the test.
func produceRaw(ctx context.Context, t *testing.T, cl *kgo.Client, topic topicRef, o testutil.BatchOptions) int64 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic.name, topic.id // by id from v13 (kgo picks the version)
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testutil.Batch(o)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("produce producer %d sequence %d: %v", o.ProducerID, o.BaseSequence, err)
	}
	return p.BaseOffset
}
