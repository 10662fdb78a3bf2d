package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/client"
)

func TestProducerSendSyncAndAsync(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "orders", 3)
		p := newProducer(t, addr)
		ctx := testCtx(t)

		r := &client.Record{Topic: "orders", Key: []byte("alice"), Value: []byte("v0"),
			Headers: []client.Header{{Key: "source", Value: []byte("test")}}}
		if err := p.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Offset != 0 || r.Timestamp.IsZero() {
			t.Fatalf("after Send: offset %d timestamp %v", r.Offset, r.Timestamp)
		}
		// Same key, same partition, increasing offsets, in order, asynchronously.
		var (
			mu   sync.Mutex
			got  []*client.Record
			errs []error
		)
		for i := 1; i <= 5; i++ {
			rec := &client.Record{Topic: "orders", Key: []byte("alice"), Value: fmt.Appendf(nil, "v%d", i)}
			p.SendAsync(ctx, rec, func(r *client.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				got, errs = append(got, r), append(errs, err)
			})
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for i, g := range got {
			if g.Partition != r.Partition || g.Offset != int64(i+1) {
				t.Errorf("async record %d at %s, want partition %d offset %d", i, g, r.Partition, i+1)
			}
		}

		all := consumeAll(t, addr, "orders")
		if len(all) != 6 {
			t.Fatalf("consumed %d records, want 6", len(all))
		}
		if v, ok := all[0].Header("source"); !ok || string(v) != "test" {
			t.Errorf("header source = %q, %v", v, ok)
		}
	})
}

func TestProducerManualPartitionAndCompression(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "p", 3)
		for _, codec := range client.Codecs {
			p := newProducer(t, addr, client.ManualPartitioning(), client.Compression(codec))
			r := &client.Record{Topic: "p", Partition: 2, Value: []byte(codec)}
			if err := p.Send(testCtx(t), r); err != nil {
				t.Fatalf("%s: %v", codec, err)
			}
			if r.Partition != 2 {
				t.Errorf("%s: partition %d, want 2", codec, r.Partition)
			}
		}
		got := consumeAll(t, addr, "p", client.Partitions(2))
		if want := client.Codecs; !slices.Equal(values(got), want) {
			t.Errorf("partition 2 holds %q, want %q", values(got), want)
		}

		// A partition the topic does not have is ErrNotFound, whatever franz-go says.
		p := newProducer(t, addr, client.ManualPartitioning())
		err := p.Send(testCtx(t), &client.Record{Topic: "p", Partition: 9, Value: []byte("x")})
		wantErr(t, "send to partition 9", err, client.ErrNotFound, `client: topic "p" has 3 partitions; partition 9 does not exist`)
		errc := make(chan error, 1)
		p.SendAsync(testCtx(t), &client.Record{Topic: "p", Partition: 3, Value: []byte("x")}, func(_ *client.Record, err error) { errc <- err })
		if err := p.Flush(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "send async to partition 3", <-errc, client.ErrNotFound, `client: topic "p" has 3 partitions; partition 3 does not exist`)
		err = p.Send(testCtx(t), &client.Record{Topic: "p", Partition: -1, Value: []byte("x")})
		wantErr(t, "send to partition -1", err, client.ErrInvalid, `client: produce to "p": partition -1 is negative`)

		if _, err := client.NewProducer(client.Compression("brotli")); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("unknown codec: err %v, want ErrInvalid", err)
		}
	})
}

func TestConsumerStartPositions(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "log", 1)
		produce(t, addr, "log", "a", "b", "c")
		time.Sleep(20 * time.Millisecond) // timestamps have millisecond precision
		mid := time.Now()
		time.Sleep(20 * time.Millisecond)
		produce(t, addr, "log", "d", "e")

		for _, tc := range []struct {
			name string
			pos  client.Position
			want []string
		}{
			{"earliest", client.Earliest, []string{"a", "b", "c", "d", "e"}},
			{"latest", client.Latest, nil},
			{"offset", client.AtOffset(3), []string{"d", "e"}},
			{"offset past end", client.AtOffset(99), nil},
			{"time", client.AtTime(mid), []string{"d", "e"}},
			{"future", client.AtTime(time.Now().Add(time.Hour)), nil},
		} {
			got := values(consumeAll(t, addr, "log", client.StartAt(tc.pos)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}

func TestConsumerMissingTopic(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		c, err := client.NewConsumer("", []string{"nope"}, client.Brokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Run(testCtx(t), func(context.Context, *client.Record) error { return nil })
		wantErr(t, "consume missing topic", err, client.ErrNotFound, `client: topic "nope" does not exist`)

		createTopic(t, addr, "one", 1)
		c, err = client.NewConsumer("", []string{"one"}, client.Brokers(addr), client.Partitions(9))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Run(testCtx(t), func(context.Context, *client.Record) error { return nil })
		wantErr(t, "consume missing partition", err, client.ErrNotFound, `client: topic "one" has 1 partition; partition 9 does not exist`)

		_, err = client.NewConsumer("g", []string{"one"}, client.Brokers(addr), client.Partitions(0))
		wantErr(t, "group and partitions", err, client.ErrInvalid, "client: new consumer: Partitions cannot be used with a group")
	})
}

// runGroup consumes topic in group until n records are handled or fail says so.
func runGroup(t *testing.T, addr, group, topic string, fail func(*client.Record) bool, opts ...client.Option) ([]string, error) {
	t.Helper()
	c, err := client.NewConsumer(group, []string{topic}, append([]client.Option{client.Brokers(addr), client.StopAtEnd()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	err = c.Run(testCtx(t), func(_ context.Context, r *client.Record) error {
		if fail != nil && fail(r) {
			return fmt.Errorf("boom at %s", r.Value)
		}
		got = append(got, string(r.Value))
		return nil
	})
	return got, err
}

func TestConsumerGroupAtLeastOnce(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "work", 1)
		produce(t, addr, "work", "1", "2", "3", "4")
		got, err := runGroup(t, addr, "g", "work", func(r *client.Record) bool { return string(r.Value) == "3" })
		if err == nil || !slices.Equal(got, []string{"1", "2"}) {
			t.Fatalf("first run: got %q, err %v; want [1 2] and an error", got, err)
		}
		// The failed record was not committed: it comes back.
		got, err = runGroup(t, addr, "g", "work", nil)
		if err != nil || !slices.Equal(got, []string{"3", "4"}) {
			t.Fatalf("second run: got %q, err %v; want [3 4]", got, err)
		}
		d, err := newAdmin(t, addr).DescribeGroup(testCtx(t), "g")
		if err != nil {
			t.Fatal(err)
		}
		if d.TotalLag != 0 || len(d.Offsets) != 1 || d.Offsets[0].Committed != 4 {
			t.Fatalf("describe after consuming all: %+v", d)
		}
	})
}

func TestConsumerGroupAtMostOnce(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "work", 1)
		produce(t, addr, "work", "1", "2", "3")
		_, err := runGroup(t, addr, "g", "work", func(r *client.Record) bool { return string(r.Value) == "1" }, client.AtMostOnce())
		if err == nil {
			t.Fatal("want the handler's error")
		}
		// The whole polled batch was committed before handling: nothing comes back.
		produce(t, addr, "work", "4")
		got, err := runGroup(t, addr, "g", "work", nil, client.AtMostOnce())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got, "1") {
			t.Fatalf("at-most-once redelivered the failed record: %q", got)
		}
	})
}

func TestConsumerMaxRecordsAndClose(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "t", 2)
		produce(t, addr, "t", "a", "b", "c", "d")
		got := consumeAll(t, addr, "t", client.MaxRecords(3))
		if len(got) != 3 {
			t.Fatalf("MaxRecords(3) gave %d records", len(got))
		}

		c, err := client.NewConsumer("", []string{"t"}, client.Brokers(addr), client.StartAt(client.Latest))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(testCtx(t), func(context.Context, *client.Record) error { return nil }) }()
		time.Sleep(100 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, client.ErrClosed) {
				t.Fatalf("Run after Close: %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Close")
		}
	})
}

func TestUnreachable(t *testing.T) {
	a, err := client.NewAdmin(client.Brokers("127.0.0.1:1"), client.Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.Ping(testCtx(t))
	var ue *client.UnreachableError
	if !errors.Is(err, client.ErrUnreachable) || !errors.As(err, &ue) || ue.Brokers[0] != "127.0.0.1:1" {
		t.Fatalf("Ping: %v, want *UnreachableError for 127.0.0.1:1", err)
	}
}
