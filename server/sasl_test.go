package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

// startSASL starts a broker with PLAINTEXT, SASL_PLAINTEXT and SASL_SSL listeners and
// bootstrap.user admin:admin-secret, plus the given settings.
func startSASL(t *testing.T, settings map[string]string, auth server.Authorizer) (*server.Server, *testcerts.CA) {
	t.Helper()
	ca := testcerts.NewCA(t, "ca")
	all := map[string]string{"bootstrap.user": "admin:admin-secret", "ssl.keystore.location": ca.Server(t).File}
	for k, v := range settings {
		all[k] = v
	}
	s := servertest.Start(t, &server.Options{
		Listeners: []server.Listener{
			{Name: "PLAINTEXT", Addr: "127.0.0.1:0"},
			{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"},
			{Name: "SASL_SSL", Addr: "127.0.0.1:0"},
		},
		Settings:   all,
		Authorizer: auth,
	})
	return s, ca
}

func saslMechanisms(user, password string) map[string]sasl.Mechanism {
	sc := scram.Auth{User: user, Pass: password}
	return map[string]sasl.Mechanism{
		"PLAIN":         plain.Auth{User: user, Pass: password}.AsMechanism(),
		"SCRAM-SHA-256": sc.AsSha256Mechanism(),
		"SCRAM-SHA-512": sc.AsSha512Mechanism(),
	}
}

// TestSASLLogin: kgo logs in with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 as the
// bootstrap user on the SASL_PLAINTEXT and SASL_SSL listeners, produces and consumes, and
// its requests carry User:admin; a wrong password fails with SASL_AUTHENTICATION_FAILED.
func TestSASLLogin(t *testing.T) {
	auth := &principals{}
	s, ca := startSASL(t, nil, auth)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, listener := range []string{"SASL_PLAINTEXT", "SASL_SSL"} {
		for name, m := range saslMechanisms("admin", "admin-secret") {
			t.Run(listener+"/"+name, func(t *testing.T) {
				opts := []kgo.Opt{kgo.SeedBrokers(s.ListenerAddr(listener).String()), kgo.SASL(m),
					kgo.FetchMaxWait(100 * time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
				if listener == "SASL_SSL" {
					opts = append(opts, kgo.DialTLSConfig(ca.ClientTLS(nil)))
				}
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				roundTrip(ctx, t, cl, "sasl-"+listener+"-"+name)
				req := kmsg.NewPtrDescribeClusterRequest()
				req.IncludeClusterAuthorizedOperations = true
				if _, err := req.RequestWith(ctx, cl); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(auth.list(), "User:admin@"+listener) {
					t.Fatalf("principals %v, want User:admin on %s", auth.list(), listener)
				}
			})
		}
	}
	for name, m := range saslMechanisms("admin", "wrong") {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.ListenerAddr("SASL_PLAINTEXT").String()), kgo.SASL(m), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		cl.Close()
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
}

// rawConn speaks the Kafka protocol without a client library.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes req at its version.
func (c *rawConn) send(req kmsg.Request) {
	c.t.Helper()
	c.corr++
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(wire.AppendRequest(nil, c.corr, "raw", req)); err != nil {
		c.t.Fatal(err)
	}
}

// read reads the response to the last request into resp.
func (c *rawConn) read(resp kmsg.Response) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := wire.ReadFrame(c.br, nil, 1<<20)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body := frame[4:] // correlation id
	if resp.IsFlexible() {
		body = body[1:] // no tags
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatal(err)
	}
}

// closed reports whether the broker closed the connection (within 10 s).
func (c *rawConn) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func handshake(version int16, mechanism string) *kmsg.SASLHandshakeRequest {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = version, mechanism
	return req
}

func authenticate(version int16, msg string) *kmsg.SASLAuthenticateRequest {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = version, []byte(msg)
	return req
}

// TestSASLProtocol: the SASL state machine as Kafka's: handshake answers with the
// listener's mechanisms; an unoffered mechanism (UNSUPPORTED_SASL_MECHANISM), a second
// handshake or an authenticate before the handshake (ILLEGAL_SASL_STATE) close the
// connection; a failed login answers SASL_AUTHENTICATION_FAILED only after
// connection.failed.authentication.delay.ms, then closes; SASL requests on a PLAINTEXT
// listener answer ILLEGAL_SASL_STATE and go on.
func TestSASLProtocol(t *testing.T) {
	s, _ := startSASL(t, map[string]string{
		"connection.failed.authentication.delay.ms":            "300",
		"listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
	}, nil)
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()

	t.Run("login", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(1, "PLAIN"))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs)
		if hs.ErrorCode != 0 || !slices.Equal(hs.SupportedMechanisms, []string{"PLAIN", "SCRAM-SHA-512"}) {
			t.Fatalf("handshake: %+v", hs)
		}
		c.send(authenticate(2, "\x00admin\x00admin-secret"))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		ar.Version = 2
		c.read(ar)
		if ar.ErrorCode != 0 {
			t.Fatalf("authenticate: %v %v", kerr.ErrorForCode(ar.ErrorCode), ar.ErrorMessage)
		}
		c.send(kmsg.NewPtrMetadataRequest()) // logged in: any API runs
		c.read(kmsg.NewPtrMetadataResponse())
		c.send(handshake(1, "PLAIN")) // after login
		hs = kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs)
		if hs.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("handshake after login: %v", kerr.ErrorForCode(hs.ErrorCode))
		}
	})
	t.Run("unoffered mechanism", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(1, "SCRAM-SHA-256"))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs)
		if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hs.SupportedMechanisms) != 2 || !c.closed() {
			t.Fatalf("handshake for SCRAM-SHA-256: %+v; want UNSUPPORTED_SASL_MECHANISM and a close", hs)
		}
	})
	for name, reqs := range map[string][]kmsg.Request{
		"authenticate first": {authenticate(1, "\x00admin\x00admin-secret")},
		"second handshake":   {handshake(1, "PLAIN"), handshake(1, "PLAIN")},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, addr)
			for _, req := range reqs {
				c.send(req)
			}
			for i, req := range reqs {
				resp := req.ResponseKind()
				resp.SetVersion(req.GetVersion())
				c.read(resp)
				var code int16
				switch r := resp.(type) {
				case *kmsg.SASLHandshakeResponse:
					code = r.ErrorCode
				case *kmsg.SASLAuthenticateResponse:
					code = r.ErrorCode
				}
				if last := i == len(reqs)-1; last && code != kerr.IllegalSaslState.Code {
					t.Fatalf("%s: %v, want ILLEGAL_SASL_STATE", name, kerr.ErrorForCode(code))
				}
			}
			if !c.closed() {
				t.Fatal("the connection stayed open")
			}
		})
	}
	t.Run("failed login", func(t *testing.T) {
		for _, msg := range []string{"\x00admin\x00wrong", "\x00nobody\x00admin-secret", "garbage"} {
			c := dialRaw(t, addr)
			c.send(handshake(1, "PLAIN"))
			c.read(&kmsg.SASLHandshakeResponse{Version: 1})
			start := time.Now()
			c.send(authenticate(1, msg))
			ar := kmsg.NewPtrSASLAuthenticateResponse()
			ar.Version = 1
			c.read(ar)
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Errorf("%q: answered after %v, before the delay", msg, d)
			}
			if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil || !c.closed() {
				t.Fatalf("%q: %+v; want SASL_AUTHENTICATION_FAILED with a message, and a close", msg, ar)
			}
		}
	})
	t.Run("scram failure", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(1, "SCRAM-SHA-512"))
		c.read(&kmsg.SASLHandshakeResponse{Version: 1})
		c.send(authenticate(1, "n,,n=nobody,r=abc"))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		ar.Version = 1
		c.read(ar)
		if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || !c.closed() {
			t.Fatalf("unknown SCRAM user: %+v", ar)
		}
	})
	// SaslHandshake v0: raw token frames follow, both ways.
	rawToken := func(c *rawConn, token []byte) {
		c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...)); err != nil {
			t.Fatal(err)
		}
	}
	readToken := func(c *rawConn) []byte {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var size [4]byte
		if _, err := io.ReadFull(c.br, size[:]); err != nil {
			t.Fatalf("read raw token: %v", err)
		}
		tok := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c.br, tok); err != nil {
			t.Fatalf("read raw token: %v", err)
		}
		return tok
	}
	t.Run("v0 raw PLAIN", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(0, "PLAIN"))
		c.read(&kmsg.SASLHandshakeResponse{Version: 0})
		rawToken(c, []byte("\x00admin\x00admin-secret"))
		if tok := readToken(c); len(tok) != 0 {
			t.Fatalf("PLAIN answer %q, want an empty token", tok)
		}
		c.send(kmsg.NewPtrMetadataRequest()) // logged in: Kafka requests again
		c.read(kmsg.NewPtrMetadataResponse())
	})
	t.Run("v0 raw SCRAM", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(0, "SCRAM-SHA-512"))
		c.read(&kmsg.SASLHandshakeResponse{Version: 0})
		sess, msg, err := saslMechanisms("admin", "admin-secret")["SCRAM-SHA-512"].Authenticate(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			rawToken(c, msg)
			if done, msg, err = sess.Challenge(readToken(c)); err != nil {
				t.Fatalf("the client refused the server: %v", err)
			}
		}
		c.send(kmsg.NewPtrMetadataRequest())
		c.read(kmsg.NewPtrMetadataResponse())
	})
	t.Run("v0 raw failure", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(handshake(0, "PLAIN"))
		c.read(&kmsg.SASLHandshakeResponse{Version: 0})
		start := time.Now()
		rawToken(c, []byte("\x00admin\x00wrong"))
		if !c.closed() || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("a failed raw login: closed %v after %v; want a close, after the delay, without an answer", c.closed(), time.Since(start))
		}
	})
	t.Run("plaintext listener", func(t *testing.T) {
		c := dialRaw(t, s.ListenerAddr("PLAINTEXT").String())
		c.send(handshake(1, "PLAIN"))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs)
		c.send(authenticate(0, "\x00admin\x00admin-secret"))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		c.read(ar)
		if hs.ErrorCode != kerr.IllegalSaslState.Code || ar.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("SASL on PLAINTEXT: %v %v", kerr.ErrorForCode(hs.ErrorCode), kerr.ErrorForCode(ar.ErrorCode))
		}
		c.send(kmsg.NewPtrMetadataRequest())
		c.read(kmsg.NewPtrMetadataResponse())
	})
}

// TestSASLFailedLoginsDoNotBlock: 200 failed logins (150 SCRAM, 50 PLAIN, whose
// password checks cost a PBKDF2 each) held for their delay (5 s) do not hold up another
// client, which logs in and is answered while they all wait.
func TestSASLFailedLoginsDoNotBlock(t *testing.T) {
	s, _ := startSASL(t, map[string]string{"connection.failed.authentication.delay.ms": "5000"}, nil)
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()
	const n = 200
	var wg sync.WaitGroup
	answered := make(chan time.Time, n)
	conns := make([]net.Conn, n)
	for i := range n {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		conns[i] = nc
	}
	start := time.Now()
	for i, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			frames := wire.AppendRequest(nil, 1, "bad", handshake(1, "SCRAM-SHA-256"))
			frames = wire.AppendRequest(frames, 2, "bad", authenticate(1, "n,,n=nobody,r=abc"))
			if i%4 == 0 {
				frames = wire.AppendRequest(nil, 1, "bad", handshake(1, "PLAIN"))
				frames = wire.AppendRequest(frames, 2, "bad", authenticate(1, "\x00admin\x00wrong"))
			}
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := nc.Write(frames); err != nil {
				return
			}
			io.Copy(io.Discard, nc) // both answers, then the close
			answered <- time.Now()
		}()
	}
	// A good client, while the bad ones wait out their delay.
	m := saslMechanisms("admin", "admin-secret")["SCRAM-SHA-256"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(m))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	good := time.Now()
	wg.Wait()
	close(answered)
	first := time.Time{}
	for at := range answered {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	if len(conns) == 0 || first.IsZero() || !good.Before(first) {
		t.Fatalf("the good client was answered at +%v, the first failed login closed at +%v", good.Sub(start), first.Sub(start))
	}
}

// plainLogin logs in with PLAIN on a SASL listener and reports whether it succeeded.
func plainLogin(t *testing.T, addr, user, password string) bool {
	t.Helper()
	c := dialRaw(t, addr)
	c.send(handshake(1, "PLAIN"))
	c.read(&kmsg.SASLHandshakeResponse{Version: 1})
	c.send(authenticate(1, "\x00"+user+"\x00"+password))
	ar := kmsg.NewPtrSASLAuthenticateResponse()
	ar.Version = 1
	c.read(ar)
	return ar.ErrorCode == 0
}

// TestSASLBootstrapUser: bootstrap.user creates its user once: the credentials persist,
// and a restart with another password leaves them as they are. DescribeConfigs never
// shows the setting's value.
func TestSASLBootstrapUser(t *testing.T) {
	dir := t.TempDir()
	start := func(user string) *server.Server {
		return servertest.Start(t, &server.Options{
			DataDir:   dir,
			Listeners: []server.Listener{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}, {Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}},
			Settings:  map[string]string{"bootstrap.user": user, "connection.failed.authentication.delay.ms": "0"},
		})
	}
	s := start("admin:first")
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()
	if !plainLogin(t, addr, "admin", "first") || plainLogin(t, addr, "admin", "second") {
		t.Fatal("bootstrap user: first password refused or another accepted")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.ListenerAddr("PLAINTEXT").String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeBroker, "0", []string{"bootstrap.user"}
	req.Resources, req.IncludeSynonyms = append(req.Resources, res), true
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if cs := resp.Resources[0].Configs; len(cs) != 1 || cs[0].Value != nil || !cs[0].IsSensitive || cs[0].ConfigSynonyms[0].Value != nil {
		t.Fatalf("DescribeConfigs of bootstrap.user: %+v", cs)
	}
	cl.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = start("admin:second")
	addr = s.ListenerAddr("SASL_PLAINTEXT").String()
	if !plainLogin(t, addr, "admin", "first") || plainLogin(t, addr, "admin", "second") {
		t.Fatal("after a restart with another bootstrap password: the stored credentials changed")
	}
}

// denyAlter is an Authorizer that refuses ALTER and DESCRIBE on the cluster.
type denyAlter struct{}

func (denyAlter) Authorize(_ server.RequestContext, a server.Action) bool {
	return a.ResourceType != kmsg.ACLResourceTypeCluster ||
		a.Operation != kmsg.ACLOperationAlter && a.Operation != kmsg.ACLOperationDescribe
}

// TestSASLUserScramCredentials: kadm creates, describes and deletes users
// (AlterUserScramCredentials, DescribeUserScramCredentials); a new user logs in with
// SCRAM and PLAIN at once, a deleted one no more. The per-user errors are Kafka's.
func TestSASLUserScramCredentials(t *testing.T) {
	s, _ := startSASL(t, map[string]string{"connection.failed.authentication.delay.ms": "0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(saslMechanisms("admin", "admin-secret")["SCRAM-SHA-512"]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, ups := range [][]kadm.UpsertSCRAM{
		{{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "alice-pw"}, {User: "bob", Mechanism: kadm.ScramSha512, Password: "bob-pw"}},
		{{User: "alice", Mechanism: kadm.ScramSha512, Password: "alice-pw"}}, // one mention of a user per request
	} {
		altered, err := adm.AlterUserSCRAMs(ctx, nil, ups)
		if err != nil || altered.Error() != nil {
			t.Fatalf("create users: %v %v", err, altered.Error())
		}
	}
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || described.Error() != nil {
		t.Fatalf("describe: %v %v", err, described.Error())
	}
	got := map[string]string{}
	for u, d := range described {
		for _, ci := range d.CredInfos {
			got[u] += ci.String() + ";"
		}
	}
	want := map[string]string{
		"admin": "SCRAM-SHA-256=iterations=4096;SCRAM-SHA-512=iterations=4096;",
		"alice": "SCRAM-SHA-256=iterations=8192;SCRAM-SHA-512=iterations=4096;",
		"bob":   "SCRAM-SHA-512=iterations=4096;",
	}
	if len(got) != len(want) || got["admin"] != want["admin"] || got["alice"] != want["alice"] || got["bob"] != want["bob"] {
		t.Fatalf("described %v, want %v", got, want)
	}
	for name, m := range saslMechanisms("alice", "alice-pw") {
		c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(m))
		if err != nil {
			t.Fatal(err)
		}
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, c)
		c.Close()
		if err != nil {
			t.Fatalf("alice with %s: %v", name, err)
		}
	}
	if !plainLogin(t, addr, "bob", "bob-pw") || plainLogin(t, addr, "bob", "alice-pw") {
		t.Fatal("bob's PLAIN login")
	}
	altered, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || altered.Error() != nil {
		t.Fatalf("delete bob: %v %v", err, altered.Error())
	}
	if plainLogin(t, addr, "bob", "bob-pw") {
		t.Fatal("a deleted user logged in")
	}

	// Kafka's per-user errors; the valid users of a request are still applied.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := func(user string, mech int8, iterations int32) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, mech, iterations, []byte("salt"), make([]byte, 32)
		req.Upsertions = append(req.Upsertions, u)
	}
	del := func(user string, mech int8) {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = user, mech
		req.Deletions = append(req.Deletions, d)
	}
	up("low", 1, 1000)
	up("high", 2, 20000)
	up("", 1, 4096)
	up("sha1", 3, 4096)
	up("twice", 1, 4096)
	del("twice", 1)
	up("two-mechanisms", 1, 4096)
	up("two-mechanisms", 2, 4096)
	up("low", 2, 4096) // after its error: the first error stands
	del("nobody", 1)
	up("carol", 2, 4096)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, r := range resp.Results {
		codes[r.User] = r.ErrorCode
	}
	wantCodes := map[string]int16{
		"low": kerr.UnacceptableCredential.Code, "high": kerr.UnacceptableCredential.Code, "": kerr.UnacceptableCredential.Code,
		"sha1": kerr.UnsupportedSaslMechanism.Code, "twice": kerr.ResourceNotFound.Code /* deletions come first */, "two-mechanisms": kerr.DuplicateResource.Code,
		"nobody": kerr.ResourceNotFound.Code, "carol": 0,
	}
	if len(codes) != len(wantCodes) {
		t.Fatalf("results %v, want %v", codes, wantCodes)
	}
	for u, c := range wantCodes {
		if codes[u] != c {
			t.Errorf("user %q: %v, want %v", u, kerr.ErrorForCode(codes[u]), kerr.ErrorForCode(c))
		}
	}
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"carol", "nobody", "alice", "alice"} {
		du := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		du.Name = u
		dreq.Users = append(dreq.Users, du)
	}
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	dcodes := map[string]int16{}
	for _, r := range dresp.Results {
		dcodes[r.User] = r.ErrorCode
	}
	if dcodes["carol"] != 0 || dcodes["nobody"] != kerr.ResourceNotFound.Code || dcodes["alice"] != kerr.DuplicateResource.Code {
		t.Fatalf("describe errors: %v", dcodes)
	}

	// Without ALTER / DESCRIBE on the cluster.
	denied := servertest.Start(t, &server.Options{Listen: "127.0.0.1:0", Authorizer: denyAlter{}})
	dcl, err := kgo.NewClient(kgo.SeedBrokers(denied.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	if _, err := kadm.NewClient(dcl).DescribeUserSCRAMs(ctx); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("describe without DESCRIBE on the cluster: %v", err)
	}
	res, err := kadm.NewClient(dcl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "x", Mechanism: kadm.ScramSha256, Password: "p"}})
	if err == nil {
		err = res["x"].Err // kadm returns an error all users share as err
	}
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alter without ALTER on the cluster: %v %+v", err, res)
	}
}

// TestSASLReauthentication: KIP-368 with connections.max.reauth.ms. SaslAuthenticate
// v1+ answers the session lifetime; before it ends the client hand-shakes and logs in
// again on the same connection (same mechanism, same user) and goes on; a request after
// it ends closes the connection; a re-authentication as another user fails and closes
// it. kgo, which re-authenticates by itself, keeps producing across several lifetimes.
func TestSASLReauthentication(t *testing.T) {
	const lifetime = time.Second // long enough for a loaded machine to log in and send a request
	s, _ := startSASL(t, map[string]string{"connections.max.reauth.ms": "1000", "connection.failed.authentication.delay.ms": "0"}, nil)
	addr := s.ListenerAddr("SASL_PLAINTEXT").String()
	login := func(c *rawConn, user, password string) *kmsg.SASLAuthenticateResponse {
		t.Helper()
		c.send(handshake(1, "PLAIN"))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs)
		if hs.ErrorCode != 0 {
			t.Fatalf("handshake: %v", kerr.ErrorForCode(hs.ErrorCode))
		}
		c.send(authenticate(2, "\x00"+user+"\x00"+password))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		ar.Version = 2
		c.read(ar)
		return ar
	}
	metadata := func(c *rawConn) {
		t.Helper()
		c.send(kmsg.NewPtrMetadataRequest())
		c.read(kmsg.NewPtrMetadataResponse())
	}

	c := dialRaw(t, addr)
	if ar := login(c, "admin", "admin-secret"); ar.ErrorCode != 0 || ar.SessionLifetimeMillis != lifetime.Milliseconds() {
		t.Fatalf("login: %v, session lifetime %d", kerr.ErrorForCode(ar.ErrorCode), ar.SessionLifetimeMillis)
	}
	metadata(c)
	if ar := login(c, "admin", "admin-secret"); ar.ErrorCode != 0 { // re-authentication
		t.Fatalf("re-authentication: %v", kerr.ErrorForCode(ar.ErrorCode))
	}
	metadata(c)
	time.Sleep(lifetime + 100*time.Millisecond) // let the session end
	c.send(kmsg.NewPtrMetadataRequest())
	if !c.closed() {
		t.Fatal("a request after the session ended was served")
	}

	if altered, err := kadm.NewClient(mustClient(t, addr, "admin", "admin-secret")).AlterUserSCRAMs(context.Background(), nil,
		[]kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha256, Password: "bob-pw"}}); err != nil || altered.Error() != nil {
		t.Fatalf("create bob: %v %v", err, altered.Error())
	}
	c = dialRaw(t, addr)
	login(c, "admin", "admin-secret")
	if ar := login(c, "bob", "bob-pw"); ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || !c.closed() {
		t.Fatalf("re-authentication as bob: %v, want SASL_AUTHENTICATION_FAILED and the connection closed", kerr.ErrorForCode(ar.ErrorCode))
	}

	handshakes := func() (n int64) {
		for _, a := range s.Metrics().APIs {
			if a.Key == 17 {
				n = int64(a.Requests)
			}
		}
		return n
	}
	before := handshakes()
	var connects atomic.Int64
	cl := mustClient(t, addr, "admin", "admin-secret", kgo.WithHooks(connectHook{&connects}))
	for i := range 6 { // 6 × 500 ms: three lifetimes
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "reauth", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(lifetime / 2)
	}
	n, hs := connects.Load(), handshakes()-before
	t.Logf("kgo: %d connections, %d handshakes", n, hs)
	if n > 3 || hs <= n {
		t.Fatalf("kgo opened %d connections and sent %d handshakes: want it to re-authenticate on its connections", n, hs)
	}
}

// connectHook counts the connections a kgo client opens.
type connectHook struct{ n *atomic.Int64 }

func (h connectHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		h.n.Add(1)
	}
}

// mustClient is a kgo client logged in with SCRAM-SHA-512 as user.
func mustClient(t *testing.T, addr, user, password string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(saslMechanisms(user, password)["SCRAM-SHA-512"]), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestSASLServeConnAs: on a broker whose first listener is SASL_PLAINTEXT, a connection
// handed over with ServeConnAs runs requests as the principal given, without a SASL
// exchange, while one handed over with ServeConn must still log in (a Metadata request
// closes it). CheckPassword accepts the stored password only.
func TestSASLServeConnAs(t *testing.T) {
	auth := &principals{}
	s := servertest.Start(t, &server.Options{
		Listeners:  []server.Listener{{Name: "SASL_PLAINTEXT", Addr: "127.0.0.1:0"}},
		Settings:   map[string]string{"bootstrap.user": "admin:admin-secret"},
		Authorizer: auth,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, ok := s.CheckPassword(ctx, "admin", "admin-secret")
	if !ok || p != (server.Principal{Type: "User", Name: "admin"}) {
		t.Fatalf("CheckPassword(admin, admin-secret) = %v, %v", p, ok)
	}
	for _, up := range [][2]string{{"admin", "wrong"}, {"nobody", "admin-secret"}, {"admin", ""}} {
		if _, ok := s.CheckPassword(ctx, up[0], up[1]); ok {
			t.Errorf("CheckPassword(%q, %q) accepted", up[0], up[1])
		}
	}

	serve := func(as *server.Principal) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers("in-process.invalid:9092"), kgo.RequestRetries(0),
			kgo.Dialer(func(context.Context, string, string) (net.Conn, error) {
				c, b := net.Pipe()
				if as != nil {
					return c, s.ServeConnAs(b, *as)
				}
				return c, s.ServeConn(b)
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	alice := server.Principal{Type: "User", Name: "alice"}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	if _, err := req.RequestWith(ctx, serve(&alice)); err != nil {
		t.Fatalf("DescribeCluster over ServeConnAs: %v", err)
	}
	if got := auth.list(); !slices.Contains(got, "User:alice@SASL_PLAINTEXT") {
		t.Fatalf("principals %v, want User:alice on SASL_PLAINTEXT", got)
	}
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, serve(nil)); err == nil {
		t.Fatal("Metadata over ServeConn on a SASL listener without a login succeeded")
	}
}
