package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/stratalog/strata/client"
)

// brokers is the address the examples use: an in-memory Kafka-protocol broker started
// by TestMain. In an application it would be "127.0.0.1:9092" (a `strata serve`) or
// your cluster's seed brokers.
var brokers string

func TestMain(m *testing.M) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	brokers = c.ListenAddrs()[0]
	code := m.Run()
	c.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil { // every client closed, every goroutine gone
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// mustTopic creates a topic for an example.
func mustTopic(name string, partitions int32) {
	a, err := client.NewAdmin(client.Brokers(brokers))
	if err != nil {
		panic(err)
	}
	defer a.Close()
	if _, err := a.CreateTopic(context.Background(), name, client.TopicSpec{Partitions: partitions}); err != nil && !errors.Is(err, client.ErrExists) {
		panic(err)
	}
}

func ExampleProducer_Send() {
	mustTopic("greetings", 1)
	ctx := context.Background()

	p, err := client.NewProducer(client.Brokers(brokers))
	if err != nil {
		panic(err)
	}
	defer p.Close()

	for _, name := range []string{"ada", "grace"} {
		r := &client.Record{
			Topic:   "greetings",
			Key:     []byte(name),
			Value:   []byte("hello, " + name),
			Headers: []client.Header{{Key: "lang", Value: []byte("en")}},
		}
		if err := p.Send(ctx, r); err != nil { // waits for the broker's acknowledgement
			panic(err)
		}
		fmt.Println("wrote", r) // topic[partition]@offset
	}
	// Output:
	// wrote greetings[0]@0
	// wrote greetings[0]@1
}

func ExampleProducer_SendAsync() {
	mustTopic("clicks", 1)
	ctx := context.Background()

	p, err := client.NewProducer(client.Brokers(brokers), client.Compression("zstd"), client.Linger(5*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer p.Close()

	failed := make(chan error, 100)
	for i := range 100 {
		p.SendAsync(ctx, &client.Record{Topic: "clicks", Value: fmt.Appendf(nil, "click %d", i)}, func(_ *client.Record, err error) {
			if err != nil {
				failed <- err
			}
		})
	}
	if err := p.Flush(ctx); err != nil { // waits for every queued record
		panic(err)
	}
	fmt.Println("failed:", len(failed))
	// Output: failed: 0
}

func ExampleConsumer_Run() {
	mustTopic("tasks", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	for _, v := range []string{"resize image", "send email", "bill customer"} {
		_ = p.Send(ctx, &client.Record{Topic: "tasks", Value: []byte(v)})
	}
	p.Close()

	// A member of group "workers": offsets are committed after the handler returns
	// nil (at-least-once). StopAtEnd returns once the backlog is done; a service would
	// leave it out and run until ctx is canceled.
	c, err := client.NewConsumer("workers", []string{"tasks"}, client.Brokers(brokers), client.StopAtEnd())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	err = c.Run(ctx, func(_ context.Context, r *client.Record) error {
		fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// offset 0: resize image
	// offset 1: send email
	// offset 2: bill customer
}

func ExampleNewConsumer_replay() {
	mustTopic("audit", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	for i := range 5 {
		_ = p.Send(ctx, &client.Record{Topic: "audit", Value: fmt.Appendf(nil, "event %d", i)})
	}
	p.Close()

	// No group: read partitions directly from a position (Earliest, Latest,
	// AtOffset, AtTime), commit nothing.
	c, err := client.NewConsumer("", []string{"audit"}, client.Brokers(brokers),
		client.StartAt(client.AtOffset(3)), client.StopAtEnd())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Run(ctx, func(_ context.Context, r *client.Record) error {
		fmt.Println(string(r.Value))
		return nil
	})
	// Output:
	// event 3
	// event 4
}

func ExampleAdmin() {
	ctx := context.Background()
	a, err := client.NewAdmin(client.Brokers(brokers))
	if err != nil {
		panic(err)
	}
	defer a.Close()

	if _, err := a.CreateTopic(ctx, "inventory", client.TopicSpec{
		Partitions: 3,
		Configs:    map[string]string{"retention.ms": "86400000"},
	}); err != nil {
		panic(err)
	}
	if _, err := a.CreateTopic(ctx, "inventory", client.TopicSpec{}); errors.Is(err, client.ErrExists) {
		fmt.Println("inventory already exists")
	}
	if _, err := a.AddPartitions(ctx, "inventory", 1); err != nil {
		panic(err)
	}
	d, err := a.DescribeTopic(ctx, "inventory")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Name, "has", len(d.Partitions), "partitions")
	if _, err := a.DescribeTopic(ctx, "nope"); errors.Is(err, client.ErrNotFound) {
		fmt.Println("nope: not found")
	}
	// Output:
	// inventory already exists
	// inventory has 4 partitions
	// nope: not found
}

func ExampleAdmin_ResetOffsets() {
	mustTopic("ledger", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	for range 4 {
		_ = p.Send(ctx, &client.Record{Topic: "ledger", Value: []byte("entry")})
	}
	p.Close()
	a, _ := client.NewAdmin(client.Brokers(brokers))
	defer a.Close()

	// Start a new group at offset 3, then plan (dry run) a rewind to the beginning.
	if _, err := a.ResetOffsets(ctx, "auditors", []string{"ledger"}, client.AtOffset(3), false); err != nil {
		panic(err)
	}
	plan, err := a.ResetOffsets(ctx, "auditors", nil, client.Earliest, true)
	if err != nil {
		panic(err)
	}
	for _, c := range plan.Changes {
		fmt.Printf("%s[%d]: %d -> %d (dry run: %v)\n", c.Topic, c.Partition, c.From, c.To, plan.DryRun)
	}
	g, _ := a.DescribeGroup(ctx, "auditors")
	fmt.Println("lag:", g.TotalLag)
	// Output:
	// ledger[0]: 3 -> 0 (dry run: true)
	// lag: 1
}

func ExampleRequester() {
	mustTopic("rpc.greet", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The service side: a consumer whose handler is a Responder.
	p, _ := client.NewProducer(client.Brokers(brokers))
	defer p.Close()
	svc, _ := client.NewConsumer("greeters", []string{"rpc.greet"}, client.Brokers(brokers))
	defer svc.Close()
	go func() {
		_ = svc.Run(ctx, client.Responder(p, func(_ context.Context, req *client.Record) (*client.Record, error) {
			return &client.Record{Value: []byte("hello, " + string(req.Value))}, nil
		}))
	}()

	// The caller side: requests carry a correlation id and the reply topic.
	rq, err := client.NewRequester(ctx, "rpc.greet.replies", client.Brokers(brokers), client.RequestTimeout(10*time.Second))
	if err != nil {
		panic(err)
	}
	defer rq.Close()
	reply, err := rq.Request(ctx, &client.Record{Topic: "rpc.greet", Value: []byte("ada")})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(reply.Value))
	// Output: hello, ada
}

func ExampleRetry() {
	mustTopic("invoices", 1)
	mustTopic("invoices.dlq", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	defer p.Close()
	for _, v := range []string{"42.00", "not a number", "7.50"} {
		_ = p.Send(ctx, &client.Record{Topic: "invoices", Value: []byte(v)})
	}

	process := func(_ context.Context, r *client.Record) error {
		var amount float64
		if _, err := fmt.Sscan(string(r.Value), &amount); err != nil {
			return fmt.Errorf("bad amount %q", r.Value)
		}
		fmt.Println("billed", amount)
		return nil
	}
	// Three attempts with backoff, then the record goes to invoices.dlq with
	// strata.dlq.* headers and the partition moves on.
	h := client.Retry(p, process, client.MaxAttempts(3), client.Backoff(time.Millisecond, 10*time.Millisecond))
	c, _ := client.NewConsumer("billing", []string{"invoices"}, client.Brokers(brokers), client.StopAtEnd())
	defer c.Close()
	if err := c.Run(ctx, h); err != nil {
		panic(err)
	}

	dlq, _ := client.NewConsumer("", []string{"invoices.dlq"}, client.Brokers(brokers), client.StopAtEnd())
	defer dlq.Close()
	_ = dlq.Run(ctx, func(_ context.Context, r *client.Record) error {
		why, _ := r.Header(client.HeaderDLQError)
		n, _ := r.Header(client.HeaderDLQAttempts)
		fmt.Printf("dead letter %q after %s attempts: %s\n", r.Value, n, why)
		return nil
	})
	// Output:
	// billed 42
	// billed 7.5
	// dead letter "not a number" after 3 attempts: bad amount "not a number"
}

func ExampleRetryConsumer() {
	mustTopic("shipments", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	defer p.Close()
	for _, v := range []string{"parcel 1", "", "parcel 2"} {
		_ = p.Send(ctx, &client.Record{Topic: "shipments", Value: []byte(v)})
	}

	ship := func(_ context.Context, r *client.Record) error {
		if len(r.Value) == 0 {
			return client.Permanent(errors.New("empty shipment")) // no retry: dead-lettered at once
		}
		fmt.Println("shipped", string(r.Value))
		return nil
	}
	// A share group and the broker's dead-letter topic where the broker has them
	// (Strata), a consumer group with Retry otherwise (the in-memory broker here).
	rc, _ := client.NewRetryConsumer("shipping", []string{"shipments"}, p, ship, client.Brokers(brokers),
		client.MaxAttempts(5), client.CreateDeadLetterTopic(), client.MaxRecords(3))
	defer rc.Close()
	mode, _, _ := rc.Mode(ctx)
	fmt.Println("mode:", mode)
	if err := rc.Run(ctx); err != nil {
		panic(err)
	}
	// Output:
	// mode: classic
	// shipped parcel 1
	// shipped parcel 2
}

func ExampleFilter() {
	mustTopic("orders-by-region", 1)
	ctx := context.Background()
	p, _ := client.NewProducer(client.Brokers(brokers))
	for _, k := range []string{"eu/1", "us/2", "eu/3"} {
		_ = p.Send(ctx, &client.Record{Topic: "orders-by-region", Key: []byte(k), Value: []byte("order " + k)})
	}
	_ = p.Send(ctx, &client.Record{Topic: "orders-by-region", Key: []byte("eu/4"), Value: []byte("test order"),
		Headers: []client.Header{{Key: "test", Value: []byte("true")}}})
	p.Close()

	c, _ := client.NewConsumer("", []string{"orders-by-region"}, client.Brokers(brokers), client.StopAtEnd())
	defer c.Close()
	keep := client.All(client.KeyPrefix("eu/"), client.Not(client.HeaderEquals("test", "true")))
	_ = c.Run(ctx, client.Filter(keep, func(_ context.Context, r *client.Record) error {
		fmt.Println(strings.ToUpper(string(r.Value)))
		return nil
	}))
	// Output:
	// ORDER EU/1
	// ORDER EU/3
}
