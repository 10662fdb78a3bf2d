package sasl

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestSaslRFC7677: the SCRAM-SHA-256 example of RFC 7677 section 3: the stored
// credential of "pencil" and the proofs both sides compute from it.
func TestSaslRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	sp, err := SaltedPassword(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := NewCredential(ScramSHA256, salt, sp, 4096)
	if err != nil {
		t.Fatal(err)
	}
	const (
		clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst     = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		finalNoProof    = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		proof           = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		verifier        = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	authMessage := []byte(clientFirstBare + "," + serverFirst + "," + finalNoProof)
	clientKey := hmacOf(sha256.New, sp, []byte("Client Key"))
	sig := hmacOf(sha256.New, cred.StoredKey, authMessage)
	p := make([]byte, len(sig))
	for i := range sig {
		p[i] = clientKey[i] ^ sig[i]
	}
	if got := base64.StdEncoding.EncodeToString(p); got != proof {
		t.Fatalf("client proof %s, want %s", got, proof)
	}
	if got := base64.StdEncoding.EncodeToString(hmacOf(sha256.New, cred.ServerKey, authMessage)); got != verifier {
		t.Fatalf("server signature %s, want %s", got, verifier)
	}
	if !cred.Verify("pencil") || cred.Verify("pencil ") {
		t.Fatal("Verify")
	}
}

// store is a credential lookup over a map.
type store map[string]Credential // user/mechanism → credential

func (s store) lookup(user, mechanism string) (Credential, bool) {
	c, ok := s[user+"/"+mechanism]
	return c, ok
}

func newStore(t *testing.T, user, password string) store {
	t.Helper()
	s := store{}
	for _, m := range []string{ScramSHA256, ScramSHA512} {
		c, err := NewCredentialFromPassword(m, password, MinIterations, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s[user+"/"+m] = c
	}
	return s
}

// converse runs franz-go's SCRAM client (the oracle) against a ScramServer.
func converse(t *testing.T, mechanism string, creds store, user, password string) (string, error) {
	t.Helper()
	auth := kscram.Auth{User: user, Pass: password}
	m := auth.AsSha256Mechanism()
	if mechanism == ScramSHA512 {
		m = auth.AsSha512Mechanism()
	}
	sess, msg, err := m.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewScramServer(mechanism, creds.lookup, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		resp, done, err := srv.Step(msg)
		if err != nil {
			return "", err
		}
		cdone, next, cerr := sess.Challenge(resp)
		if cerr != nil {
			t.Fatalf("the client refused the server: %v", cerr)
		}
		if done {
			if !cdone {
				t.Fatal("the server is done, the client is not")
			}
			return srv.User(), nil
		}
		msg = next
	}
	t.Fatal("conversation did not end")
	return "", nil
}

// TestSaslScramWithFranzGo: franz-go's SCRAM client logs in with the right password
// (and verifies the server's signature), not with a wrong one, an unknown user, or a
// credential of the other mechanism; user names with ',' and '=' travel escaped.
func TestSaslScramWithFranzGo(t *testing.T) {
	creds := newStore(t, "alice", "s3cret")
	for k, v := range newStore(t, "a,b=c", "pw") {
		creds[k] = v
	}
	only512 := store{"bob/" + ScramSHA512: creds["alice/"+ScramSHA512]}
	for _, m := range []string{ScramSHA256, ScramSHA512} {
		if u, err := converse(t, m, creds, "alice", "s3cret"); err != nil || u != "alice" {
			t.Errorf("%s: %q, %v; want alice logged in", m, u, err)
		}
		if u, err := converse(t, m, creds, "a,b=c", "pw"); err != nil || u != "a,b=c" {
			t.Errorf("%s: escaped name: %q, %v", m, u, err)
		}
		for _, tc := range []struct {
			creds          store
			user, password string
		}{
			{creds, "alice", "wrong"},
			{creds, "mallory", "s3cret"},
		} {
			if _, err := converse(t, m, tc.creds, tc.user, tc.password); !errors.Is(err, ErrAuthenticationFailed) {
				t.Errorf("%s %s/%q: %v, want ErrAuthenticationFailed", m, tc.user, tc.password, err)
			}
		}
	}
	if _, err := converse(t, ScramSHA256, only512, "bob", "s3cret"); !errors.Is(err, ErrAuthenticationFailed) {
		t.Errorf("SCRAM-SHA-256 with only a SCRAM-SHA-512 credential: %v", err)
	}
}

// TestSaslScramProtocol: what a conversation refuses (each a failed authentication that
// ends it).
func TestSaslScramProtocol(t *testing.T) {
	creds := newStore(t, "alice", "s3cret")
	first := func(t *testing.T, msg string) (*ScramServer, string, error) {
		srv, err := NewScramServer(ScramSHA256, creds.lookup, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		resp, _, err := srv.Step([]byte(msg))
		return srv, string(resp), err
	}
	for _, msg := range []string{
		"", "n", "n,,", "x,,n=alice,r=abc", "p=tls-unique,,n=alice,r=abc",
		"n,a=bob,n=alice,r=abc", // authzid other than the user
		"n,,n=alice,r=abc,tokenauth=true",
		"n,,n=alice", "n,,r=abc,n=alice", "n,,n=,r=abc", "n,,n=alice,r=",
		"n,,n=al=ice,r=abc", "n,,n=alice,r=a b", "n,,n=alice,r=abc,=x",
		"n,b,n=alice,r=abc",
	} {
		if _, _, err := first(t, msg); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("client-first %q: %v, want ErrAuthenticationFailed", msg, err)
		}
	}
	// Accepted: an authzid equal to the user, other extensions, y.
	for _, msg := range []string{"n,a=alice,n=alice,r=abc", "n,,n=alice,r=abc,ext=1", "y,,n=alice,r=abc"} {
		if _, resp, err := first(t, msg); err != nil || !strings.HasPrefix(resp, "r=abc") {
			t.Errorf("client-first %q: %q, %v", msg, resp, err)
		}
	}
	// Client-final messages that fail: wrong binding, wrong nonce, bad proof, none.
	srv, resp, err := first(t, "n,,n=alice,r=abc")
	if err != nil {
		t.Fatal(err)
	}
	nonce := strings.TrimPrefix(strings.Split(resp, ",")[0], "r=")
	proof := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	for _, msg := range []string{
		"c=eSws,r=" + nonce + ",p=" + proof, // binding of "y,,"
		"c=biws,r=abc,p=" + proof,           // the client's nonce alone
		"c=biws,r=" + nonce + ",p=" + proof, // a wrong proof
		"c=biws,r=" + nonce + ",p=AAAA",     // a proof of the wrong size
		"c=biws,r=" + nonce + ",p=!!",       // not base64
		"c=biws,r=" + nonce,                 // no proof
		"r=" + nonce + ",c=biws,p=" + proof, // out of order
	} {
		s := *srv // the same server state for each attempt
		if _, done, err := s.Step([]byte(msg)); done || !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("client-final %q: done %v, %v; want ErrAuthenticationFailed", msg, done, err)
		}
	}
	// A failed conversation stays failed.
	if _, _, err := srv.Step([]byte("c=biws,r=x,p=" + proof)); err == nil {
		t.Fatal("wrong final accepted")
	}
	if _, _, err := srv.Step([]byte("n,,n=alice,r=abc")); !errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("a step after the end: %v", err)
	}
	if _, err := NewScramServer("SCRAM-SHA-1", creds.lookup, rand.Reader); !errors.Is(err, ErrUnknownMechanism) {
		t.Fatalf("SCRAM-SHA-1: %v", err)
	}
}

// TestSaslPlain: PLAIN messages as Kafka's PlainSaslServer takes them, checked against
// the stored SCRAM credentials.
func TestSaslPlain(t *testing.T) {
	creds := newStore(t, "alice", "s3cret")
	only256 := store{"bob/" + ScramSHA256: creds["alice/"+ScramSHA256]}
	other512 := newStore(t, "bob", "other")
	only256["bob/"+ScramSHA512] = other512["bob/"+ScramSHA512] // bob's two mechanisms, two passwords
	for _, tc := range []struct {
		creds store
		msg   string
		want  string // user; "" for a failure
	}{
		{creds, "\x00alice\x00s3cret", "alice"},
		{creds, "alice\x00alice\x00s3cret", "alice"},
		{only256, "\x00bob\x00s3cret", "bob"},
		{only256, "\x00bob\x00other", "bob"},
		{only256, "\x00bob\x00third", ""},
		{creds, "bob\x00alice\x00s3cret", ""},
		{creds, "\x00alice\x00wrong", ""},
		{creds, "\x00mallory\x00s3cret", ""},
		{creds, "\x00\x00s3cret", ""},
		{creds, "\x00alice\x00", ""},
		{creds, "alice\x00s3cret", ""},
		{creds, "\x00alice\x00s3cret\x00", ""},
	} {
		u, err := VerifyPlain([]byte(tc.msg), tc.creds.lookup)
		if tc.want == "" {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Errorf("%q: %q, %v; want ErrAuthenticationFailed", tc.msg, u, err)
			}
			continue
		}
		if err != nil || u != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.msg, u, err, tc.want)
		}
	}
}

// TestSaslScramLibrdkafkaNonce: the client-final nonce may repeat the client's nonce
// before the server's (librdkafka does), as Kafka accepts: only its end must be the
// server's nonce, and the proof covers the message as sent.
func TestSaslScramLibrdkafkaNonce(t *testing.T) {
	creds := newStore(t, "alice", "s3cret")
	cred := creds["alice/"+ScramSHA256]
	srv, err := NewScramServer(ScramSHA256, creds.lookup, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const clientFirstBare = "n=alice,r=cnonce"
	resp, _, err := srv.Step([]byte("n,," + clientFirstBare))
	if err != nil {
		t.Fatal(err)
	}
	nonce := strings.TrimPrefix(strings.Split(string(resp), ",")[0], "r=")
	for _, tc := range []struct {
		nonce string
		ok    bool
	}{{"cnonce" + nonce, true}, {nonce + "x", false}} {
		s := *srv
		withoutProof := "c=biws,r=" + tc.nonce
		sp, _ := SaltedPassword(ScramSHA256, "s3cret", cred.Salt, int(cred.Iterations))
		clientKey := hmacOf(sha256.New, sp, []byte("Client Key"))
		sig := hmacOf(sha256.New, cred.StoredKey, []byte(clientFirstBare+","+string(resp)+","+withoutProof))
		for i := range sig {
			sig[i] ^= clientKey[i]
		}
		_, done, err := s.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(sig)))
		if done != tc.ok || (err == nil) != tc.ok {
			t.Errorf("final nonce %q: done %v, %v; want ok %v", tc.nonce, done, err, tc.ok)
		}
	}
}
