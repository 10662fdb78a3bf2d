package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server/servertest"
)

// A testBroker starts a fresh Kafka-protocol broker for one test and returns its
// address; it is stopped when the test ends.
type testBroker struct {
	name  string
	start func(t *testing.T) string
}

// testBrokers are the brokers every client test runs against: the package must
// work with any Kafka-protocol broker, Strata included.
var testBrokers = []testBroker{
	{"kfake", startKfake},
	{"strata", startStrata},
}

func startStrata(t *testing.T) string {
	t.Helper()
	// No initial rebalance delay: tests join groups of one member.
	return servertest.StartBroker(t, "", map[string]string{"group.initial.rebalance.delay.ms": "0"}).Addr().String()
}

func startKfake(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// eachBroker runs fn as a subtest against every test broker.
func eachBroker(t *testing.T, fn func(t *testing.T, addr string)) {
	t.Helper()
	for _, b := range testBrokers {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.start(t))
		})
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newAdmin(t *testing.T, addr string) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.Brokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func newProducer(t *testing.T, addr string, opts ...client.Option) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(append([]client.Option{client.Brokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	if _, err := newAdmin(t, addr).CreateTopic(testCtx(t), topic, client.TopicSpec{Partitions: partitions}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produce writes values to topic, keyed "k<i>" unless keys are given, and
// returns the records as acknowledged.
func produce(t *testing.T, addr, topic string, values ...string) []*client.Record {
	t.Helper()
	p := newProducer(t, addr)
	var out []*client.Record
	for _, v := range values {
		r := &client.Record{Topic: topic, Value: []byte(v)}
		if err := p.Send(testCtx(t), r); err != nil {
			t.Fatalf("send %q: %v", v, err)
		}
		out = append(out, r)
	}
	return out
}

// produceTo writes values to one partition of topic.
func produceTo(t *testing.T, addr, topic string, partition int32, values ...string) {
	t.Helper()
	p := newProducer(t, addr, client.ManualPartitioning())
	for _, v := range values {
		if err := p.Send(testCtx(t), &client.Record{Topic: topic, Partition: partition, Value: []byte(v)}); err != nil {
			t.Fatalf("send %q: %v", v, err)
		}
	}
}

// consumeAll reads topic without a group from pos to its current end.
func consumeAll(t *testing.T, addr, topic string, opts ...client.Option) []*client.Record {
	t.Helper()
	c, err := client.NewConsumer("", []string{topic}, append([]client.Option{client.Brokers(addr), client.StopAtEnd()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []*client.Record
	err = c.Run(testCtx(t), func(_ context.Context, r *client.Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("consume %s: %v", topic, err)
	}
	return out
}

func values(rs []*client.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}
