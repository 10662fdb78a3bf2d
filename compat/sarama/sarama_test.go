package sarama

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stratalog/strata/server/servertest"
)

const n = 20

var codecs = []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4}

func config(t *testing.T, v sarama.KafkaVersion) *sarama.Config {
	t.Helper()
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "strata-sarama-test"
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Return.Errors = true
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// produce sends n keyed messages with timestamps to partition 0 of topic.
func produce(t *testing.T, addr string, cfg *sarama.Config, topic string) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := range n {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
			Timestamp: time.UnixMilli(1_600_000_000_000 + int64(i))})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for i, m := range msgs {
		if m.Offset != int64(i) {
			t.Fatalf("message %d acknowledged at offset %d", i, m.Offset)
		}
	}
}

func checkMessage(t *testing.T, m *sarama.ConsumerMessage, i int) {
	t.Helper()
	if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != fmt.Sprintf("v%d", i) ||
		m.Timestamp.UnixMilli() != 1_600_000_000_000+int64(i) {
		t.Fatalf("message %d: offset %d %q %q %v", i, m.Offset, m.Key, m.Value, m.Timestamp)
	}
}

// TestSaramaV0_10_0 runs Sarama as a Kafka 0.10.0 client: Produce v2 (message format 1)
// with every codec of the era, Fetch v2 (down-converted), ListOffsets v0, and offsets
// committed and fetched with OffsetCommit v2 / OffsetFetch v1 (Sarama's consumer groups
// need 0.10.2; Burrow-era services use the offset manager).
func TestSaramaV0_10_0(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	cfg := config(t, sarama.V0_10_0_0)
	admin := newAdmin(t, addr)
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			topic := "sarama-0.10.0-" + codec.String()
			createTopic(t, admin, topic)
			pcfg := config(t, sarama.V0_10_0_0)
			pcfg.Producer.Compression = codec
			produce(t, addr, pcfg, topic)

			cl, err := sarama.NewClient([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for _, c := range []struct {
				at   int64
				want int64
			}{{sarama.OffsetNewest, n}, {sarama.OffsetOldest, 0}} {
				if got, err := cl.GetOffset(topic, 0, c.at); err != nil || got != c.want {
					t.Fatalf("GetOffset(%d) = %d, %v; want %d", c.at, got, err, c.want)
				}
			}
			consumer, err := sarama.NewConsumerFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			defer consumer.Close()
			pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			for i := range n {
				select {
				case m := <-pc.Messages():
					checkMessage(t, m, i)
				case err := <-pc.Errors():
					t.Fatalf("consume: %v", err)
				case <-time.After(30 * time.Second):
					t.Fatalf("consumed %d of %d messages", i, n)
				}
			}

			group := "sarama-group-" + codec.String()
			om, err := sarama.NewOffsetManagerFromClient(group, cl)
			if err != nil {
				t.Fatal(err)
			}
			pom, err := om.ManagePartition(topic, 0)
			if err != nil {
				t.Fatal(err)
			}
			pom.MarkOffset(n, "done")
			om.Commit()
			pom.Close()
			om.Close()
			checkCommitted(t, admin, group, topic, n)
		})
	}
}

// TestSaramaV2_0_0 runs Sarama as a Kafka 2.0 client in a consumer group (JoinGroup v3,
// SyncGroup v2, Heartbeat v2, OffsetCommit v4 …) on RecordBatch v2.
func TestSaramaV2_0_0(t *testing.T) {
	s := servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"})
	addr := s.Addr().String()
	admin := newAdmin(t, addr)
	const topic, group = "sarama-2.0.0", "sarama-group-2.0.0"
	createTopic(t, admin, topic)
	cfg := config(t, sarama.V2_0_0_0)
	cfg.Producer.Compression = sarama.CompressionLZ4
	produce(t, addr, cfg, topic)

	cg, err := sarama.NewConsumerGroup([]string{addr}, group, config(t, sarama.V2_0_0_0))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := &handler{t: t, done: cancel}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("consume: %v", err)
		}
	}
	if h.seen != n {
		t.Fatalf("consumed %d of %d messages", h.seen, n)
	}
	if err := cg.Close(); err != nil { // commits what was marked
		t.Fatal(err)
	}
	checkCommitted(t, admin, group, topic, n)
}

type handler struct {
	t    *testing.T
	done func()
	mu   sync.Mutex
	seen int
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		checkMessage(h.t, m, h.seen)
		h.seen++
		last := h.seen == n
		h.mu.Unlock()
		sess.MarkMessage(m, "")
		if last {
			sess.Commit()
			h.done()
		}
	}
	return nil
}

func newAdmin(t *testing.T, addr string) sarama.ClusterAdmin {
	t.Helper()
	a, err := sarama.NewClusterAdmin([]string{addr}, config(t, sarama.V2_0_0_0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func createTopic(t *testing.T, a sarama.ClusterAdmin, topic string) {
	t.Helper()
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func checkCommitted(t *testing.T, a sarama.ClusterAdmin, group, topic string, want int64) {
	t.Helper()
	r, err := a.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		t.Fatal(err)
	}
	if b := r.GetBlock(topic, 0); b == nil || b.Err != sarama.ErrNoError || b.Offset != want {
		t.Fatalf("committed offset of %s: %+v, want %d", group, b, want)
	}
}
