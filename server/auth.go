package server

import (
	"net/netip"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/metadata"
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

// topicErr returns nil when the request may perform op on the topic, and
// TOPIC_AUTHORIZATION_FAILED (a *kerr.Error, which errorCode answers as is) when not.
func (r *request) topicErr(op kmsg.ACLOperation, topic string) error {
	if r.authorized(op, kmsg.ACLResourceTypeTopic, topic) {
		return nil
	}
	return kerr.TopicAuthorizationFailed
}

// groupErr returns nil when the request may perform op on the group, and
// GROUP_AUTHORIZATION_FAILED when not.
func (r *request) groupErr(op kmsg.ACLOperation, group string) error {
	if r.authorized(op, kmsg.ACLResourceTypeGroup, group) {
		return nil
	}
	return kerr.GroupAuthorizationFailed
}

// describableTopics splits the partitions of topics (nil: all topics) into those of the
// topics the request may DESCRIBE and the others, as OffsetFetch asks.
func (r *request) describableTopics(topics map[string][]int32) (allowed, denied map[string][]int32) {
	if topics == nil {
		return nil, nil
	}
	allowed = map[string][]int32{}
	for t, ps := range topics {
		if r.topicErr(kmsg.ACLOperationDescribe, t) == nil {
			allowed[t] = ps
		} else {
			if denied == nil {
				denied = map[string][]int32{}
			}
			denied[t] = ps
		}
	}
	return allowed, denied
}

// deletableGroups splits groups into those the request may DELETE (in order) and the
// others, as DeleteGroups asks.
func (r *request) deletableGroups(groups []string) (allowed []string, denied map[string]bool) {
	for _, g := range groups {
		if r.groupErr(kmsg.ACLOperationDelete, g) == nil {
			allowed = append(allowed, g)
		} else {
			if denied == nil {
				denied = map[string]bool{}
			}
			denied[g] = true
		}
	}
	return allowed, denied
}

// coordinatorKeyAuthorized reports whether the request may find the coordinator of key:
// DESCRIBE on the group or on the transactional id, as Kafka's FindCoordinator asks.
func (r *request) coordinatorKeyAuthorized(keyType int8, key string) bool {
	switch keyType {
	case coordinatorGroup:
		return r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, key)
	case coordinatorTransaction:
		return r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, key)
	case coordinatorShare: // only brokers look share coordinators up
		return r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource)
	}
	return true
}

// configResourceErr is Kafka's authorization of a config resource: op (DESCRIBE_CONFIGS
// or ALTER_CONFIGS) on the cluster for a broker (CLUSTER_AUTHORIZATION_FAILED), on the
// topic for a topic (TOPIC_AUTHORIZATION_FAILED), on the group for a group
// (GROUP_AUTHORIZATION_FAILED). Other types are not checked here (the handlers refuse
// them).
func (r *request) configResourceErr(op kmsg.ACLOperation, typ kmsg.ConfigResourceType, name string) error {
	switch typ {
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !r.authorized(op, kmsg.ACLResourceTypeCluster, ClusterResource) {
			return kerr.ClusterAuthorizationFailed
		}
	case kmsg.ConfigResourceTypeTopic:
		return r.topicErr(op, name)
	case kmsg.ConfigResourceTypeGroupConfig:
		if !r.authorized(op, kmsg.ACLResourceTypeGroup, name) {
			return kerr.GroupAuthorizationFailed
		}
	}
	return nil
}

// mayCreateTopic reports whether the request may create the topic: CREATE on the
// cluster or on the topic, as Kafka's CreateTopics and auto-creation ask.
func (r *request) mayCreateTopic(topic string) bool {
	return r.authorized(kmsg.ACLOperationCreate, kmsg.ACLResourceTypeCluster, ClusterResource) ||
		r.authorized(kmsg.ACLOperationCreate, kmsg.ACLResourceTypeTopic, topic)
}

// produceTxnErr is Kafka's first authorization of a Produce request: one with
// transactional records needs WRITE on its transactional id, or every partition fails
// with TRANSACTIONAL_ID_AUTHORIZATION_FAILED. (Then each topic needs WRITE.) A
// partition's records count as transactional when its first batch is.
func (r *request) produceTxnErr(req *kmsg.ProduceRequest) error {
	if r.conn == nil {
		return nil
	}
	if _, all := r.conn.s.opts.Authorizer.(AllowAll); all {
		return nil // the hot path without ACLs reads no batch header
	}
	if transactionalProduce(req) && (req.TransactionID == nil ||
		!r.authorized(kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, *req.TransactionID)) {
		return kerr.TransactionalIDAuthorizationFailed
	}
	return nil
}

func transactionalProduce(req *kmsg.ProduceRequest) bool {
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if h, err := batch.ParseHeader(p.Records); err == nil && h.Magic == 2 && h.IsTransactional() {
				return true
			}
		}
	}
	return false
}

// fetchReadErr is Kafka's authorization of a Fetch: a follower (a replica id) needs
// CLUSTER_ACTION on the cluster, a consumer READ on each topic; TOPIC_AUTHORIZATION_FAILED
// otherwise. It returns the check per topic.
func (r *request) fetchReadErr(req *kmsg.FetchRequest) func(topic string) error {
	if req.ReplicaID >= 0 || req.ReplicaState.ID >= 0 {
		var err error
		if !r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource) {
			err = kerr.TopicAuthorizationFailed
		}
		return func(string) error { return err }
	}
	return func(topic string) error { return r.topicErr(kmsg.ACLOperationRead, topic) }
}

// resourceTypeAuthorizer is an Authorizer that also answers Kafka's
// authorizeByResourceType: whether the request may perform op on some resource of type
// rt.
type resourceTypeAuthorizer interface {
	AuthorizeByResourceType(rc RequestContext, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool
}

// authorizedByResourceType reports whether the request may perform op on some resource
// of type rt (Kafka's authorizeByResourceType). An Authorizer that cannot answer it is
// asked about a resource no ACL names, the first step of Kafka's default answer.
func (r *request) authorizedByResourceType(op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	if r.conn == nil {
		return true
	}
	if a, ok := r.conn.s.opts.Authorizer.(resourceTypeAuthorizer); ok {
		return a.AuthorizeByResourceType(r, op, rt)
	}
	return r.authorized(op, rt, "hardcode")
}

// txnIDErr returns nil when the request may perform op on the transactional id, and
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED when not.
func (r *request) txnIDErr(op kmsg.ACLOperation, id string) error {
	if r.authorized(op, kmsg.ACLResourceTypeTransactionalId, id) {
		return nil
	}
	return kerr.TransactionalIDAuthorizationFailed
}

// initProducerIDErr is Kafka's authorization of InitProducerId: WRITE on the
// transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer needs
// IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679), or
// CLUSTER_AUTHORIZATION_FAILED.
func (r *request) initProducerIDErr(transactionalID *string) error {
	switch {
	case transactionalID != nil:
		return r.txnIDErr(kmsg.ACLOperationWrite, *transactionalID)
	case r.authorized(kmsg.ACLOperationIdempotentWrite, kmsg.ACLResourceTypeCluster, ClusterResource),
		r.authorizedByResourceType(kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic):
		return nil
	}
	return kerr.ClusterAuthorizationFailed
}

// txnTopicErr is AddPartitionsToTxn's authorization of a topic: WRITE, and never an
// internal topic (TOPIC_AUTHORIZATION_FAILED), as Kafka's.
func (r *request) txnTopicErr(topic string) error {
	if metadata.IsInternal(topic) {
		return kerr.TopicAuthorizationFailed
	}
	return r.topicErr(kmsg.ACLOperationWrite, topic)
}

// clusterOperations are the operations Kafka reports in the cluster's
// authorized-operations fields (Metadata, DescribeCluster).
var clusterOperations = []kmsg.ACLOperation{
	kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationClusterAction,
	kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
}

// clusterAuthorizedOperations is the cluster's authorized-operations field (Metadata
// v8-v10, DescribeCluster): 0 without DESCRIBE on the cluster, as Kafka answers.
func (r *request) clusterAuthorizedOperations() int32 {
	if !r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return 0
	}
	return r.authorizedOperations(kmsg.ACLResourceTypeCluster, ClusterResource, clusterOperations)
}

// topicOperations and groupOperations are the operations Kafka reports in a topic's
// (Metadata) and a group's (DescribeGroups) authorized-operations fields.
var (
	topicOperations = []kmsg.ACLOperation{
		kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate, kmsg.ACLOperationDelete,
		kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
	}
	groupOperations = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete}
)

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
