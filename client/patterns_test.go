package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/client"
)

func TestRetryDeadLetter(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "payments", 1)
		createTopic(t, addr, "payments.dlq", 1)
		produce(t, addr, "payments", "ok-1", "poison", "ok-2", "flaky")
		p := newProducer(t, addr)

		var (
			handled []string
			tries   = map[string]int{}
		)
		h := func(_ context.Context, r *client.Record) error {
			v := string(r.Value)
			tries[v]++
			switch {
			case v == "poison":
				return errors.New("cannot parse")
			case v == "flaky" && tries[v] < 2: // fails once, then works
				return errors.New("transient")
			}
			handled = append(handled, v)
			return nil
		}
		_, err := runGroupHandler(t, addr, "pay", "payments", client.Retry(p, h, client.MaxAttempts(3), client.Backoff(time.Millisecond, 5*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(handled, []string{"ok-1", "ok-2", "flaky"}) {
			t.Errorf("handled %q", handled)
		}
		if tries["poison"] != 3 || tries["flaky"] != 2 {
			t.Errorf("tries %v", tries)
		}
		dl := consumeAll(t, addr, "payments.dlq")
		if len(dl) != 1 || string(dl[0].Value) != "poison" {
			t.Fatalf("dead letters: %q", values(dl))
		}
		for k, want := range map[string]string{
			client.HeaderDLQError: "cannot parse", client.HeaderDLQAttempts: "3",
			client.HeaderDLQTopic: "payments", client.HeaderDLQPartition: "0", client.HeaderDLQOffset: "1",
		} {
			if v, _ := dl[0].Header(k); string(v) != want {
				t.Errorf("header %s = %q, want %q", k, v, want)
			}
		}
		// Everything was committed: the poison message did not block the partition.
		d, err := newAdmin(t, addr).DescribeGroup(testCtx(t), "pay")
		if err != nil || d.TotalLag != 0 {
			t.Errorf("group after run: %+v, %v", d, err)
		}
	})
}

// runGroupHandler consumes topic in group to its end with h.
func runGroupHandler(t *testing.T, addr, group, topic string, h client.Handler) (int, error) {
	t.Helper()
	c, err := client.NewConsumer(group, []string{topic}, client.Brokers(addr), client.StopAtEnd())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	err = c.Run(testCtx(t), func(ctx context.Context, r *client.Record) error {
		n++
		return h(ctx, r)
	})
	return n, err
}

func TestFilter(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "mixed", 1)
		p := newProducer(t, addr)
		for _, r := range []*client.Record{
			{Key: []byte("eu-1"), Value: []byte("a"), Headers: []client.Header{{Key: "type", Value: []byte("order")}}},
			{Key: []byte("us-1"), Value: []byte("b"), Headers: []client.Header{{Key: "type", Value: []byte("order")}}},
			{Key: []byte("eu-2"), Value: []byte("c"), Headers: []client.Header{{Key: "type", Value: []byte("refund")}}},
			{Key: []byte("eu-3"), Value: []byte("d")},
		} {
			r.Topic = "mixed"
			if err := p.Send(testCtx(t), r); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			keep client.Predicate
			want []string
		}{
			{"key prefix", client.KeyPrefix("eu-"), []string{"a", "c", "d"}},
			{"key equals", client.KeyEquals("us-1"), []string{"b"}},
			{"header", client.HeaderEquals("type", "order"), []string{"a", "b"}},
			{"has header", client.HasHeader("type"), []string{"a", "b", "c"}},
			{"all", client.All(client.KeyPrefix("eu-"), client.HeaderEquals("type", "order")), []string{"a"}},
			{"any", client.Any(client.KeyEquals("us-1"), client.KeyEquals("eu-3")), []string{"b", "d"}},
			{"not", client.Not(client.HasHeader("type")), []string{"d"}},
		} {
			var got []string
			c, err := client.NewConsumer("", []string{"mixed"}, client.Brokers(addr), client.StopAtEnd())
			if err != nil {
				t.Fatal(err)
			}
			err = c.Run(testCtx(t), client.Filter(tc.keep, func(_ context.Context, r *client.Record) error {
				got = append(got, string(r.Value))
				return nil
			}))
			c.Close()
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
			}
		}
	})
}

// startResponder answers requests on topic with fn until the test ends.
func startResponder(t *testing.T, addr, topic string, fn client.ReplyFunc) {
	t.Helper()
	p := newProducer(t, addr)
	// Earliest: requests sent before the responder joined its group are answered too.
	c, err := client.NewConsumer("responders-"+topic, []string{topic}, client.Brokers(addr), client.StartAt(client.Earliest))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.Run(ctx, client.Responder(p, fn)) // ends with ctx
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); c.Close() })
}

func TestRequestReply(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "rpc.upper", 2)
		startResponder(t, addr, "rpc.upper", func(_ context.Context, req *client.Record) (*client.Record, error) {
			if string(req.Value) == "fail" {
				return nil, errors.New("refusing to shout")
			}
			return &client.Record{Value: []byte(strings.ToUpper(string(req.Value)))}, nil
		})
		rq, err := client.NewRequester(testCtx(t), "rpc.replies", client.Brokers(addr), client.RequestTimeout(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer rq.Close()

		// Concurrent requests each get their own reply.
		var wg sync.WaitGroup
		var bad atomic.Int32
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := fmt.Sprintf("hello-%d", i)
				rep, err := rq.Request(testCtx(t), &client.Record{Topic: "rpc.upper", Key: []byte(in), Value: []byte(in)})
				if err != nil || string(rep.Value) != strings.ToUpper(in) {
					t.Errorf("request %s: %v, %v", in, rep, err)
					bad.Add(1)
				}
			}()
		}
		wg.Wait()

		_, err = rq.Request(testCtx(t), &client.Record{Topic: "rpc.upper", Value: []byte("fail")})
		var re *client.RemoteError
		if !errors.As(err, &re) || re.Message != "refusing to shout" {
			t.Errorf("failing responder: %v, want RemoteError", err)
		}

		// Nobody answers on this topic: the request times out.
		createTopic(t, addr, "rpc.void", 1)
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		if _, err := rq.Request(ctx, &client.Record{Topic: "rpc.void", Value: []byte("?")}); !errors.Is(err, client.ErrTimeout) {
			t.Errorf("unanswered request: %v, want ErrTimeout", err)
		}
	})
}
