package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/wire"
)

// Tests of the request pipeline (dispatch.go, auth.go, metrics.go, listener.go).

// withAPI installs h as the handler of key for the length of the test, in place of a
// registered one if any. Tests that use it are not parallel.
func withAPI(t *testing.T, key, minV, maxV int16, h handlerFunc) {
	t.Helper()
	old, had := apis[key]
	apis[key] = api{key: key, min: minV, max: maxV, handle: h}
	t.Cleanup(func() {
		if had {
			apis[key] = old
		} else {
			delete(apis, key)
		}
	})
}

// serveTestListener binds an extra listener with cfg's name and protocol (any protocol:
// Options refuses those the broker cannot serve yet) and serves it.
func serveTestListener(t *testing.T, s *Server, cfg Listener) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := s.newListener(cfg.normalised(), ln)
	s.mu.Lock()
	s.mu.listeners = append(s.mu.listeners, l)
	s.mu.Unlock()
	if _, err := s.serveBound(); err != nil {
		t.Fatal(err)
	}
	return ln.Addr()
}

func dialAddr(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// roundTripTest sends req (client id "t") and decodes the response into a new response of
// its kind; it returns the response and the size of its frame.
func roundTripTest[R kmsg.Response](t *testing.T, nc net.Conn, corr int32, req kmsg.Request) (R, int) {
	t.Helper()
	sendTest(t, nc, corr, req)
	return readResponseTest[R](t, nc, corr, req)
}

// readResponseTest reads the response to req, sent with correlation id corr, and
// returns it and the size of its frame.
func readResponseTest[R kmsg.Response](t *testing.T, nc net.Conn, corr int32, req kmsg.Request) (R, int) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	size := 4 + len(b)
	b = b[4:]
	if req.IsFlexible() && req.Key() != 18 { // ApiVersions answers with header v0
		b = b[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b); err != nil {
		t.Fatalf("decode %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R), size
}

// expectClosed checks that the server closes nc without answering.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes; want the connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// recordingAuthorizer records every question and allows all but the denied operations.
type recordingAuthorizer struct {
	deny []kmsg.ACLOperation
	mu   sync.Mutex
	seen []authCall
}

type authCall struct {
	rc requestContext
	a  Action
}

// requestContext is a copy of a RequestContext's values.
type requestContext struct {
	Principal        Principal
	Listener         string
	SecurityProtocol SecurityProtocol
	ClientAddr       netip.Addr
	ClientID         string
	APIKey           int16
	APIVersion       int16
	CorrelationID    int32
}

func (ra *recordingAuthorizer) Authorize(rc RequestContext, a Action) bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	ra.seen = append(ra.seen, authCall{requestContext{
		rc.Principal(), rc.ListenerName(), rc.SecurityProtocol(), rc.ClientAddr(), rc.ClientID(),
		rc.APIKey(), rc.APIVersion(), rc.CorrelationID(),
	}, a})
	return !slices.Contains(ra.deny, a.Operation)
}

func (ra *recordingAuthorizer) calls() []authCall {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return slices.Clone(ra.seen)
}

func describeClusterOps() *kmsg.DescribeClusterRequest {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	return req
}

// TestPipelinePreAuthGate: on a listener whose protocol needs SASL, only ApiVersions,
// SaslHandshake and SaslAuthenticate run before the connection logs in (anything else
// closes it, as Kafka); after a (fake) SaslAuthenticate logs it in, every API runs and
// requests carry the principal. A PLAINTEXT listener admits everything as ANONYMOUS.
func TestPipelinePreAuthGate(t *testing.T) {
	alice := Principal{Type: "User", Name: "alice"}
	withAPI(t, 36, 0, 2, func(s *Server, r *request) reply { // a fake SASL login
		r.conn.login(alice)
		return now(r.body.ResponseKind())
	})
	ra := &recordingAuthorizer{}
	s := startTest(t, func(o *Options) { o.Authorizer = ra })
	sasl := serveTestListener(t, s, Listener{Name: "sasl_plaintext"})

	t.Run("closed before login", func(t *testing.T) {
		nc := dialAddr(t, sasl)
		roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 1, kmsg.NewPtrApiVersionsRequest())
		sendTest(t, nc, 2, describeClusterOps())
		expectClosed(t, nc)
	})
	t.Run("after login", func(t *testing.T) {
		nc := dialAddr(t, sasl)
		roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 1, kmsg.NewPtrApiVersionsRequest())
		roundTripTest[*kmsg.SASLAuthenticateResponse](t, nc, 2, kmsg.NewPtrSASLAuthenticateRequest())
		before := len(ra.calls())
		resp, _ := roundTripTest[*kmsg.DescribeClusterResponse](t, nc, 3, describeClusterOps())
		if resp.ErrorCode != 0 {
			t.Fatalf("DescribeCluster after login: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		calls := ra.calls()[before:]
		if len(calls) == 0 {
			t.Fatal("authorizer not asked")
		}
		rc := calls[0].rc
		if rc.Principal != alice || rc.Listener != "SASL_PLAINTEXT" || rc.SecurityProtocol != SASLPlaintext {
			t.Fatalf("request context %+v", rc)
		}
	})
	t.Run("plaintext", func(t *testing.T) {
		nc := dialTest(t, s)
		before := len(ra.calls())
		roundTripTest[*kmsg.DescribeClusterResponse](t, nc, 1, describeClusterOps())
		calls := ra.calls()[before:]
		if len(calls) == 0 || calls[0].rc.Principal != Anonymous || calls[0].rc.Principal.String() != "User:ANONYMOUS" {
			t.Fatalf("plaintext principal: %+v", calls)
		}
	})
}

// TestPipelineAuthorizer: handlers ask the Authorizer per resource with Kafka's enums and
// the request's context; DescribeCluster's authorized operations follow its answers.
func TestPipelineAuthorizer(t *testing.T) {
	ra := &recordingAuthorizer{deny: []kmsg.ACLOperation{kmsg.ACLOperationAlter}}
	s := startTest(t, func(o *Options) { o.Authorizer = ra })
	nc := dialTest(t, s)
	req := describeClusterOps()
	req.Version = 1
	resp, _ := roundTripTest[*kmsg.DescribeClusterResponse](t, nc, 5, req)
	var want int32
	for _, op := range clusterOperations {
		if op != kmsg.ACLOperationAlter {
			want |= 1 << op
		}
	}
	if resp.ClusterAuthorizedOperations != want {
		t.Fatalf("cluster authorized operations %b, want %b", resp.ClusterAuthorizedOperations, want)
	}
	calls := ra.calls()
	if len(calls) != 1+len(clusterOperations) { // DESCRIBE on the cluster, then each operation
		t.Fatalf("%d authorizer calls, want %d", len(calls), 1+len(clusterOperations))
	}
	c := calls[0]
	wantRC := requestContext{
		Principal: Anonymous, Listener: "PLAINTEXT", SecurityProtocol: Plaintext,
		ClientAddr: netip.MustParseAddr("127.0.0.1"), ClientID: "t", APIKey: 60, APIVersion: 1, CorrelationID: 5,
	}
	if c.rc != wantRC || c.a.ResourceType != kmsg.ACLResourceTypeCluster || c.a.Name != ClusterResource {
		t.Fatalf("authorizer asked %+v", c)
	}
}

// TestPipelineMetrics: each request is counted once with the bytes of its frame and of
// its response, its latency, and every error code of its response once per partition.
func TestPipelineMetrics(t *testing.T) {
	s := startTest(t, nil)
	nc := dialTest(t, s)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 4
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "m", 2, 1
	ct.Topics = append(ct.Topics, tt)
	if resp, _ := roundTripTest[*kmsg.CreateTopicsResponse](t, nc, 1, ct); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic: %v", kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}

	// Three partitions: two exist, one does not. acks=all: the fetch below must see the
	// records under the high watermark.
	prod := kmsg.NewPtrProduceRequest()
	prod.Version, prod.Acks, prod.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "m"
	for _, p := range []int32{0, 1, 7} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = testBatch()
		rt.Partitions = append(rt.Partitions, rp)
	}
	prod.Topics = append(prod.Topics, rt)
	produceIn := len(wire.AppendRequest(nil, 2, "t", prod))
	_, produceOut := roundTripTest[*kmsg.ProduceResponse](t, nc, 2, prod)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.MaxBytes = 12, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "m"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fresp, fetchOut := roundTripTest[*kmsg.FetchResponse](t, nc, 3, fetch)
	if len(fresp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatal("fetched nothing")
	}
	// The writer records a response after writing it and before the next one.
	roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 4, kmsg.NewPtrApiVersionsRequest())

	snap := s.Metrics()
	byName := map[string]APIMetrics{}
	for _, a := range snap.APIs {
		byName[a.Name] = a
	}
	p := byName["Produce"]
	if p.Requests != 1 || p.BytesIn != uint64(produceIn) || p.BytesOut != uint64(produceOut) || p.Latency.Count != 1 {
		t.Fatalf("Produce metrics %+v, want 1 request, %d bytes in, %d out", p, produceIn, produceOut)
	}
	wantErrs := []ErrorCount{{0, 2}, {kerr.UnknownTopicOrPartition.Code, 1}}
	if !slices.Equal(p.Errors, wantErrs) {
		t.Fatalf("Produce errors %v, want %v", p.Errors, wantErrs)
	}
	f := byName["Fetch"]
	// Fetch: the response's own error code and the partition's, both NONE; the record
	// bytes (sent from the segment file) are counted out.
	if f.Requests != 1 || f.BytesOut != uint64(fetchOut) || !slices.Equal(f.Errors, []ErrorCount{{0, 2}}) {
		t.Fatalf("Fetch metrics %+v, want %d bytes out", f, fetchOut)
	}
	if a := byName["ApiVersions"]; a.Requests != 1 {
		t.Fatalf("ApiVersions %+v", a)
	}
	var n uint64
	for _, c := range p.Latency.Counts {
		n += c
	}
	if n != 1 || p.Latency.Sum <= 0 || len(p.Latency.Counts) != len(p.Latency.Bounds)+1 {
		t.Fatalf("Produce latency %+v", p.Latency)
	}
	if len(snap.Listeners) != 1 || snap.Listeners[0].Name != "PLAINTEXT" || snap.Listeners[0].Connections != 1 {
		t.Fatalf("listeners %+v", snap.Listeners)
	}
	if _, ok := byName["AllocateProducerIDs"]; ok {
		t.Fatal("an API the broker does not serve is reported")
	}
}

// TestPipelineMetricsNoResponse: an acks=0 produce (no response) is counted and timed.
func TestPipelineMetricsNoResponse(t *testing.T) {
	s := startTest(t, nil)
	nc := dialTest(t, s)
	prod := kmsg.NewPtrProduceRequest()
	prod.Version, prod.Acks = 9, 0
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "nope"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testBatch()
	rt.Partitions = append(rt.Partitions, rp)
	prod.Topics = append(prod.Topics, rt)
	sendTest(t, nc, 1, prod)
	roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 2, kmsg.NewPtrApiVersionsRequest())
	for _, a := range s.Metrics().APIs {
		if a.Name == "Produce" && (a.Requests != 1 || a.Latency.Count != 1 || a.BytesOut != 0 || a.Errors != nil) {
			t.Fatalf("acks=0 produce: %+v", a)
		}
	}
}

// testBatch is one small valid RecordBatch.
func testBatch() []byte {
	b, err := records.Encode(nil, &records.Batch{
		Header:  batch.Header{Magic: 2, ProducerID: -1, BaseSequence: -1},
		Records: []records.Record{{Value: []byte("v")}},
	}, batch.CodecNone)
	if err != nil {
		panic(err)
	}
	return b
}

// TestPipelineThrottle: the quota seam sets the response's throttle time and holds the
// connection's next request back until it has passed (KIP-219).
func TestPipelineThrottle(t *testing.T) {
	const d = 300 * time.Millisecond
	s := startTest(t, nil)
	s.quota = func(r *request, _ kmsg.Response) time.Duration {
		if r.hdr.CorrelationID == 1 {
			return d
		}
		return 0
	}
	nc := dialTest(t, s)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	start := time.Now()
	resp, _ := roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 1, req)
	if resp.ThrottleMillis != int32(d.Milliseconds()) {
		t.Fatalf("throttle %d ms, want %d", resp.ThrottleMillis, d.Milliseconds())
	}
	roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 2, req)
	// The mute began after start, so the second request cannot be answered earlier than
	// d after start, however slow the machine.
	if el := time.Since(start); el < d {
		t.Fatalf("second response after %v; the connection was muted for %v", el, d)
	}
}

// TestServerListeners: several listeners, each advertising its own address; Metadata,
// FindCoordinator and DescribeCluster answer with the address of the listener the request
// came in on.
func TestServerListeners(t *testing.T) {
	s := startTest(t, func(o *Options) {
		o.Listen = ""
		o.Listeners = []Listener{
			{Name: "internal", Addr: "127.0.0.1:0"},
			{Name: "EXTERNAL", Addr: "127.0.0.1:0", SecurityProtocol: Plaintext, Advertised: "broker.example:19092"},
		}
	})
	internal, external := s.ListenerAddr("internal"), s.ListenerAddr("EXTERNAL")
	if internal == nil || external == nil || s.Addr().String() != internal.String() {
		t.Fatalf("addresses: first %v, internal %v, external %v", s.Addr(), internal, external)
	}
	ap := netip.MustParseAddrPort(internal.String())
	for _, tc := range []struct {
		addr net.Addr
		host string
		port int32
	}{
		{internal, "127.0.0.1", int32(ap.Port())},
		{external, "broker.example", 19092},
	} {
		nc := dialAddr(t, tc.addr)
		md, _ := roundTripTest[*kmsg.MetadataResponse](t, nc, 1, kmsg.NewPtrMetadataRequest())
		fc, _ := roundTripTest[*kmsg.FindCoordinatorResponse](t, nc, 2, &kmsg.FindCoordinatorRequest{Version: 3, CoordinatorKey: "g"})
		dc, _ := roundTripTest[*kmsg.DescribeClusterResponse](t, nc, 3, kmsg.NewPtrDescribeClusterRequest())
		if b := md.Brokers[0]; b.Host != tc.host || b.Port != tc.port {
			t.Errorf("Metadata via %v: %s:%d, want %s:%d", tc.addr, b.Host, b.Port, tc.host, tc.port)
		}
		if fc.Host != tc.host || fc.Port != tc.port {
			t.Errorf("FindCoordinator via %v: %s:%d", tc.addr, fc.Host, fc.Port)
		}
		if b := dc.Brokers[0]; b.Host != tc.host || b.Port != tc.port {
			t.Errorf("DescribeCluster via %v: %s:%d", tc.addr, b.Host, b.Port)
		}
	}
	listeners, advertised, protocols := s.listenerSettings()
	if listeners != "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0" ||
		advertised != "INTERNAL://"+internal.String()+",EXTERNAL://broker.example:19092" ||
		protocols != "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT" {
		t.Fatalf("settings %q %q %q", listeners, advertised, protocols)
	}
	// The shorthand reports Kafka's default map, which DescribeConfigs gives as a default.
	if st, ok := config.Lookup(protocolMapSetting); !ok || st.Default != defaultProtocolMap {
		t.Fatalf("registry default of %s: %q, want %q", protocolMapSetting, st.Default, defaultProtocolMap)
	}
	got := map[string]int64{}
	for _, l := range s.Metrics().Listeners {
		got[l.Name] = l.Connections
	}
	if got["INTERNAL"] != 1 || got["EXTERNAL"] != 1 {
		t.Fatalf("connections per listener %v", got)
	}
}

// TestServerListenersInvalid: what Options refuses, with a message naming the problem.
func TestServerListenersInvalid(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Listeners: []Listener{{Name: "A", Addr: "127.0.0.1:0"}, {Name: "a", Addr: "127.0.0.1:0"}}}, "different name"},
		{Options{Listeners: []Listener{{Name: "A", Addr: ":9092"}, {Name: "B", Addr: ":9092"}}}, "different port"},
		{Options{Listeners: []Listener{{Name: "A", Addr: "nohost"}}}, "address"},
		{Options{Listeners: []Listener{{Name: "A", Addr: ":1", Advertised: "x"}}}, "advertised"},
		{Options{Listeners: []Listener{{Name: "A", Addr: ":1", SecurityProtocol: "TLS"}}}, "unknown security protocol"},
		{Options{Listen: ":1", Listeners: []Listener{{Name: "A", Addr: ":2"}}}, "not both"},
	} {
		tc.o.EnsureDefaults()
		err := tc.o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o.Listeners, err, tc.want)
		}
	}
	ok := Options{Listeners: []Listener{{Name: "A", Addr: "127.0.0.1:9092"}, {Name: "B", Addr: "[::1]:9092"}}}
	ok.EnsureDefaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("one IPv4 and one IPv6 listener on a port: %v", err)
	}
}

// BenchmarkPipelineRecord is the writer's metrics step for one response (latency, bytes,
// the error codes walked): Produce and Fetch responses of 1 and 100 partitions.
func BenchmarkPipelineRecord(b *testing.B) {
	s := &Server{metrics: newMetrics()}
	c := &conn{s: s}
	for _, n := range []int{1, 100} {
		produce := kmsg.NewPtrProduceResponse()
		fetch := kmsg.NewPtrFetchResponse()
		pt, ft := kmsg.NewProduceResponseTopic(), kmsg.NewFetchResponseTopic()
		for i := range n {
			pp, fp := kmsg.NewProduceResponseTopicPartition(), kmsg.NewFetchResponseTopicPartition()
			pp.Partition, fp.Partition = int32(i), int32(i)
			pt.Partitions = append(pt.Partitions, pp)
			ft.Partitions = append(ft.Partitions, fp)
		}
		produce.Topics, fetch.Topics = append(produce.Topics, pt), append(fetch.Topics, ft)
		for _, resp := range []kmsg.Response{produce, fetch} {
			b.Run(fmt.Sprintf("%s/partitions=%d", kmsg.NameForKey(resp.Key()), n), func(b *testing.B) {
				r := &request{hdr: wire.RequestHeader{APIKey: resp.Key()}, start: time.Now()}
				b.ReportAllocs()
				for b.Loop() {
					c.record(r, resp, 100)
				}
			})
		}
	}
}

// TestServerListenAndServe: New, Listen (every listener bound, none accepting yet) and
// ListenAndServe (all of them served) as strata serve runs them; ListenAndServe returns
// ErrServerClosed after Shutdown.
func TestServerListenAndServe(t *testing.T) {
	s, err := New(&Options{
		DataDir:   t.TempDir(),
		Logger:    slog.New(slog.DiscardHandler),
		Listeners: []Listener{{Name: "A", Addr: "127.0.0.1:0"}, {Name: "B", Addr: "127.0.0.1:0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe() }()
	for _, name := range []string{"A", "B"} {
		nc := dialAddr(t, s.ListenerAddr(name))
		roundTripTest[*kmsg.ApiVersionsResponse](t, nc, 1, kmsg.NewPtrApiVersionsRequest())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ListenAndServe: %v", err)
	}
	if err := s.Listen(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}
}

// TestPipelineCoordinatorOrder: coordinator requests on one connection take effect in
// request order, as Kafka's do: a Heartbeat (answered at once) sent behind an
// OffsetCommit whose answer is still being worked out runs only once the commit is
// answered. The commit's handler waits for the heartbeat's, or 200 ms: without the
// ordering the heartbeat comes first. A Produce (not a coordinator request) is not held.
func TestPipelineCoordinatorOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, s)
	}
	heartbeat := make(chan struct{})
	withAPI(t, 8, 0, 9, func(s *Server, r *request) reply {
		return later(func() kmsg.Response {
			select {
			case <-heartbeat:
			case <-time.After(200 * time.Millisecond):
			}
			note("commit")
			return r.body.ResponseKind()
		})
	})
	withAPI(t, 12, 0, 4, func(s *Server, r *request) reply {
		note("heartbeat")
		close(heartbeat)
		return now(r.body.ResponseKind())
	})
	withAPI(t, 0, 0, 11, func(s *Server, r *request) reply {
		note("produce")
		return now(r.body.ResponseKind())
	})
	s := startTest(t, nil)
	nc := dialTest(t, s)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 9
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	produce := kmsg.NewPtrProduceRequest()
	produce.Version = 9
	sendTest(t, nc, 1, commit)
	sendTest(t, nc, 2, produce)
	sendTest(t, nc, 3, hb)
	readResponseTest[*kmsg.OffsetCommitResponse](t, nc, 1, commit)
	readResponseTest[*kmsg.ProduceResponse](t, nc, 2, produce)
	readResponseTest[*kmsg.HeartbeatResponse](t, nc, 3, hb)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"produce", "commit", "heartbeat"}; !slices.Equal(order, want) {
		t.Fatalf("handlers ran in order %v, want %v", order, want)
	}
}
