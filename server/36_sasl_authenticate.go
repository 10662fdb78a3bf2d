package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(36, 0, 2, handleSaslAuthenticate) }

// handleSaslAuthenticate answers SaslAuthenticate v0-v2: one message of the mechanism
// the handshake chose. When the client has proved who it is, the connection logs in as
// User:<name> and every API may run. A failure answers SASL_AUTHENTICATION_FAILED with
// the reason after connection.failed.authentication.delay.ms and closes the connection;
// one before the handshake, after login or on another listener answers
// ILLEGAL_SASL_STATE. With connections.max.reauth.ms, v1+ answers the session lifetime,
// and a re-authentication (KIP-368) must log in as the same user.
func handleSaslAuthenticate(s *Server, r *request) reply {
	req := r.body.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.conn
	if c == nil || c.listener.sasl == nil || c.auth.authenticated && !c.auth.reauth {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return now(resp)
	}
	if c.auth.sasl.mechanism == "" {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate before SaslHandshake")
		c.auth.closing = true
		return now(resp)
	}
	out, user, done, err := c.authenticate(req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		c.log.Info("closing connection: SASL authentication failed", "listener", c.listener.Name, "err", err)
		return c.failAuthentication(resp)
	}
	resp.SASLAuthBytes = out
	if !done {
		return now(resp)
	}
	if c.auth.reauth && user != c.auth.principal.Name {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("a re-authentication cannot change the principal")
		c.log.Info("closing connection: re-authentication as another user", "principal", c.auth.principal.String(), "user", user)
		return c.failAuthentication(resp)
	}
	c.auth.reauth = false
	c.login(Principal{Type: "User", Name: user})
	if d := s.data.broker.Millis("connections.max.reauth.ms"); d > 0 {
		c.auth.expires = r.start.Add(d)
		resp.SessionLifetimeMillis = d.Milliseconds()
	}
	c.log.Debug("SASL authenticated", "principal", "User:"+user, "mechanism", c.auth.sasl.mechanism)
	return now(resp)
}
