package sasl

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// FuzzSaslScramServer feeds any two client messages to a SCRAM conversation. Invariants:
// no panic; every error wraps ErrAuthenticationFailed; a conversation never completes
// (the fuzzer cannot forge a proof); a client-first message that parses yields a
// server-first that starts with its nonce.
func FuzzSaslScramServer(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abcXYZ,p=AAAA"))
	f.Add([]byte("n,a=alice,n=alice,r=abc,tokenauth=true"), []byte("c=biws,r=abc,p="))
	f.Add([]byte("y,,n=a=2Cb=3Dc,r=x"), []byte(""))
	f.Add([]byte("p=x,,n=a,r=b"), []byte("c=,r=,p=,p="))
	cred, err := NewCredentialFromPassword(ScramSHA256, "pw", MinIterations, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	lookup := func(user, mechanism string) (Credential, bool) { return cred, mechanism == ScramSHA256 }
	f.Fuzz(func(t *testing.T, first, final []byte) {
		srv, err := NewScramServer(ScramSHA256, lookup, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		resp, done, err := srv.Step(first)
		if err != nil {
			if !errors.Is(err, ErrAuthenticationFailed) || done {
				t.Fatalf("client-first: %v (done %v)", err, done)
			}
			return
		}
		cf, perr := ParseClientFirst(string(first))
		if perr != nil || !bytes.HasPrefix(resp, []byte("r="+cf.Nonce)) {
			t.Fatalf("server-first %q for %q (%v)", resp, first, perr)
		}
		if _, done, err := srv.Step(final); done || err == nil || !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("client-final %q: done %v, %v", final, done, err)
		}
	})
}

// FuzzSaslParsers: the message parsers never panic, and what they accept re-parses the
// same (ParseClientFirst of its own GS2 header and bare message).
func FuzzSaslParsers(f *testing.F) {
	for _, s := range []string{"n,,n=alice,r=abc", "n,a=x,n=x,r=y,e=1", "c=biws,r=abc,p=AAAA", "\x00u\x00p", "a\x00u\x00p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if cf, err := ParseClientFirst(s); err == nil {
			again, err := ParseClientFirst(cf.GS2Header + cf.Bare)
			if err != nil || again.User != cf.User || again.Nonce != cf.Nonce || again.AuthzID != cf.AuthzID {
				t.Fatalf("re-parse of %q: %+v, %v", s, again, err)
			}
		}
		if cf, err := ParseClientFinal(s); err == nil && len(cf.WithoutProof) > len(s) {
			t.Fatalf("client-final %q: %+v", s, cf)
		}
		if u, p, err := ParsePlain([]byte(s)); err == nil && (u == "" || p == "") {
			t.Fatalf("PLAIN %q: %q %q", s, u, p)
		}
	})
}
