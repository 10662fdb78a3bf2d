package group

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testSession   = 10 * time.Second
	testRebalance = 20 * time.Second
	testDelay     = 100 * time.Millisecond
)

type testEnv struct {
	t    *testing.T
	c    *Coordinator
	logs []*coord.MemLog
	opts Options
}

// newEnv creates a coordinator over in-memory logs, every partition loaded (as a single
// broker does at start). Call it inside synctest.Test.
func newEnv(t *testing.T, mod func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t}
	e.opts = Options{
		NumPartitions:         4,
		InitialRebalanceDelay: testDelay,
		Logger:                slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&e.opts)
	}
	e.logs = make([]*coord.MemLog, e.opts.NumPartitions)
	for i := range e.logs {
		e.logs[i] = coord.NewMemLog()
	}
	e.reopen()
	return e
}

// reopen closes the coordinator (if any) and starts a new one over the same logs.
func (e *testEnv) reopen() {
	e.t.Helper()
	if e.c != nil {
		e.c.Close()
	}
	c, err := e.open(func(p int32) (coord.Log, error) { return e.logs[p], nil })
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c
	e.t.Cleanup(func() { c.Close() })
}

// open starts a coordinator over the logs openLog returns and loads every partition.
func (e *testEnv) open(openLog func(int32) (coord.Log, error)) (*Coordinator, error) {
	o := e.opts
	o.OpenLog = openLog
	c, err := New(&o)
	if err != nil {
		return nil, err
	}
	for p := range c.NumPartitions() {
		if err := c.Load(p, 0); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// list is ListGroups, which must not fail (every partition is loaded).
func (e *testEnv) list(states, types []string) []Listing {
	e.t.Helper()
	l, err := e.c.ListGroups(states, types)
	if err != nil {
		e.t.Fatalf("list groups: %v", err)
	}
	return l
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func jreq(g, member string, protos ...string) *JoinRequest {
	if len(protos) == 0 {
		protos = []string{"range"}
	}
	r := &JoinRequest{
		Group: g, MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1",
		ProtocolType: "consumer", SessionTimeout: testSession, RebalanceTimeout: testRebalance,
	}
	for _, p := range protos {
		r.Protocols = append(r.Protocols, Protocol{Name: p, Metadata: consumerMeta("t")})
	}
	return r
}

type joinRet struct {
	res JoinResult
	err error
}

// joinAsync starts a Join and returns a channel with its result.
func (e *testEnv) joinAsync(ctx context.Context, r *JoinRequest) <-chan joinRet {
	ch := make(chan joinRet, 1)
	go func() {
		res, err := e.c.Join(ctx, r)
		ch <- joinRet{res, err}
	}()
	return ch
}

// joinNew performs the v4 two-step first join and returns the pending channel.
func (e *testEnv) joinNew(ctx context.Context, r *JoinRequest) <-chan joinRet {
	e.t.Helper()
	r.RequireKnownMemberID = true
	res, err := e.c.Join(ctx, r)
	if !errors.Is(err, ErrMemberIDRequired) || res.MemberID == "" {
		e.t.Fatalf("first join: %v %+v", err, res)
	}
	r.MemberID = res.MemberID
	return e.joinAsync(ctx, r)
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Hour): // virtual time under synctest
		t.Fatal("timed out waiting")
		var zero T
		return zero
	}
}

func mustNotBeReady[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected result %+v", v)
	default:
	}
}

type syncRet struct {
	res SyncResult
	err error
}

func (e *testEnv) syncAsync(ctx context.Context, r *SyncRequest) <-chan syncRet {
	ch := make(chan syncRet, 1)
	go func() {
		res, err := e.c.Sync(ctx, r)
		ch <- syncRet{res, err}
	}()
	return ch
}

// stableGroup joins n members into group g and syncs them with assignment "a-<memberID>".
// It returns the member IDs (leader first) and the generation.
func (e *testEnv) stableGroup(ctx context.Context, g string, n int) ([]string, int32) {
	e.t.Helper()
	var chs []<-chan joinRet
	for i := 0; i < n; i++ {
		chs = append(chs, e.joinNew(ctx, jreq(g, "")))
	}
	var rs []JoinResult
	for _, ch := range chs {
		r := recv(e.t, ch)
		if r.err != nil {
			e.t.Fatalf("join: %v", r.err)
		}
		rs = append(rs, r.res)
	}
	gen, leader := rs[0].Generation, rs[0].LeaderID
	ids := []string{leader}
	for _, r := range rs {
		if r.Generation != gen || r.LeaderID != leader {
			e.t.Fatalf("members disagree: %+v vs gen %d leader %s", r, gen, leader)
		}
		if r.MemberID != leader {
			ids = append(ids, r.MemberID)
		}
	}
	assign := map[string][]byte{}
	for _, id := range ids {
		assign[id] = []byte("a-" + id)
	}
	var schs []<-chan syncRet
	for _, id := range ids[1:] {
		schs = append(schs, e.syncAsync(ctx, &SyncRequest{Group: g, Generation: gen, MemberID: id}))
	}
	lr, err := e.c.Sync(ctx, &SyncRequest{Group: g, Generation: gen, MemberID: leader, Assignments: assign})
	if err != nil || string(lr.Assignment) != "a-"+leader {
		e.t.Fatalf("leader sync: %v %q", err, lr.Assignment)
	}
	for i, ch := range schs {
		r := recv(e.t, ch)
		if r.err != nil || string(r.res.Assignment) != "a-"+ids[i+1] {
			e.t.Fatalf("sync %s: %v %q", ids[i+1], r.err, r.res.Assignment)
		}
	}
	return ids, gen
}

func (e *testEnv) state(g string) State {
	d := e.c.DescribeGroups([]string{g})
	return d[0].State
}

// topicFunc is a TopicResolver over a lookup function (no names to match regular
// expressions against, no ids to resolve).
type topicFunc func(name string) (assign.TopicID, int32, bool)

func (f topicFunc) Topic(name string) (assign.TopicID, int32, bool) { return f(name) }
func (topicFunc) TopicName(assign.TopicID) (string, bool)           { return "", false }
func (topicFunc) Names() []string                                   { return nil }

// topicA4 resolves topic "a" (id rtA) with 4 partitions.
var topicA4 = topicFunc(func(name string) (assign.TopicID, int32, bool) { return rtA, 4, name == "a" })
