package server

import (
	"net/netip"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Principal is who a connection acts as: Kafka's KafkaPrincipal, a type and a name
// ("User:alice"). A connection is Anonymous until TLS or SASL says otherwise.
type Principal struct {
	Type, Name string
}

// Anonymous is the principal of a connection that has not authenticated (Kafka's
// User:ANONYMOUS): every connection of a PLAINTEXT listener.
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

// anonymous is the principal a connection starts with (a copy, never modified).
var anonymous = func() *Principal { p := Anonymous; return &p }()

// String returns the principal as Kafka writes it in ACLs and super.users: "Type:Name".
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ClusterResource is the name of the one CLUSTER resource (Kafka's "kafka-cluster").
const ClusterResource = "kafka-cluster"

// Action is one operation on one resource that a request wants to perform, with Kafka's
// ACL enums (kmsg's ACLOperation and ACLResourceType carry Kafka's codes).
type Action struct {
	Operation    kmsg.ACLOperation
	ResourceType kmsg.ACLResourceType
	Name         string // the resource's name; ClusterResource for the cluster
}

// RequestContext describes the request an action is authorized for: Kafka's
// AuthorizableRequestContext. Its methods are cheap and safe for concurrent use.
type RequestContext interface {
	// Principal is who sent the request: the connection's principal when it was read.
	Principal() Principal
	// ListenerName and SecurityProtocol are those of the listener it came in on.
	ListenerName() string
	SecurityProtocol() SecurityProtocol
	// ClientAddr is the client's IP address (an ACL's host).
	ClientAddr() netip.Addr
	ClientID() string
	APIKey() int16 // Kafka's requestType
	APIVersion() int16
	CorrelationID() int32
}

// Authorizer decides whether a request may perform an action (Kafka's Authorizer, one
// action per call). It is called on the connection's goroutines while requests are
// handled, so it must be safe for concurrent use and must not block on the network; it
// must not keep rc after it returns.
type Authorizer interface {
	Authorize(rc RequestContext, a Action) bool
}

// AllowAll is the Authorizer of a broker without ACLs: everything is allowed.
type AllowAll struct{}

// Authorize allows a.
func (AllowAll) Authorize(RequestContext, Action) bool { return true }

// authorized reports whether the request's principal may perform op on the resource:
// the one check handlers call, per resource, as Kafka's handlers do. A request that did
// not come from a connection (handler tests) is allowed everything.
func (r *request) authorized(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if r.conn == nil {
		return true
	}
	return r.conn.s.opts.Authorizer.Authorize(r, Action{Operation: op, ResourceType: rt, Name: name})
}

// clusterOperations are the operations Kafka reports in the cluster's
// authorized-operations fields (Metadata, DescribeCluster).
var clusterOperations = []kmsg.ACLOperation{
	kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationClusterAction,
	kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
}

// authorizedOperations returns the bit field of the operations in ops the principal may
// perform on the resource (bit n set for ACL operation code n), as Kafka answers an
// authorized-operations request.
func (r *request) authorizedOperations(rt kmsg.ACLResourceType, name string, ops []kmsg.ACLOperation) int32 {
	var bits int32
	for _, op := range ops {
		if r.authorized(op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// preAuthAPI reports whether a request of API key may run on a SASL listener before the
// connection has authenticated: ApiVersions, SaslHandshake and SaslAuthenticate, as
// Kafka's SaslServerAuthenticator allows.
func preAuthAPI(key int16) bool {
	switch key {
	case 18, 17, 36: // ApiVersions, SaslHandshake, SaslAuthenticate
		return true
	}
	return false
}

// login records that the connection authenticated as p: from then on every API may run
// and requests carry p. Only a handler's synchronous part (the connection's reader
// goroutine, which also reads the state) may call it.
func (c *conn) login(p Principal) {
	c.auth.principal, c.auth.authenticated = &p, true
}

// The RequestContext of a request.

func (r *request) Principal() Principal               { return *r.principal }
func (r *request) ListenerName() string               { return r.conn.listener.Name }
func (r *request) SecurityProtocol() SecurityProtocol { return r.conn.listener.SecurityProtocol }
func (r *request) ClientAddr() netip.Addr             { return r.conn.client }
func (r *request) ClientID() string                   { return r.hdr.ClientID }
func (r *request) APIKey() int16                      { return r.hdr.APIKey }
func (r *request) APIVersion() int16                  { return r.hdr.APIVersion }
func (r *request) CorrelationID() int32               { return r.hdr.CorrelationID }
