package observe_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/stratalog/strata/observe"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startHTTP serves a Handler attached to s (nil: not attached) on a free loopback port.
func startHTTP(t testing.TB, s *server.Server, opts *observe.Options) (*observe.Handler, string) {
	t.Helper()
	h := observe.New(opts)
	if s != nil {
		h.Attach(s)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		h.Close()
	})
	return h, ts.URL
}

// get fetches url and returns the status and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// do sends a request with a JSON body and decodes the JSON answer into out (if not nil).
func do(t testing.TB, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Fatalf("%s %s: status %d without an {\"error\"} body: %s", method, url, resp.StatusCode, b)
		}
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, e.Error)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: status %d: %s", method, url, resp.StatusCode, b)
		}
	}
	if out != nil && resp.StatusCode < 400 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

// TestObserveHealth: /healthz answers 200 throughout; /readyz 503 before the broker is
// attached and serving, 200 while it serves, 503 from Shutdown on.
func TestObserveHealth(t *testing.T) {
	h, url := startHTTP(t, nil, nil)
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, url+"/readyz"); code != 503 {
		t.Fatalf("readyz before attach: %d %s", code, body)
	}
	s := servertest.StartBroker(t, "", nil)
	h.Attach(s)
	if code, body := get(t, url+"/readyz"); code != 200 {
		t.Fatalf("readyz while serving: %d %s", code, body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, url+"/readyz"); code != 503 {
		t.Fatalf("readyz after shutdown: %d", code)
	}
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Fatalf("healthz after shutdown %d", code)
	}
}

// TestObservePprof: /debug/pprof/ is served only when asked for.
func TestObservePprof(t *testing.T) {
	_, with := startHTTP(t, nil, &observe.Options{Pprof: true})
	if code, body := get(t, with+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d", code)
	}
	_, without := startHTTP(t, nil, nil)
	if code, _ := get(t, without+"/debug/pprof/"); code != 404 {
		t.Fatalf("pprof without Pprof: %d", code)
	}
}

// scrape fetches /metrics and parses it.
func scrape(t testing.TB, url string) map[string]*dtoFamily {
	t.Helper()
	code, body := get(t, url+"/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	return parseMetrics(t, body)
}

// parseMetrics parses a text exposition.
func parseMetrics(t testing.TB, body string) map[string]*dtoFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	out := map[string]*dtoFamily{}
	for name, f := range fams {
		out[name] = &dtoFamily{f}
	}
	return out
}

// kgoClient returns a franz-go client of s.
func kgoClient(t testing.TB, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Addr().String())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialRaw connects to s's Kafka listener, for requests sent one by one (roundTrip).
func dialRaw(t testing.TB, s *server.Server) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

var corr atomic.Int32

// rawVersions are the versions roundTrip sends (all served by the broker).
var rawVersions = map[int16]int16{0: 9, 1: 12, 3: 12, 18: 3}

// roundTrip sends req on nc and reads its response.
func roundTrip[R kmsg.Response](t testing.TB, nc net.Conn, req kmsg.Request) R {
	t.Helper()
	v, ok := rawVersions[req.Key()]
	if !ok {
		t.Fatalf("roundTrip: no version for %s", kmsg.NameForKey(req.Key()))
	}
	req.SetVersion(v)
	id := corr.Add(1)
	if _, err := nc.Write(wire.AppendRequest(nil, id, "observe-test", req)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Fatal(err)
	}
	b = b[4:] // correlation id
	if req.IsFlexible() && req.Key() != 18 {
		b = b[1:] // tagged fields of response header v1
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(b); err != nil {
		t.Fatalf("decode %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

func label(labels ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(labels); i += 2 {
		fmt.Fprintf(&b, "%s=%s,", labels[i], labels[i+1])
	}
	return b.String()
}
