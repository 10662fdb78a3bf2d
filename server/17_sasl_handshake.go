package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(17, 0, 1, handleSaslHandshake) }

// handleSaslHandshake answers SaslHandshake v0-v1: on a SASL listener, before login, it
// chooses the mechanism of the SaslAuthenticate requests (v1) or raw SASL token frames
// (v0, sasl.go) that follow and lists the listener's mechanisms. A mechanism the listener
// does not offer answers UNSUPPORTED_SASL_MECHANISM and closes the connection; a handshake on another listener,
// after login or a second time answers ILLEGAL_SASL_STATE (and closes the connection when
// before login), as Kafka does. With connections.max.reauth.ms, a logged-in connection
// may hand-shake again, with the same mechanism, to re-authenticate (KIP-368).
func handleSaslHandshake(s *Server, r *request) reply {
	req := r.body.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := r.conn
	if c != nil && c.auth.authenticated && c.reauthenticating(req.Mechanism, req.Version) {
		resp.SupportedMechanisms = c.listener.sasl.mechanisms
		return now(resp)
	}
	if c == nil || c.listener.sasl == nil || c.auth.authenticated {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return now(resp)
	}
	l := c.listener.sasl
	resp.SupportedMechanisms = l.mechanisms
	switch {
	case c.auth.sasl.mechanism != "":
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.auth.closing = true
	case !l.offers(req.Mechanism):
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.auth.closing = true
		c.log.Info("closing connection: SASL mechanism not offered", "mechanism", req.Mechanism, "listener", c.listener.Name)
	default:
		c.auth.sasl.mechanism = req.Mechanism
		c.auth.sasl.raw = req.Version == 0
	}
	return now(resp)
}
