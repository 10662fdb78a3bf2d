package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

// Integration tests of the data-plane APIs (Produce, Fetch, ListOffsets, InitProducerId,
// DeleteRecords, OffsetForLeaderEpoch) with franz-go against an in-process broker.

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClientTB(t, s, opts...)
}

func newClientTB(t testing.TB, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Addr().String())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, s *server.Server, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, s))
	resp, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v, %v", name, err, resp.Err)
	}
}

func createTopicTB(t testing.TB, s *server.Server, cl *kgo.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v, %v", name, err, resp.Err)
	}
}

// wireRequest sends req at its set version on a fresh connection, without a client
// library (kgo rewrites versions and acks), and decodes the response.
func wireRequest(t *testing.T, s *server.Server, req kmsg.Request) kmsg.Response {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(wire.AppendRequest(nil, 7, "raw", req)); err != nil {
		t.Fatal(err)
	}
	frame, err := wire.ReadFrame(nc, nil, 64<<20)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp := req.ResponseKind()
	body := frame[4:] // correlation id
	if req.IsFlexible() {
		body = body[1:] // empty tagged fields of response header v1
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// topicID looks the topic's id up through Metadata.
func topicID(t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return td[topic].ID
}

// rawProduce sends one batch to one partition with a raw ProduceRequest, at the version
// kgo picks: v13 names the topic by id (zero for a topic that does not exist: a client
// capped below v13, kgo.MaxVersions, produces to it by name).
func rawProduce(t *testing.T, cl *kgo.Client, topic string, part int32, acks int16, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID(t, cl, topic)
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Topics[0].Partitions[0]
}

func listOffset(t *testing.T, s *server.Server, topic string, part int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 8
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = part, ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return wireRequest(t, s, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}

func rawFetch(t *testing.T, s *server.Server, topic string, part int32, offset int64, maxWait, minBytes int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12 // by topic name
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = part, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := wireRequest(t, s, req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 || resp.SessionID != 0 {
		t.Fatalf("fetch: top-level error %d, session %d", resp.ErrorCode, resp.SessionID)
	}
	return resp.Topics[0].Partitions[0]
}

// consumeAll reads n records from the topic from the start.
func consumeAll(t *testing.T, s *server.Server, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, s, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Fatalf("fetch %s-%d: %v", tp, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	for _, tc := range []struct {
		name string
		acks kgo.Acks
	}{
		{"all", kgo.AllISRAcks()},
		{"leader", kgo.LeaderAck()},
		{"none", kgo.NoAck()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "rt-" + tc.name
			createTopic(t, s, topic, 4, nil)
			opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(tc.acks)}
			if tc.acks != kgo.AllISRAcks() {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl := newClient(t, s, opts...)
			const n = 1000
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []error
			for i := range n {
				wg.Add(1)
				r := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", i%37), Value: fmt.Appendf(nil, "value-%d", i)}
				cl.Produce(testCtx(t), r, func(_ *kgo.Record, err error) {
					defer wg.Done()
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d produce errors, first: %v", len(errs), errs[0])
			}
			recs := consumeAll(t, s, topic, n)
			if len(recs) != n {
				t.Fatalf("consumed %d records, want %d", len(recs), n)
			}
			// Same key, same partition; per partition, offsets are 0..k-1 in order and
			// the values of one key keep their produce order.
			keyPart := map[string]int32{}
			next := map[int32]int64{}
			lastVal := map[string]int{}
			seen := map[string]bool{}
			for _, r := range recs {
				if p, ok := keyPart[string(r.Key)]; ok && p != r.Partition {
					t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
				}
				keyPart[string(r.Key)] = r.Partition
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				var v int
				fmt.Sscanf(string(r.Value), "value-%d", &v)
				if last, ok := lastVal[string(r.Key)]; ok && v <= last {
					t.Fatalf("key %s: value %d after %d", r.Key, v, last)
				}
				lastVal[string(r.Key)] = v
				seen[string(r.Value)] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct values, want %d", len(seen), n)
			}
			if len(next) < 2 {
				t.Fatalf("records in %d partitions only", len(next))
			}
		})
	}
}

func TestProduceIdempotentRetryDeduplicated(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "idem", 1, nil)
	cl := newClient(t, s)
	ctx := testCtx(t)
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init producer id: %v, %d", err, ir.ErrorCode)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	b0 := testutil.Batch(testutil.BatchOptions{Records: 3, ProducerID: pid, ProducerEpoch: epoch})
	first := rawProduce(t, cl, "idem", 0, -1, append([]byte(nil), b0...))
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first produce: %+v", first)
	}
	again := rawProduce(t, cl, "idem", 0, -1, append([]byte(nil), b0...))
	if again.ErrorCode != 0 || again.BaseOffset != 0 {
		t.Fatalf("retry: error %d, base offset %d; want the original 0", again.ErrorCode, again.BaseOffset)
	}
	b1 := testutil.Batch(testutil.BatchOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 3})
	if r := rawProduce(t, cl, "idem", 0, -1, b1); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("next batch: %+v", r)
	}
	gap := testutil.Batch(testutil.BatchOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 10})
	if r := rawProduce(t, cl, "idem", 0, -1, gap); r.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", r.ErrorCode)
	}
	// Bump the epoch (KIP-360 style), then the old epoch is fenced.
	bump := kmsg.NewPtrInitProducerIDRequest()
	bump.ProducerID, bump.ProducerEpoch = pid, epoch
	br, err := bump.RequestWith(ctx, cl)
	if err != nil || br.ErrorCode != 0 || br.ProducerID != pid || br.ProducerEpoch != epoch+1 {
		t.Fatalf("bump epoch: %v, %+v", err, br)
	}
	nb := testutil.Batch(testutil.BatchOptions{ProducerID: pid, ProducerEpoch: epoch + 1})
	if r := rawProduce(t, cl, "idem", 0, -1, nb); r.ErrorCode != 0 || r.BaseOffset != 4 {
		t.Fatalf("new epoch: %+v", r)
	}
	old := testutil.Batch(testutil.BatchOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 4})
	if r := rawProduce(t, cl, "idem", 0, -1, old); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch: error %d, want INVALID_PRODUCER_EPOCH", r.ErrorCode)
	}
	if recs := consumeAll(t, s, "idem", 5); len(recs) != 5 {
		t.Fatalf("consumed %d records, want 5", len(recs))
	}
}

func TestInitProducerIDUnique(t *testing.T) {
	dir := t.TempDir()
	seen := map[int64]bool{}
	for range 2 {
		s := servertest.StartBroker(t, dir, nil)
		cl := newClient(t, s)
		for range 3 {
			r, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(testCtx(t), cl)
			if err != nil || r.ErrorCode != 0 || r.ProducerEpoch != 0 {
				t.Fatalf("init producer id: %v, %+v", err, r)
			}
			if seen[r.ProducerID] {
				t.Fatalf("producer id %d handed out twice", r.ProducerID)
			}
			seen[r.ProducerID] = true
		}
		cl.Close()
		if err := s.Shutdown(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	// A transactional id gets an id from the same allocator (the transaction
	// coordinator's), never one an idempotent producer had.
	txn := kmsg.NewPtrInitProducerIDRequest()
	txn.TransactionalID, txn.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 60000
	s := servertest.StartBroker(t, dir, nil)
	r, err := txn.RequestWith(testCtx(t), newClient(t, s))
	if err != nil || r.ErrorCode != 0 || r.ProducerEpoch != 0 || seen[r.ProducerID] {
		t.Fatalf("transactional id: %v, %+v", err, r)
	}
}

func TestProduceIdempotentKgo(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "idem-kgo", 3, nil)
	cl := newClient(t, s, kgo.DefaultProduceTopic("idem-kgo"))
	for i := range 200 {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if recs := consumeAll(t, s, "idem-kgo", 200); len(recs) != 200 {
		t.Fatalf("consumed %d", len(recs))
	}
}

func TestProduceErrors(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "false"})
	createTopic(t, s, "errs", 2, map[string]*string{"max.message.bytes": kmsg.StringPtr("2000")})
	cl := newClient(t, s, kgo.MaxVersions(kversion.V4_0_0())) // Produce v12: by name (TestProduceV13TopicIDs: by id)
	good := testutil.Batch(testutil.BatchOptions{Records: 2})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0x55

	// One request: a corrupt batch for partition 0, a good one for partition 1.
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "errs"
	for i, recs := range [][]byte{bad, good} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(i), recs
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.Topics[0].Partitions
	if ps[0].ErrorCode != kerr.CorruptMessage.Code || ps[1].ErrorCode != 0 || ps[1].BaseOffset != 0 {
		t.Fatalf("corrupt + good: %+v", ps)
	}
	for _, tc := range []struct {
		name  string
		topic string
		part  int32
		acks  int16
		recs  []byte
		want  int16
	}{
		{"too large", "errs", 0, 1, testutil.Batch(testutil.BatchOptions{ValueSize: 3000}), kerr.MessageTooLarge.Code},
		{"unknown topic", "nope", 0, 1, good, kerr.UnknownTopicOrPartition.Code},
		{"unknown partition", "errs", 9, 1, good, kerr.UnknownTopicOrPartition.Code},
		{"garbage", "errs", 0, 1, []byte("not a record batch at all"), kerr.CorruptMessage.Code},
		{"control batch", "errs", 0, 1, testutil.Batch(testutil.BatchOptions{Attributes: 0x20}), kerr.InvalidRecord.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := rawProduce(t, cl, tc.topic, tc.part, tc.acks, tc.recs); r.ErrorCode != tc.want {
				t.Fatalf("error %d, want %d", r.ErrorCode, tc.want)
			}
		})
	}
	// kgo forces its configured acks: send acks=2 on the wire.
	ack2 := kmsg.NewPtrProduceRequest()
	ack2.Version, ack2.Acks, ack2.TimeoutMillis = 9, 2, 1000
	ack2.Topics = req.Topics
	ack2.Topics[0].Partitions = ack2.Topics[0].Partitions[1:]
	if r := wireRequest(t, s, ack2).(*kmsg.ProduceResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("acks=2: %+v", r.Topics[0].Partitions[0])
	}
	// The broker still serves: partition 0 takes a good batch at offset 0.
	if r := rawProduce(t, cl, "errs", 0, -1, good); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("after errors: %+v", r)
	}
}

func TestProduceAutoCreate(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "true"})
	cl := newClient(t, s, kgo.MaxVersions(kversion.V4_0_0())) // Produce v12: by name
	if r := rawProduce(t, cl, "auto-created", 0, -1, testutil.Batch(testutil.BatchOptions{})); r.ErrorCode != 0 {
		t.Fatalf("produce to a new topic: error %d", r.ErrorCode)
	}
}

func TestProduceLogAppendTime(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "lat", 1, map[string]*string{"message.timestamp.type": kmsg.StringPtr("LogAppendTime")})
	cl := newClient(t, s)
	before := time.Now().UnixMilli()
	r := rawProduce(t, cl, "lat", 0, -1, testutil.Batch(testutil.BatchOptions{Timestamp: 5}))
	if r.ErrorCode != 0 || r.LogAppendTime < before {
		t.Fatalf("produce: %+v (before %d)", r, before)
	}
	plain := "lat-create"
	createTopic(t, s, plain, 1, nil)
	if r := rawProduce(t, cl, plain, 0, -1, testutil.Batch(testutil.BatchOptions{Timestamp: 5})); r.LogAppendTime != -1 {
		t.Fatalf("CreateTime topic: LogAppendTime %d, want -1", r.LogAppendTime)
	}
	recs := consumeAll(t, s, "lat", 1)
	if got := recs[0].Timestamp.UnixMilli(); got != r.LogAppendTime {
		t.Fatalf("consumed timestamp %d, want %d", got, r.LogAppendTime)
	}
}

func TestFetchLongPoll(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "poll", 1, nil)
	cl := newClient(t, s)
	// Nothing arrives: answered after MaxWait, empty, no error.
	start := time.Now()
	r := rawFetch(t, s, "poll", 0, 0, 200, 1)
	if r.ErrorCode != 0 || len(r.RecordBatches) != 0 || r.HighWatermark != 0 {
		t.Fatalf("empty fetch: %+v", r)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("empty fetch answered after %v, before MaxWait", waited)
	}
	// A produce wakes a parked fetch long before its 30 s MaxWait.
	got := make(chan kmsg.FetchResponseTopicPartition, 1)
	id := topicID(t, cl, "poll")
	pollCl := newClient(t, s)
	go func() {
		defer close(got)
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 30000, 1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = id // kgo speaks v13+: by topic id
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), pollCl)
		if err != nil {
			t.Error(err)
			return
		}
		got <- resp.Topics[0].Partitions[0]
	}()
	// If the fetch is not parked yet when the produce lands, it answers at once with the
	// record, which is fine too; either way it must not wait for its MaxWait.
	if pr := rawProduce(t, cl, "poll", 0, -1, testutil.Batch(testutil.BatchOptions{})); pr.ErrorCode != 0 {
		t.Fatalf("produce: %+v", pr)
	}
	select {
	case r := <-got:
		if r.ErrorCode != 0 || len(r.RecordBatches) == 0 || r.HighWatermark != 1 {
			t.Fatalf("woken fetch: %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fetch not woken by the produce")
	}
}

func TestFetchErrorsAndDeleteRecords(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"auto.create.topics.enable": "false"})
	createTopic(t, s, "del", 1, nil)
	cl := newClient(t, s)
	for range 5 {
		if r := rawProduce(t, cl, "del", 0, -1, testutil.Batch(testutil.BatchOptions{Records: 2})); r.ErrorCode != 0 {
			t.Fatalf("produce: %+v", r)
		}
	}
	if r := rawFetch(t, s, "del", 0, 11, 0, 0); r.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch past the end: error %d", r.ErrorCode)
	}
	if r := rawFetch(t, s, "nope", 0, 0, 0, 0); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch unknown topic: error %d", r.ErrorCode)
	}
	adm := kadm.NewClient(cl)
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "del", Partition: 0, At: 4})
	dr, err := adm.DeleteRecords(testCtx(t), os)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := dr.Lookup("del", 0); e.Err != nil || e.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", e)
	}
	r := rawFetch(t, s, "del", 0, 2, 0, 0)
	if r.ErrorCode != kerr.OffsetOutOfRange.Code || r.LogStartOffset != 4 || r.HighWatermark != 10 {
		t.Fatalf("fetch below the log start: %+v", r)
	}
	if r := rawFetch(t, s, "del", 0, 4, 0, 0); r.ErrorCode != 0 || len(r.RecordBatches) == 0 || r.LogStartOffset != 4 {
		t.Fatalf("fetch at the log start: %+v", r)
	}
	if lo := listOffset(t, s, "del", 0, -2); lo.Offset != 4 {
		t.Fatalf("earliest after delete: %+v", lo)
	}
	os = kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "del", Partition: 0, At: 99})
	dr, err = adm.DeleteRecords(testCtx(t), os)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := dr.Lookup("del", 0); !errors.Is(e.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past HW: %+v", e)
	}
	os = kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "del", Partition: 0, At: -1})
	dr, err = adm.DeleteRecords(testCtx(t), os)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := dr.Lookup("del", 0); e.Err != nil || e.LowWatermark != 10 {
		t.Fatalf("delete to HW: %+v", e)
	}
}

func TestListOffsetsModes(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "lo", 1, nil)
	cl := newClient(t, s)
	empty := listOffset(t, s, "lo", 0, -3)
	if empty.ErrorCode != 0 || empty.Offset != -1 || empty.Timestamp != -1 {
		t.Fatalf("max timestamp of an empty partition: %+v", empty)
	}
	// Offsets 0-4: 1000..1040; 5-9: 3000..3040; 10: 2000 (an older timestamp).
	for _, b := range [][]byte{
		testutil.Batch(testutil.BatchOptions{Records: 5, Timestamp: 1000, TimestampStep: 10}),
		testutil.Batch(testutil.BatchOptions{Records: 5, Timestamp: 3000, TimestampStep: 10}),
		testutil.Batch(testutil.BatchOptions{Timestamp: 2000}),
	} {
		if r := rawProduce(t, cl, "lo", 0, -1, b); r.ErrorCode != 0 {
			t.Fatalf("produce: %+v", r)
		}
	}
	for _, tc := range []struct {
		ts, off, gotTS int64
	}{
		{-2, 0, -1},
		{-1, 11, -1},
		{-3, 9, 3040},
		{0, 0, 1000},
		{1015, 2, 1020},
		{1041, 5, 3000},
		{3035, 9, 3040},
		{3041, -1, -1},
	} {
		r := listOffset(t, s, "lo", 0, tc.ts)
		if r.ErrorCode != 0 || r.Offset != tc.off || r.Timestamp != tc.gotTS {
			t.Errorf("ListOffsets(%d) = offset %d ts %d err %d; want %d, %d", tc.ts, r.Offset, r.Timestamp, r.ErrorCode, tc.off, tc.gotTS)
		}
		if r.Offset >= 0 && r.LeaderEpoch != 0 {
			t.Errorf("ListOffsets(%d): leader epoch %d", tc.ts, r.LeaderEpoch)
		}
	}
	if r := listOffset(t, s, "nope", 0, -1); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v", r)
	}
	// kadm agrees.
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(testCtx(t), "lo")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("lo", 0); o.Offset != 11 {
		t.Fatalf("kadm end offset %+v", o)
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	createTopic(t, s, "ofle", 1, nil)
	cl := newClient(t, s)
	rawProduce(t, cl, "ofle", 0, -1, testutil.Batch(testutil.BatchOptions{Records: 3}))
	ask := func(topic string, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.Version = 4
		return wireRequest(t, s, req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	if r := ask("ofle", 0, 0); r.ErrorCode != 0 || r.LeaderEpoch != 0 || r.EndOffset != 3 {
		t.Fatalf("epoch 0: %+v", r)
	}
	if r := ask("ofle", 1, 0); r.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current epoch 1: %+v", r)
	}
	if r := ask("ofle", -1, 5); r.ErrorCode != 0 || r.LeaderEpoch != -1 || r.EndOffset != -1 {
		t.Fatalf("future epoch: %+v", r)
	}
	if r := ask("nope", -1, 0); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v", r)
	}
}

func TestProduceRestartKeepsDataAndProducerState(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	createTopic(t, s, "rs", 2, nil)
	cl := newClient(t, s)
	ir, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(testCtx(t), cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatal(err, ir.ErrorCode)
	}
	b := testutil.Batch(testutil.BatchOptions{Records: 4, ProducerID: ir.ProducerID, Timestamp: 100})
	if r := rawProduce(t, cl, "rs", 1, -1, append([]byte(nil), b...)); r.ErrorCode != 0 {
		t.Fatalf("produce: %+v", r)
	}
	cl.Close()
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	s = servertest.StartBroker(t, dir, nil)
	cl = newClient(t, s)
	if r := rawProduce(t, cl, "rs", 1, -1, b); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("retry after restart: %+v", r)
	}
	if lo := listOffset(t, s, "rs", 1, -1); lo.Offset != 4 {
		t.Fatalf("end offset after restart and retry: %+v", lo)
	}
	recs := consumeAll(t, s, "rs", 4)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Offset < recs[j].Offset })
	if len(recs) != 4 || recs[3].Offset != 3 || recs[0].Timestamp.UnixMilli() != 100 {
		t.Fatalf("records after restart: %d", len(recs))
	}
}
