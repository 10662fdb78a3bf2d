package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/sasl"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/wire"
)

// SASL authentication (SASL_PLAINTEXT and SASL_SSL listeners): a connection's state
// machine is SaslHandshake (17_sasl_handshake.go: the mechanism), then SaslAuthenticate
// (36_sasl_authenticate.go: one message of PLAIN, two of SCRAM), then login. The
// credentials are the SCRAM credentials of the metadata image (AlterScramCredentials,
// bootstrap.user); PLAIN checks its password against them.

// listenerSASL is what a SASL listener offers: its enabled mechanisms
// (sasl.enabled.mechanisms, per listener as listener.name.<name>.sasl.enabled.mechanisms).
type listenerSASL struct {
	mechanisms []string
}

// newListenerSASL reads the SASL settings of listener l.
func newListenerSASL(l Listener, settings map[string]string) *listenerSASL {
	return &listenerSASL{mechanisms: config.SplitList(config.ListenerValue("sasl.enabled.mechanisms", l.Name, settings).Value)}
}

// saslState is a connection's progress through SASL, owned by its reader goroutine
// (conn.auth).
type saslState struct {
	mechanism string            // chosen by SaslHandshake; "" before
	scram     *sasl.ScramServer // the SCRAM conversation, once started
	raw       bool              // SaslHandshake v0: raw token frames follow (rawToken)
}

// scramLookup finds SCRAM credentials in the current metadata image.
func (s *Server) scramLookup(user, mechanism string) (sasl.Credential, bool) {
	c, ok := s.image().ScramCredential(user, mechanism)
	return c.Credential, ok
}

// acquirePlainSlot waits for a slot to verify a password in (release: <-s.plainSlots). A
// password check costs a PBKDF2 of the stored credential: a burst of them (failed ones
// included) takes at most half the CPUs, leaving the rest to the others. It reports false
// if ctx ends first.
func (s *Server) acquirePlainSlot(ctx context.Context) bool {
	select {
	case s.plainSlots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// CheckPassword reports whether password is user's, as a SASL PLAIN login would (against
// the user's stored SCRAM credentials, sharing PLAIN's bound on checks at once), and
// returns the principal it logs in as, User:<user>. It is for the hosts of in-process
// clients (ServeConnAs), such as the HTTP console's basic authentication. It reports
// false too if ctx ends before the check runs.
func (s *Server) CheckPassword(ctx context.Context, user, password string) (Principal, bool) {
	if !s.acquirePlainSlot(ctx) {
		return Principal{}, false
	}
	defer func() { <-s.plainSlots }()
	if !sasl.VerifyPassword(user, password, s.scramLookup) {
		return Principal{}, false
	}
	return Principal{Type: "User", Name: user}, true
}

// authenticate runs one SaslAuthenticate message of the connection's mechanism: the
// answer to send and, once the client has proved who it is, the user (done).
func (c *conn) authenticate(msg []byte) (resp []byte, user string, done bool, err error) {
	st := &c.auth.sasl
	switch st.mechanism {
	case sasl.Plain:
		if !c.s.acquirePlainSlot(c.ctx) {
			return nil, "", false, fmt.Errorf("%w: connection closed", sasl.ErrAuthenticationFailed)
		}
		user, err := sasl.VerifyPlain(msg, c.s.scramLookup)
		<-c.s.plainSlots
		return nil, user, err == nil, err
	case sasl.ScramSHA256, sasl.ScramSHA512:
		if st.scram == nil {
			if st.scram, err = sasl.NewScramServer(st.mechanism, c.s.scramLookup, rand.Reader); err != nil {
				return nil, "", false, err
			}
		}
		resp, done, err := st.scram.Step(msg)
		if done {
			user = st.scram.User()
		}
		return resp, user, done, err
	}
	return nil, "", false, fmt.Errorf("%w: no mechanism", sasl.ErrAuthenticationFailed)
}

// failAuthentication ends a connection whose authentication failed, as Kafka does: no
// further request is read, the answer resp goes out after
// connection.failed.authentication.delay.ms, then the connection closes. The wait runs on
// a goroutine of the connection's, so other connections are not held up; it ends early
// only when the broker shuts down.
func (c *conn) failAuthentication(resp kmsg.Response) reply {
	c.auth.closing = true
	d := c.s.data.broker.Millis("connection.failed.authentication.delay.ms")
	if d <= 0 {
		if resp == nil {
			return noReply
		}
		return now(resp)
	}
	return later(func() kmsg.Response {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.s.ctx.Done():
		}
		return resp
	})
}

// bootstrapUser creates the SCRAM-SHA-256 and SCRAM-SHA-512 credentials of the user of
// setting (bootstrap.user or strata.inter.broker.sasl.user: NAME:PASSWORD) that do not
// exist yet.
func (s *Server) bootstrapUser(ctx context.Context, setting string) error {
	v := s.opts.Settings[setting]
	if v == "" {
		return nil
	}
	name, password, _ := strings.Cut(v, ":") // validated
	var cmd metadata.AlterScramCredentials
	for _, m := range []string{sasl.ScramSHA256, sasl.ScramSHA512} {
		if _, ok := s.image().ScramCredential(name, m); ok {
			continue
		}
		c, err := sasl.NewCredentialFromPassword(m, password, sasl.MinIterations, rand.Reader)
		if err != nil {
			return err
		}
		cmd.Upsertions = append(cmd.Upsertions, metadata.ScramCredential{User: name, Credential: c})
	}
	if len(cmd.Upsertions) == 0 {
		return nil
	}
	if err := s.data.store.AlterScramCredentials(ctx, cmd); err != nil {
		return fmt.Errorf("%s: %w", setting, err)
	}
	s.log.Info("created the SCRAM credentials of "+setting, "user", name, "mechanisms", len(cmd.Upsertions))
	return nil
}

// offers reports whether the listener offers mechanism.
func (l *listenerSASL) offers(mechanism string) bool { return slices.Contains(l.mechanisms, mechanism) }

// SaslHandshake v0 (clients older than Kafka 1.0): the SASL tokens that follow travel as
// raw frames (a size, then the token; no request header), both ways, until the client
// has logged in; a failure closes the connection without an answer, as Kafka does.

// rawToken handles one raw SASL token frame of a connection after SaslHandshake v0. It
// reports false when the connection must close.
func (c *conn) rawToken(frame []byte, wg *sync.WaitGroup, start time.Time) bool {
	hdr := wire.RequestHeader{APIKey: 36}
	st := c.s.metrics.api(hdr.APIKey)
	st.requests.Add(1)
	st.bytesIn.Add(uint64(len(frame) + 4))
	r := &request{ctx: c.ctx, hdr: hdr, conn: c, principal: c.auth.principal, start: start, size: len(frame) + 4}
	out, user, done, err := c.authenticate(frame)
	if err != nil {
		c.log.Info("closing connection: SASL authentication failed", "listener", c.listener.Name, "err", err)
		rep := c.failAuthentication(nil)
		if rep.later == nil {
			return false
		}
		f := &inflight{r: r, done: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(f.done)
			rep.later() // the delay; nothing is written
		}()
		c.enqueue(f)
		return false
	}
	if done {
		c.login(Principal{Type: "User", Name: user})
	}
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.SASLAuthBytes = out
	c.enqueue(&inflight{r: r, resp: rawSASLToken{resp}, done: closedChan, fixedVersion: true})
	return true
}

// rawSASLToken is the answer to a raw SASL token: the server's token, size-prefixed,
// without a response header.
type rawSASLToken struct{ *kmsg.SASLAuthenticateResponse }

func (t rawSASLToken) writeResponse(w *connWriter, _ wire.RequestHeader) (int, error) {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(t.SASLAuthBytes)))
	bw := w.buffered()
	if _, err := bw.Write(size[:]); err != nil {
		return 0, err
	}
	n, err := bw.Write(t.SASLAuthBytes)
	return 4 + n, err
}

func (rawSASLToken) release()                  {}
func (t rawSASLToken) response() kmsg.Response { return t.SASLAuthenticateResponse }

// reauthenticating starts a re-authentication (KIP-368) of a logged-in connection when
// connections.max.reauth.ms allows it: a SaslHandshake v1 with the mechanism it logged
// in with. The SaslAuthenticate requests that follow log it in again; meanwhile it keeps
// its principal.
func (c *conn) reauthenticating(mechanism string, version int16) bool {
	if c.s.data.broker.Millis("connections.max.reauth.ms") <= 0 || version < 1 || c.auth.sasl.raw ||
		mechanism != c.auth.sasl.mechanism {
		return false
	}
	c.auth.sasl = saslState{mechanism: mechanism}
	c.auth.reauth = true
	return true
}
