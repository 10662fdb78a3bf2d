package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
)

// quiet discards the logs of brokers that fail to start.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startTLS starts a broker with a PLAINTEXT and an SSL listener (more with extra) and the
// given settings.
func startTLS(t *testing.T, settings map[string]string, auth server.Authorizer, extra ...server.Listener) *server.Server {
	t.Helper()
	ls := append([]server.Listener{
		{Name: "PLAINTEXT", Addr: "127.0.0.1:0"},
		{Name: "SSL", Addr: "127.0.0.1:0"},
	}, extra...)
	return servertest.Start(t, &server.Options{Listeners: ls, Settings: settings, Authorizer: auth})
}

func tlsClient(t *testing.T, addr string, cfg *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(cfg), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// roundTrip creates topic, produces one record and consumes it back through cl.
func roundTrip(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.AddConsumeTopics(topic)
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "over tls" {
		t.Fatalf("consumed %v, want the record produced", recs)
	}
}

// TestTLSProduceConsume: kgo produces and consumes over an SSL listener, and Metadata
// gives each client the address of the listener it came in on (a client of the SSL
// listener that was sent to the PLAINTEXT port could not talk to it).
func TestTLSProduceConsume(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	s := startTLS(t, map[string]string{"ssl.keystore.location": ca.Server(t).File}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sslAddr := s.ListenerAddr("SSL").String()
	cl := tlsClient(t, sslAddr, ca.ClientTLS(nil), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	roundTrip(ctx, t, cl, "tls-roundtrip")

	// Fetches large enough to be sent in chunks (sendfile on plaintext TCP) come whole
	// over TLS too.
	big := tlsClient(t, sslAddr, ca.ClientTLS(nil), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ConsumeTopics("tls-big"), kgo.AllowAutoTopicCreation())
	var sent [][]byte
	for i := range 64 {
		v := bytes.Repeat([]byte{byte(i)}, 64<<10)
		sent = append(sent, v)
		big.Produce(ctx, &kgo.Record{Topic: "tls-big", Value: v}, nil)
	}
	if err := big.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(sent); {
		fs := big.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		for _, r := range fs.Records() {
			if !bytes.Equal(r.Value, sent[i]) {
				t.Fatalf("record %d: %d bytes differ from those produced", i, len(r.Value))
			}
			i++
		}
	}

	for _, tc := range []struct {
		addr string
		tls  *tls.Config
	}{{sslAddr, ca.ClientTLS(nil)}, {s.ListenerAddr("PLAINTEXT").String(), nil}} {
		opts := []kgo.Opt{kgo.SeedBrokers(tc.addr)}
		if tc.tls != nil {
			opts = append(opts, kgo.DialTLSConfig(tc.tls))
		}
		c, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		md, err := kadm.NewClient(c).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(tc.addr)
		if len(md.Brokers) != 1 || strconv.Itoa(int(md.Brokers[0].Port)) != port {
			t.Fatalf("metadata via %s: brokers %+v, want the port of that listener", tc.addr, md.Brokers)
		}
		// FindCoordinator, retried while the coordinator loads (a retriable error).
		var got int32
		for {
			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"}
			resp, err := fc.RequestWith(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			code := resp.ErrorCode
			got = resp.Port
			if len(resp.Coordinators) > 0 {
				code, got = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].Port
			}
			if code == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("FindCoordinator: error %d", code)
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
		if strconv.Itoa(int(got)) != port {
			t.Fatalf("FindCoordinator via %s: port %d, want that listener's", tc.addr, got)
		}
	}
}

// principals is an Authorizer that allows everything and records who asked.
type principals struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *principals) Authorize(rc server.RequestContext, _ server.Action) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[rc.Principal().String()+"@"+rc.ListenerName()] = true
	return true
}

func (p *principals) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// apiVersions sends one ApiVersions request on nc and reads the answer.
func apiVersions(nc net.Conn) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "t", "1"
	frame := req.AppendTo(nil)
	hdr := []byte{0, 0, 0, 0, 0, 18, 0, 3, 0, 0, 0, 1, 0, 1, 't', 0} // size, key 18, v3, corr 1, client id "t", no tags
	hdr = append(hdr, frame...)
	size := len(hdr) - 4
	hdr[0], hdr[1], hdr[2], hdr[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(hdr); err != nil {
		return err
	}
	var n [4]byte
	_, err := io.ReadFull(nc, n[:])
	return err
}

// TestTLSClientAuth: ssl.client.auth=required refuses clients without a certificate the
// truststore vouches for and makes a client with one User:<CN>; requested lets clients
// without one in as User:ANONYMOUS, still refusing an untrusted one; a certificate on a
// listener with none is not asked for (ANONYMOUS). The PLAINTEXT listener stays
// ANONYMOUS.
func TestTLSClientAuth(t *testing.T) {
	ca, other := testcerts.NewCA(t, "ca"), testcerts.NewCA(t, "other")
	srv := ca.Server(t)
	alice, mallory := ca.Client(t, "alice"), other.Client(t, "mallory")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		auth   string
		client *testcerts.Pair
		want   string // principal, "" when refused
	}{
		{"required", alice, "User:alice"},
		{"required", nil, ""},
		{"required", mallory, ""},
		{"requested", alice, "User:alice"},
		{"requested", nil, "User:ANONYMOUS"},
		{"requested", mallory, ""},
		{"none", alice, "User:ANONYMOUS"},
	} {
		name := tc.auth + "/"
		if tc.client != nil {
			name += tc.client.Cert.Subject.CommonName
		}
		t.Run(name, func(t *testing.T) {
			auth := &principals{}
			s := startTLS(t, map[string]string{
				"ssl.keystore.location":   srv.File,
				"ssl.truststore.location": ca.File,
				"ssl.client.auth":         tc.auth,
			}, auth)
			addr := s.ListenerAddr("SSL").String()
			if tc.want == "" {
				nc, err := tls.Dial("tcp", addr, ca.ClientTLS(tc.client))
				if err == nil {
					err = apiVersions(nc) // TLS 1.3: the server refuses after the client's Finished
					nc.Close()
				}
				if err == nil {
					t.Fatal("a client without a trusted certificate was served")
				}
				return
			}
			cl := tlsClient(t, addr, ca.ClientTLS(tc.client), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			roundTrip(ctx, t, cl, "mtls")
			plain, err := kgo.NewClient(kgo.SeedBrokers(s.ListenerAddr("PLAINTEXT").String()))
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			// DescribeCluster's authorized operations ask the Authorizer (the handlers that
			// check ACLs come with them).
			for _, c := range []*kgo.Client{cl, plain} {
				req := kmsg.NewPtrDescribeClusterRequest()
				req.IncludeClusterAuthorizedOperations = true
				if _, err := req.RequestWith(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"User:ANONYMOUS@PLAINTEXT", tc.want + "@SSL"}
			if got := auth.list(); !slices.Equal(got, want) {
				t.Fatalf("principals %v, want %v", got, want)
			}
		})
	}
}

// TestTLSRefusesPlaintextAndStalls: plaintext Kafka bytes sent to an SSL listener close
// the connection at once (its handshake timeout is a minute), and a client that starts
// no handshake is disconnected after strata.ssl.handshake.timeout.ms (300 ms on another
// listener); neither holds the listener back from other clients.
func TestTLSRefusesPlaintextAndStalls(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	s := startTLS(t, map[string]string{
		"ssl.keystore.location":                              ca.Server(t).File,
		"listener.name.ssl.strata.ssl.handshake.timeout.ms":  "60000",
		"listener.name.slow.strata.ssl.handshake.timeout.ms": "300",
	}, nil, server.Listener{Name: "SLOW", Addr: "127.0.0.1:0", SecurityProtocol: server.SSL})
	addr := s.ListenerAddr("SSL").String()

	// The clock starts before the dial: the broker's timer starts at its accept, which a
	// loaded machine may run before Dial returns.
	start := time.Now()
	stalled, err := net.Dial("tcp", s.ListenerAddr("SLOW").String()) // sends nothing
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalledOnSSL, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalledOnSSL.Close()

	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	err = apiVersions(plain) // 10 s deadline
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("plaintext request on the SSL listener: %v, want the connection closed", err)
	}

	// A TLS client is served while the stalled one waits.
	nc, err := tls.Dial("tcp", addr, ca.ClientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(nc); err != nil {
		t.Fatalf("TLS client next to a stalled one: %v", err)
	}
	nc.Close()

	stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := stalled.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled handshake: %v, want the connection closed by the broker", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("stalled handshake closed after %v, before the timeout", d)
	}
}

// TestTLSVersions: TLS 1.0 and 1.1 are refused; ssl.enabled.protocols=TLSv1.3 refuses 1.2.
func TestTLSVersions(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srv := ca.Server(t)
	for _, tc := range []struct {
		enabled    string
		min, max   uint16
		wantServed bool
	}{
		{"", tls.VersionTLS10, tls.VersionTLS11, false},
		{"", tls.VersionTLS12, tls.VersionTLS12, true},
		{"", tls.VersionTLS13, tls.VersionTLS13, true},
		{"TLSv1.3", tls.VersionTLS12, tls.VersionTLS12, false},
		{"TLSv1.3", tls.VersionTLS13, tls.VersionTLS13, true},
		{"TLSv1.2", tls.VersionTLS13, tls.VersionTLS13, false},
	} {
		settings := map[string]string{"ssl.keystore.location": srv.File}
		if tc.enabled != "" {
			settings["ssl.enabled.protocols"] = tc.enabled
		}
		s := startTLS(t, settings, nil)
		cfg := ca.ClientTLS(nil)
		cfg.MinVersion, cfg.MaxVersion = tc.min, tc.max
		nc, err := tls.Dial("tcp", s.ListenerAddr("SSL").String(), cfg)
		if err == nil {
			err = apiVersions(nc)
			nc.Close()
		}
		if served := err == nil; served != tc.wantServed {
			t.Errorf("enabled %q, client %s..%s: served %v (%v), want %v", tc.enabled,
				tls.VersionName(tc.min), tls.VersionName(tc.max), served, err, tc.wantServed)
		}
	}
}

// serverSerial returns the serial number of the certificate the listener at addr serves.
func serverSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	nc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	return nc.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// replaceFile writes data to path the way certificate tools do: a new file renamed over
// the old one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReload: a keystore or truststore file that changes is read again for the next
// connection, without a restart; one that no longer parses (or is gone) keeps the last
// good one.
func TestTLSReload(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	first, second := ca.Server(t), ca.Server(t)
	keystore := filepath.Join(t.TempDir(), "server.pem")
	replaceFile(t, keystore, first.PEM)
	truststore := filepath.Join(t.TempDir(), "ca.pem")
	replaceFile(t, truststore, ca.PEM)
	s := startTLS(t, map[string]string{
		"ssl.keystore.location":   keystore,
		"ssl.truststore.location": truststore,
		"ssl.client.auth":         "required",
	}, nil)
	addr := s.ListenerAddr("SSL").String()
	alice := ca.Client(t, "alice")
	cfg := ca.ClientTLS(alice)
	if got := serverSerial(t, addr, cfg); got != first.Cert.SerialNumber.String() {
		t.Fatalf("serves %s, want the first certificate", got)
	}
	replaceFile(t, keystore, second.PEM)
	if got := serverSerial(t, addr, cfg); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after the keystore changed: serves %s, want the second certificate", got)
	}
	// Rewritten in place (same file, another size), as an editor does.
	if err := os.WriteFile(keystore, first.PEM[:len(first.PEM)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serverSerial(t, addr, cfg); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a broken keystore: serves %s, want the last good one", got)
	}
	if err := os.WriteFile(keystore, first.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serverSerial(t, addr, cfg); got != first.Cert.SerialNumber.String() {
		t.Fatalf("after an in-place rewrite: serves %s, want the first certificate again", got)
	}

	// A new CA in the truststore: its clients are trusted from the next connection on;
	// once it is removed, they are refused, even those that could resume a session.
	ca2 := testcerts.NewCA(t, "ca2")
	bob := ca2.Client(t, "bob")
	bobCfg := ca.ClientTLS(bob)
	bobCfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	refused := func() bool {
		nc, err := tls.Dial("tcp", addr, bobCfg)
		if err == nil {
			err = apiVersions(nc)
			nc.Close()
		}
		return err != nil
	}
	if !refused() {
		t.Fatal("a client of an untrusted CA was served")
	}
	replaceFile(t, truststore, append(append([]byte{}, ca.PEM...), ca2.PEM...))
	if refused() {
		t.Fatal("a client of a CA added to the truststore was refused")
	}
	replaceFile(t, truststore, ca.PEM)
	if !refused() {
		t.Fatal("a client of a CA removed from the truststore was served (a resumed session?)")
	}
	replaceFile(t, truststore, append(append([]byte{}, ca.PEM...), ca2.PEM...))
	if refused() {
		t.Fatal("a client of a CA added back to the truststore was refused")
	}
	if err := os.Remove(truststore); err != nil {
		t.Fatal(err)
	}
	if refused() {
		t.Fatal("a removed truststore dropped the last good one")
	}
}

// TestTLSPerListener: listener.name.<listener>.ssl.* configures one listener (a custom
// name mapped to SSL), the plain ssl.* settings the others.
func TestTLSPerListener(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pub, internal := ca.Server(t), ca.Server(t)
	s := startTLS(t, map[string]string{
		"ssl.keystore.location":                          pub.File,
		"listener.name.internal.ssl.keystore.location":   internal.File,
		"listener.name.internal.ssl.client.auth":         "required",
		"listener.name.internal.ssl.truststore.location": ca.File,
	}, nil, server.Listener{Name: "INTERNAL", Addr: "127.0.0.1:0", SecurityProtocol: server.SSL})
	if got := serverSerial(t, s.ListenerAddr("SSL").String(), ca.ClientTLS(nil)); got != pub.Cert.SerialNumber.String() {
		t.Fatalf("SSL serves %s, want its certificate", got)
	}
	in := s.ListenerAddr("INTERNAL").String()
	if got := serverSerial(t, in, ca.ClientTLS(ca.Client(t, "svc"))); got != internal.Cert.SerialNumber.String() {
		t.Fatalf("INTERNAL serves %s, want its own certificate", got)
	}
	nc, err := tls.Dial("tcp", in, ca.ClientTLS(nil))
	if err == nil {
		err = apiVersions(nc)
		nc.Close()
	}
	if err == nil {
		t.Fatal("INTERNAL (ssl.client.auth=required for it alone) served a client without a certificate")
	}
}

// TestTLSConfigErrors: a TLS listener that cannot serve stops the broker at start, with
// an error naming the setting.
func TestTLSConfigErrors(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	srv := ca.Server(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	encrypted := write("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"+string(srv.PEM[strings.Index(string(srv.PEM), "-----BEGIN CERTIFICATE"):]))
	for _, tc := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{}, "ssl.keystore.location is not set"},
		{map[string]string{"ssl.keystore.location": filepath.Join(dir, "missing.pem")}, "no such file"},
		{map[string]string{"ssl.keystore.location": ca.File}, "want a PEM private key and certificate chain"},
		{map[string]string{"ssl.keystore.location": encrypted}, "encrypted"},
		{map[string]string{"ssl.keystore.location": srv.File, "ssl.truststore.location": write("empty.pem", "")}, "no PEM certificate"},
		{map[string]string{"ssl.keystore.location": srv.File, "ssl.keystore.type": "JKS"}, "ssl.keystore.type"},
		{map[string]string{"listener.name.ssl.ssl.keystore.location": filepath.Join(dir, "missing.pem")}, "listener.name.ssl.ssl.keystore.location"},
	} {
		_, err := server.New(&server.Options{
			Logger:    quiet,
			DataDir:   t.TempDir(),
			Listeners: []server.Listener{{Name: "SSL", Addr: "127.0.0.1:0"}},
			Settings:  tc.settings,
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %v: %v, want an error with %q", tc.settings, err, tc.want)
		}
	}
	// SASL_SSL is a TLS listener too.
	_, err := server.New(&server.Options{
		Logger:    quiet,
		DataDir:   t.TempDir(),
		Listeners: []server.Listener{{Name: "SASL_SSL", Addr: "127.0.0.1:0"}},
	})
	if err == nil || !strings.Contains(err.Error(), "ssl.keystore.location is not set") {
		t.Fatalf("SASL_SSL listener without a keystore: %v", err)
	}
}

// TestTLSPrincipalMappingRules: ssl.principal.mapping.rules makes the principal of a
// client certificate; a certificate no rule maps is refused.
func TestTLSPrincipalMappingRules(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	alice := ca.Client(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ rules, want string }{
		{`RULE:^CN=(.*?),OU=tests,.*$/svc-$1/U`, "User:SVC-ALICE"},
		{`DEFAULT`, "User:CN=alice,OU=tests,O=Strata tests"},
		{`RULE:^CN=bob,.*$/bob/`, ""},
	} {
		auth := &principals{}
		s := startTLS(t, map[string]string{
			"ssl.keystore.location":       ca.Server(t).File,
			"ssl.truststore.location":     ca.File,
			"ssl.client.auth":             "required",
			"ssl.principal.mapping.rules": tc.rules,
		}, auth)
		cl := tlsClient(t, s.ListenerAddr("SSL").String(), ca.ClientTLS(alice))
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		_, err := req.RequestWith(ctx, cl)
		if tc.want == "" {
			if err == nil {
				t.Errorf("rules %q: a certificate no rule maps was served", tc.rules)
			}
			continue
		}
		if err != nil {
			t.Fatalf("rules %q: %v", tc.rules, err)
		}
		if got := auth.list(); !slices.Equal(got, []string{tc.want + "@SSL"}) {
			t.Errorf("rules %q: principals %v, want %s", tc.rules, got, tc.want)
		}
	}
	_, err := server.New(&server.Options{
		Logger:    quiet,
		DataDir:   t.TempDir(),
		Listeners: []server.Listener{{Name: "SSL", Addr: "127.0.0.1:0"}},
		Settings:  map[string]string{"ssl.keystore.location": ca.Server(t).File, "listener.name.ssl.ssl.principal.mapping.rules": "RULE:x"},
	})
	if err == nil || !strings.Contains(err.Error(), "listener.name.ssl.ssl.principal.mapping.rules") {
		t.Fatalf("bad rules: %v, want an error naming the setting", err)
	}
}

// TestTLSServeConn: a connection handed to ServeConn (the HTTP console's in-process
// client) on a broker whose first listener is SSL is served without TLS.
func TestTLSServeConn(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	s := servertest.Start(t, &server.Options{
		Listeners: []server.Listener{{Name: "SSL", Addr: "127.0.0.1:0"}},
		Settings:  map[string]string{"ssl.keystore.location": ca.Server(t).File},
	})
	a, b := net.Pipe()
	defer a.Close()
	if err := s.ServeConn(b); err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(a); err != nil {
		t.Fatalf("ApiVersions over ServeConn: %v", err)
	}
}
