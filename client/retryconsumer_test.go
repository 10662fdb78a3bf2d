package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/client"
	"github.com/stratalog/strata/server/servertest"
)

// startShareStrata starts Strata with share-group heartbeats short enough for members
// to get their assignment at once.
func startShareStrata(t *testing.T, extra ...string) string {
	t.Helper()
	st := map[string]string{
		"group.initial.rebalance.delay.ms":      "0",
		"group.share.min.heartbeat.interval.ms": "100",
		"group.share.heartbeat.interval.ms":     "200",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		st[extra[i]] = extra[i+1]
	}
	return servertest.StartBroker(t, "", st).Addr().String()
}

// tally counts what handlers saw, safe for the handlers' goroutines.
type tally struct {
	mu       sync.Mutex
	tries    map[string]int
	accepted map[string]int
	changed  chan struct{}
}

func newTally() *tally {
	return &tally{tries: map[string]int{}, accepted: map[string]int{}, changed: make(chan struct{}, 1)}
}

// try records a delivery of r and returns its number (1 for the first).
func (ty *tally) try(r *client.Record) int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.tries[string(r.Value)]++
	return ty.tries[string(r.Value)]
}

func (ty *tally) accept(r *client.Record) {
	ty.mu.Lock()
	ty.accepted[string(r.Value)]++
	ty.mu.Unlock()
	select {
	case ty.changed <- struct{}{}:
	default:
	}
}

// waitAccepted waits until n distinct values were accepted.
func (ty *tally) waitAccepted(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		ty.mu.Lock()
		got := len(ty.accepted)
		ty.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d values accepted: %v", got, n, ctx.Err())
		case <-ty.changed:
		}
	}
}

// failing is the handler of the retry tests: "flaky" fails once, "poison" fails
// permanently, "doomed" always fails; the others succeed.
func (ty *tally) failing(_ context.Context, r *client.Record) error {
	n := ty.try(r)
	switch v := string(r.Value); {
	case v == "poison":
		return client.Permanent(errors.New("cannot parse"))
	case v == "doomed":
		return errors.New("still down")
	case v == "flaky" && n < 2:
		return errors.New("transient")
	}
	ty.accept(r)
	return nil
}

// readN reads n records of topic without a group, from the start.
func readN(t *testing.T, addr, topic string, n int) []*client.Record {
	t.Helper()
	c, err := client.NewConsumer("", []string{topic}, client.Brokers(addr), client.MaxRecords(n))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []*client.Record
	if err := c.Run(testCtx(t), func(_ context.Context, r *client.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("read %d of %s: %v (got %d)", n, topic, err, len(out))
	}
	return out
}

func newRetryConsumer(t *testing.T, addr, group string, topics []string, h client.Handler, opts ...client.Option) *client.RetryConsumer {
	t.Helper()
	rc, err := client.NewRetryConsumer(group, topics, newProducer(t, addr), h, append([]client.Option{client.Brokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return rc
}

// runInBackground runs rc until the test ends or stop is called; stop returns Run's error.
func runInBackground(t *testing.T, rc *client.RetryConsumer) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- rc.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestRetryConsumerShare(t *testing.T) {
	addr := startShareStrata(t)
	createTopic(t, addr, "work", 1)
	p := newProducer(t, addr)
	values := []string{"ok-1", "flaky", "poison", "doomed", "ok-2"}
	for _, v := range values {
		if err := p.Send(testCtx(t), &client.Record{Topic: "work", Key: []byte("key-" + v), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	ty := newTally()
	rc := newRetryConsumer(t, addr, "workers", []string{"work"}, ty.failing,
		client.MaxAttempts(3), client.Backoff(time.Millisecond, 4*time.Millisecond), client.CreateDeadLetterTopic())
	mode, why, err := rc.Mode(testCtx(t))
	if err != nil || mode != client.RetryShare {
		t.Fatalf("mode %v (%s), %v; want share", mode, why, err)
	}
	stop := runInBackground(t, rc)
	ty.waitAccepted(t, testCtx(t), 3)
	dead := readN(t, addr, "dlq.work", 2)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}

	ty.mu.Lock()
	for v, want := range map[string]int{"ok-1": 1, "flaky": 2, "poison": 1, "doomed": 3, "ok-2": 1} {
		if ty.tries[v] != want {
			t.Errorf("%s tried %d times, want %d", v, ty.tries[v], want)
		}
	}
	for v, n := range ty.accepted {
		if n != 1 {
			t.Errorf("%s accepted %d times", v, n)
		}
	}
	ty.mu.Unlock()

	// KIP-1191's dead letters, written by the broker, with the key and value.
	want := map[string]map[string]string{
		"poison": {"__dlq.errors.offset": "2", "__dlq.errors.delivery.count": "1", "__dlq.errors.message": "Offset rejected by client."},
		"doomed": {"__dlq.errors.offset": "3", "__dlq.errors.delivery.count": "3", "__dlq.errors.message": "Offset delivery count exceeded the threshold."},
	}
	for _, r := range dead {
		w, ok := want[string(r.Value)]
		if !ok || string(r.Key) != "key-"+string(r.Value) {
			t.Errorf("dead letter %q = %q", r.Key, r.Value)
			continue
		}
		delete(want, string(r.Value))
		w["__dlq.errors.topic"], w["__dlq.errors.partition"], w["__dlq.errors.group"] = "work", "0", "workers"
		for k, v := range w {
			if got, _ := r.Header(k); string(got) != v {
				t.Errorf("dead letter %s: %s = %q, want %q", r.Value, k, got, v)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("missing dead letters: %v", want)
	}
	// Every record is done: none will be delivered again.
	d, err := newAdmin(t, addr).DescribeGroup(testCtx(t), "workers")
	if err != nil || d.Type != "share" || len(d.ShareOffsets) != 1 || d.ShareOffsets[0].Start != 5 || d.ShareOffsets[0].InFlight != 0 || d.TotalLag != 0 {
		t.Errorf("group after run: %+v, %v", d, err)
	}
}

// Several RetryConsumers of one group share one partition: each record is accepted
// once, and more than one member handles records.
func TestRetryConsumerShareMembers(t *testing.T) {
	addr := startShareStrata(t)
	createTopic(t, addr, "jobs", 1)
	const members, records = 3, 30
	ty := newTally()
	var (
		mu      sync.Mutex
		by      = map[int]int{} // member → records handled
		barrier = make(chan struct{})
	)
	for m := range members {
		h := func(ctx context.Context, r *client.Record) error {
			ty.try(r)
			mu.Lock()
			by[m]++
			if len(by) == 2 {
				select {
				case <-barrier:
				default:
					close(barrier)
				}
			}
			mu.Unlock()
			// A member's first record waits until another member has one: the
			// partition is shared, not given to one member.
			select {
			case <-barrier:
			case <-ctx.Done():
				return ctx.Err()
			}
			ty.accept(r)
			return nil
		}
		rc := newRetryConsumer(t, addr, "pool", []string{"jobs"}, h, client.CreateDeadLetterTopic())
		if mode, why, err := rc.Mode(testCtx(t)); err != nil || mode != client.RetryShare {
			t.Fatalf("mode %v (%s), %v", mode, why, err)
		}
		runInBackground(t, rc)
	}
	waitMembers(t, addr, "pool", members)
	p := newProducer(t, addr)
	for i := range records {
		if err := p.Send(testCtx(t), &client.Record{Topic: "jobs", Value: fmt.Appendf(nil, "job-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ty.waitAccepted(t, testCtx(t), records)
	ty.mu.Lock()
	defer ty.mu.Unlock()
	for v, n := range ty.tries {
		if n != 1 || ty.accepted[v] != 1 {
			t.Errorf("%s delivered %d times, accepted %d", v, n, ty.accepted[v])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(by) < 2 {
		t.Errorf("records by member: %v", by)
	}
}

// waitMembers waits until the share group has n members, each assigned a partition.
func waitMembers(t *testing.T, addr, group string, n int) {
	t.Helper()
	ctx := testCtx(t)
	a := newAdmin(t, addr)
	for {
		d, err := a.DescribeGroup(ctx, group)
		if err == nil && len(d.Members) == n {
			assigned := 0
			for _, m := range d.Members {
				if len(m.Assigned) > 0 {
					assigned++
				}
			}
			if assigned == n {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s: %+v, %v", group, d, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The classic mode: forced on Strata, chosen on kfake (which serves share groups
// but not KIP-1191's settings); the handler and options are those of share mode.
func TestRetryConsumerClassic(t *testing.T) {
	eachBroker(t, func(t *testing.T, addr string) {
		createTopic(t, addr, "payments", 1)
		produce(t, addr, "payments", "ok-1", "flaky", "poison", "doomed", "ok-2")
		ty := newTally()
		opts := []client.Option{client.MaxAttempts(3), client.Backoff(time.Millisecond, 4*time.Millisecond),
			client.CreateDeadLetterTopic(), client.MaxRecords(5)}
		if strings.Contains(t.Name(), "strata") {
			opts = append(opts, client.RetryWith(client.RetryClassic))
		}
		rc := newRetryConsumer(t, addr, "pay", []string{"payments"}, ty.failing, opts...)
		mode, why, err := rc.Mode(testCtx(t))
		if err != nil || mode != client.RetryClassic {
			t.Fatalf("mode %v (%s), %v; want classic", mode, why, err)
		}
		t.Logf("classic because: %s", why)
		if err := rc.Run(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		for v, want := range map[string]int{"ok-1": 1, "flaky": 2, "poison": 1, "doomed": 3, "ok-2": 1} {
			if ty.tries[v] != want {
				t.Errorf("%s tried %d times, want %d", v, ty.tries[v], want)
			}
		}
		dead := consumeAll(t, addr, "payments.dlq")
		if got := values(dead); len(got) != 2 || got[0] != "poison" || got[1] != "doomed" {
			t.Fatalf("dead letters %q", got)
		}
		for i, want := range []map[string]string{
			{client.HeaderDLQError: "cannot parse", client.HeaderDLQAttempts: "1", client.HeaderDLQOffset: "2"},
			{client.HeaderDLQError: "still down", client.HeaderDLQAttempts: "3", client.HeaderDLQOffset: "3"},
		} {
			for k, v := range want {
				if got, _ := dead[i].Header(k); string(got) != v {
					t.Errorf("dead letter %s: %s = %q, want %q", dead[i].Value, k, got, v)
				}
			}
		}
		d, err := newAdmin(t, addr).DescribeGroup(testCtx(t), "pay")
		if err != nil || d.TotalLag != 0 {
			t.Errorf("group after run: %+v, %v", d, err)
		}
	})
}

// Auto mode chooses classic, and forced share mode fails, when the broker or an
// option rules share groups out.
func TestRetryConsumerModeChoice(t *testing.T) {
	strata := startShareStrata(t)
	noShare := startShareStrata(t, "strata.share.version", "0")
	fewDeliveries := startShareStrata(t, "group.share.max.delivery.count.limit", "5")
	kfake := startKfake(t)
	for _, tc := range []struct {
		name, addr string
		opts       []client.Option
		why        string // in the reason for classic
	}{
		{"stop at end", strata, []client.Option{client.StopAtEnd()}, "StopAtEnd"},
		{"at most once", strata, []client.Option{client.AtMostOnce()}, "AtMostOnce"},
		{"at offset", strata, []client.Option{client.StartAt(client.AtOffset(3))}, "StartAt(offset 3)"},
		{"two dead-letter topics", strata, []client.Option{client.DeadLetterTopic(func(t string) string { return "dlq." + t })}, "several topics"},
		{"no prefix", strata, []client.Option{client.DeadLetterTopic(func(string) string { return "parked" }), client.CreateDeadLetterTopic()}, "dlq."},
		{"no dead-letter topic", strata, nil, "does not exist"},
		{"share groups off", noShare, nil, "ShareGroupHeartbeat"},
		{"attempts above the broker's bound", fewDeliveries, []client.Option{client.MaxAttempts(7), client.CreateDeadLetterTopic()}, "share.delivery.count.limit"},
		{"kfake", kfake, nil, "refuse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topics := []string{"a"}
			if tc.name == "two dead-letter topics" {
				topics = []string{"a", "b"}
			}
			auto := newRetryConsumer(t, tc.addr, "g-"+strings.ReplaceAll(tc.name, " ", "-"), topics, ty0, tc.opts...)
			mode, why, err := auto.Mode(testCtx(t))
			if err != nil || mode != client.RetryClassic || !strings.Contains(why, tc.why) {
				t.Errorf("auto: mode %v (%s), %v; want classic because of %s", mode, why, err, tc.why)
			}
			forced := newRetryConsumer(t, tc.addr, "f-"+strings.ReplaceAll(tc.name, " ", "-"), topics, ty0, append(tc.opts, client.RetryWith(client.RetryShare))...)
			if _, _, err := forced.Mode(testCtx(t)); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("forced share: %v", err)
			}
			if err := forced.Run(testCtx(t)); !errors.Is(err, client.ErrInvalid) {
				t.Errorf("forced share Run: %v", err)
			}
		})
	}
}

func ty0(context.Context, *client.Record) error { return nil }

func TestPermanent(t *testing.T) {
	cause := errors.New("bad input")
	err := client.Permanent(fmt.Errorf("parse: %w", cause))
	if !errors.Is(err, client.ErrPermanent) || !errors.Is(err, cause) || err.Error() != "parse: bad input" {
		t.Errorf("Permanent: %v", err)
	}
	if client.Permanent(nil) != nil || errors.Is(cause, client.ErrPermanent) {
		t.Error("Permanent(nil) or an unmarked error")
	}
}

func TestNewRetryConsumerInvalid(t *testing.T) {
	p, err := client.NewProducer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for name, f := range map[string]func() error{
		"no group":   func() error { _, err := client.NewRetryConsumer("", []string{"t"}, p, ty0); return err },
		"no topics":  func() error { _, err := client.NewRetryConsumer("g", nil, p, ty0); return err },
		"no handler": func() error { _, err := client.NewRetryConsumer("g", []string{"t"}, p, nil); return err },
		"partitions": func() error {
			_, err := client.NewRetryConsumer("g", []string{"t"}, p, ty0, client.Partitions(0))
			return err
		},
	} {
		if err := f(); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Close stops a share-mode Run at once (ErrClosed) and gives back the records it
// holds: another member gets them.
func TestRetryConsumerShareClose(t *testing.T) {
	addr := startShareStrata(t)
	createTopic(t, addr, "tasks", 1)
	produce(t, addr, "tasks", "a", "b", "c")
	holding := make(chan struct{})
	first := newRetryConsumer(t, addr, "crew", []string{"tasks"}, func(ctx context.Context, _ *client.Record) error {
		close(holding)
		<-ctx.Done() // holds its first record until Run ends
		return ctx.Err()
	}, client.CreateDeadLetterTopic())
	errc := make(chan error, 1)
	go func() { errc <- first.Run(context.Background()) }()
	select {
	case <-holding:
	case <-testCtx(t).Done():
		t.Fatal("no record delivered")
	}
	first.Close()
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	ty := newTally()
	second := newRetryConsumer(t, addr, "crew", []string{"tasks"}, ty.failing)
	runInBackground(t, second)
	ty.waitAccepted(t, testCtx(t), 3)
}

// MaxAttempts(1) in share mode: the broker's limit cannot be 1, so the helper rejects
// the record at its first failure.
func TestRetryConsumerShareOneAttempt(t *testing.T) {
	addr := startShareStrata(t)
	createTopic(t, addr, "once", 1)
	produce(t, addr, "once", "doomed", "ok")
	ty := newTally()
	rc := newRetryConsumer(t, addr, "single", []string{"once"}, ty.failing, client.MaxAttempts(1), client.CreateDeadLetterTopic())
	stop := runInBackground(t, rc)
	ty.waitAccepted(t, testCtx(t), 1)
	dead := readN(t, addr, "dlq.once", 1)
	_ = stop()
	if ty.tries["doomed"] != 1 {
		t.Errorf("doomed tried %d times", ty.tries["doomed"])
	}
	for k, want := range map[string]string{"__dlq.errors.message": "Offset rejected by client.", "__dlq.errors.delivery.count": "1"} {
		if v, _ := dead[0].Header(k); string(v) != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}
