package raft

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/stratalog/strata/internal/acl"
	"github.com/stratalog/strata/metadata"
)

// The formats of the Raft log entries, the snapshots and the forwarding messages: a
// version byte, then JSON. A node refuses a version it does not know (a newer node's
// entry stops an older node's FSM from guessing).
const (
	recordVersion   = 1
	snapshotVersion = 1
	messageVersion  = 1
)

// errCorrupt: an entry, snapshot or message that does not decode.
var errCorrupt = errors.New("raft: corrupt metadata entry")

// record is one entry of the metadata log: changes to the image, computed by the leader
// from a command and applied as they are on every node. Base is the version of the
// image the leader computed them on: a node whose image has another version (a record
// of a deposed leader committed after its successor's) applies nothing, the same way on
// every node.
type record struct {
	Base int64 `json:"base"`
	// Nonce tells the record from any other at its index: a leader that lost its
	// leadership with the record in flight finds out from the log whether it committed.
	Nonce          uint64             `json:"nonce,omitempty"`
	ClusterID      string             `json:"clusterId,omitempty"`
	Controller     *int32             `json:"controller,omitempty"`
	Brokers        []metadata.Broker  `json:"brokers,omitempty"`
	Removed        []metadata.TopicID `json:"removed,omitempty"`
	Topics         []*metadata.Topic  `json:"topics,omitempty"`
	NextProducerID int64              `json:"nextProducerId,omitempty"`
	// SCRAM credentials set and removed (AlterScramCredentials).
	ScramPut     []metadata.ScramCredential `json:"scramPut,omitempty"`
	ScramRemoved []metadata.ScramKey        `json:"scramRemoved,omitempty"`
	// ACL bindings added and removed (CreateACLs, DeleteACLs).
	ACLsPut     []acl.Binding `json:"aclsPut,omitempty"`
	ACLsRemoved []acl.Binding `json:"aclsRemoved,omitempty"`
	// Quotas are the entities whose client quotas changed, with all their quotas now
	// (none: the entity has no quota left) (AlterClientQuotas).
	Quotas []metadata.ClientQuota `json:"quotas,omitempty"`
	// GroupConfigs are the groups whose settings changed, with all their settings now
	// (none: the group has none left) (AlterGroupConfigs).
	GroupConfigs []metadata.GroupConfig `json:"groupConfigs,omitempty"`
	// BrokerConfigs are the broker resources whose dynamic settings changed, with all
	// their settings now (AlterBrokerConfigs).
	BrokerConfigs []metadata.BrokerConfig `json:"brokerConfigs,omitempty"`
}

func encodeRecord(r *record) []byte { return encodeVersioned(recordVersion, r) }

func decodeRecord(data []byte) (*record, error) {
	r := &record{}
	if err := decodeVersioned(data, recordVersion, r); err != nil {
		return nil, err
	}
	for _, t := range r.Topics {
		if err := validTopic(t, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// apply returns the image that follows im with the record's changes.
func (r *record) apply(im *metadata.Image) *metadata.Image {
	b := im.Edit()
	if r.ClusterID != "" {
		b.SetClusterID(r.ClusterID)
	}
	if r.Controller != nil {
		b.SetController(*r.Controller)
	}
	for _, br := range r.Brokers {
		b.PutBroker(br)
	}
	for _, id := range r.Removed {
		b.RemoveTopic(id)
	}
	for _, t := range r.Topics {
		b.PutTopic(t)
	}
	if r.NextProducerID > im.NextProducerID() {
		b.SetNextProducerID(r.NextProducerID)
	}
	for _, c := range r.ScramPut {
		b.PutScramCredential(c)
	}
	for _, k := range r.ScramRemoved {
		b.RemoveScramCredential(k)
	}
	for _, a := range r.ACLsPut {
		b.PutACL(a)
	}
	for _, a := range r.ACLsRemoved {
		b.RemoveACL(a)
	}
	for _, q := range r.Quotas {
		b.PutClientQuota(q)
	}
	for _, g := range r.GroupConfigs {
		b.PutGroupConfig(g)
	}
	for _, c := range r.BrokerConfigs {
		b.PutBrokerConfig(c)
	}
	return b.Build()
}

// validTopic checks a decoded topic enough that the image and its readers can trust it;
// dryRun accepts the zero id of a validate-only creation.
func validTopic(t *metadata.Topic, dryRun bool) error {
	if t == nil || metadata.ValidateTopicName(t.Name) != nil || t.ID.IsZero() && !dryRun || len(t.Partitions) == 0 {
		return fmt.Errorf("%w: bad topic", errCorrupt)
	}
	for _, p := range t.Partitions {
		if len(p.Replicas) == 0 {
			return fmt.Errorf("%w: topic %s: a partition without replicas", errCorrupt, t.Name)
		}
		for _, b := range slices.Concat(p.Adding, p.Removing) {
			if !p.HasReplica(b) {
				return fmt.Errorf("%w: topic %s: a reassignment of broker %d that holds no replica", errCorrupt, t.Name, b)
			}
		}
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	return nil
}

// snapshot is the content of a Raft snapshot: the image, and the index of the last entry
// applied to it.
type snapshot struct {
	Applied        uint64            `json:"applied"`
	Version        int64             `json:"version"`
	ClusterID      string            `json:"clusterId"`
	Controller     int32             `json:"controller"`
	NextProducerID int64             `json:"nextProducerId"`
	Brokers        []metadata.Broker `json:"brokers"`
	Topics         []*metadata.Topic `json:"topics"`
	// Scram and ACLs: the SCRAM credentials and ACL bindings.
	Scram []metadata.ScramCredential `json:"scram,omitempty"`
	ACLs  []acl.Binding              `json:"acls,omitempty"`
	// Quotas: the client quotas.
	Quotas []metadata.ClientQuota `json:"quotas,omitempty"`
	// GroupConfigs: the settings of every group that has some.
	GroupConfigs []metadata.GroupConfig `json:"groupConfigs,omitempty"`
	// BrokerConfigs: the dynamic settings of every broker resource that has some.
	BrokerConfigs []metadata.BrokerConfig `json:"brokerConfigs,omitempty"`
}

func newSnapshot(im *metadata.Image, applied uint64) *snapshot {
	return &snapshot{Applied: applied, Version: im.Version(), ClusterID: im.ClusterID(), Controller: im.Controller(),
		NextProducerID: im.NextProducerID(), Brokers: im.Brokers(), Topics: im.Topics(),
		Scram: im.ScramCredentials(), ACLs: im.ACLs(), Quotas: im.ClientQuotas(), GroupConfigs: im.AllGroupConfigs(),
		BrokerConfigs: im.AllBrokerConfigs()}
}

// image rebuilds the image the snapshot was taken of.
func (s *snapshot) image() *metadata.Image {
	b := metadata.NewImage(s.ClusterID, s.Controller, s.Brokers...).Edit().SetNextProducerID(s.NextProducerID)
	for _, t := range s.Topics {
		b.PutTopic(t)
	}
	for _, c := range s.Scram {
		b.PutScramCredential(c)
	}
	for _, a := range s.ACLs {
		b.PutACL(a)
	}
	for _, q := range s.Quotas {
		b.PutClientQuota(q)
	}
	for _, g := range s.GroupConfigs {
		b.PutGroupConfig(g)
	}
	for _, c := range s.BrokerConfigs {
		b.PutBrokerConfig(c)
	}
	return b.SetVersion(s.Version).Build()
}

// maxSnapshotBytes bounds what Restore reads: far above any real image.
const maxSnapshotBytes = 1 << 30

func decodeSnapshot(r io.Reader) (*snapshot, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("raft: read snapshot: %w", err)
	}
	if len(data) > maxSnapshotBytes {
		return nil, fmt.Errorf("%w: snapshot larger than %d bytes", errCorrupt, maxSnapshotBytes)
	}
	s := &snapshot{}
	if err := decodeVersioned(data, snapshotVersion, s); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range s.Topics {
		if err := validTopic(t, false); err != nil {
			return nil, err
		}
		if seen[t.Name] || seen[t.ID.String()] {
			return nil, fmt.Errorf("%w: topic %s twice", errCorrupt, t.Name)
		}
		seen[t.Name], seen[t.ID.String()] = true, true
	}
	return s, nil
}

// request is a command, forwarded from the node that received it to the leader; exactly
// one field is set.
type request struct {
	RegisterBroker        *metadata.Broker                `json:"registerBroker,omitempty"`
	CreateTopic           *metadata.CreateTopic           `json:"createTopic,omitempty"`
	DeleteTopic           *metadata.TopicID               `json:"deleteTopic,omitempty"`
	CreatePartitions      *metadata.CreatePartitions      `json:"createPartitions,omitempty"`
	AlterTopicConfigs     *metadata.AlterTopicConfigs     `json:"alterTopicConfigs,omitempty"`
	AllocateProducerIDs   *metadata.AllocateProducerIDs   `json:"allocateProducerIds,omitempty"`
	AlterScramCredentials *metadata.AlterScramCredentials `json:"alterScramCredentials,omitempty"`
	CreateACLs            *metadata.CreateACLs            `json:"createAcls,omitempty"`
	DeleteACLs            *metadata.DeleteACLs            `json:"deleteAcls,omitempty"`
	AlterClientQuotas     *metadata.AlterClientQuotas     `json:"alterClientQuotas,omitempty"`
	AlterGroupConfigs     *metadata.AlterGroupConfigs     `json:"alterGroupConfigs,omitempty"`
	AlterBrokerConfigs    *metadata.AlterBrokerConfigs    `json:"alterBrokerConfigs,omitempty"`
	AlterPartition        *metadata.AlterPartition        `json:"alterPartition,omitempty"`
	ElectLeaders          *metadata.ElectLeaders          `json:"electLeaders,omitempty"`
	AlterReassignments    *metadata.AlterReassignments    `json:"alterReassignments,omitempty"`
	// Heartbeat: the broker is alive (kept in the leader's memory, not in the log,
	// unless it unfences the broker).
	Heartbeat *int32 `json:"heartbeat,omitempty"`
	// FenceBroker: the broker's session expired (the leader's own command).
	FenceBroker *int32 `json:"fenceBroker,omitempty"`
	// expiredOnly: FenceBroker only if the broker is still unheard for its session when
	// the command runs (the leader's session expiry; never forwarded).
	expiredOnly bool
	// AddVoter and RemoveVoter change the quorum (Raft configuration entries, not
	// records).
	AddVoter    *Voter `json:"addVoter,omitempty"`
	RemoveVoter *int32 `json:"removeVoter,omitempty"`
}

func decodeRequest(data []byte) (*request, error) {
	r := &request{}
	if err := decodeVersioned(data, messageVersion, r); err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{r.RegisterBroker != nil, r.CreateTopic != nil, r.DeleteTopic != nil,
		r.CreatePartitions != nil, r.AlterTopicConfigs != nil, r.AllocateProducerIDs != nil, r.Heartbeat != nil, r.FenceBroker != nil, r.AddVoter != nil, r.RemoveVoter != nil,
		r.AlterScramCredentials != nil, r.CreateACLs != nil, r.DeleteACLs != nil, r.AlterClientQuotas != nil, r.AlterPartition != nil, r.AlterGroupConfigs != nil, r.ElectLeaders != nil,
		r.AlterReassignments != nil, r.AlterBrokerConfigs != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: request with %d commands", errCorrupt, n)
	}
	return r, nil
}

// response is the leader's answer to a request.
type response struct {
	// NotLeader: the node is not (or not yet) the leader; nothing was done: ask the
	// leader.
	NotLeader bool `json:"notLeader,omitempty"`
	// Err is the command's error; nothing was done.
	Err *remoteError `json:"err,omitempty"`
	// err is Err as the leader had it, when the command ran on this node.
	err error
	// Index is the log index of the command's record (0: no record, a validate-only
	// command): the node that received the command answers once it has applied it.
	Index uint64 `json:"index,omitempty"`
	// Pending: the leader lost its leadership with the record (Nonce) at Index in
	// flight; the node that received the command learns from its log whether it
	// committed.
	Pending bool   `json:"pending,omitempty"`
	Nonce   uint64 `json:"nonce,omitempty"`
	// Topic is the topic a CreateTopic created (or, validate-only, would create).
	Topic *metadata.Topic `json:"topic,omitempty"`
	// Block is the block of producer ids an AllocateProducerIDs reserved.
	Block metadata.ProducerIDBlock `json:"block"`
	// DeletedACLs are the bindings each filter of a DeleteACLs deleted.
	DeletedACLs [][]acl.Binding `json:"deletedAcls,omitempty"`
	// Elections are the outcomes of an ElectLeaders.
	Elections []metadata.ElectionResult `json:"elections,omitempty"`
	// Reassignments are the outcomes of an AlterReassignments.
	Reassignments []metadata.ReassignmentResult `json:"reassignments,omitempty"`
}

func decodeResponse(data []byte) (*response, error) {
	r := &response{}
	if err := decodeVersioned(data, messageVersion, r); err != nil {
		return nil, err
	}
	if r.Topic != nil {
		if err := validTopic(r.Topic, true); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// remoteError is an error of a command carried from the leader: its text, and which of
// metadata's sentinels it wraps, so that errors.Is works on the node that received the
// command.
type remoteError struct {
	Kind string `json:"kind,omitempty"`
	Msg  string `json:"msg"`
}

// sentinels are the errors a remoteError keeps the identity of, by kind.
var sentinels = map[string]error{
	"unknown_topic":              metadata.ErrUnknownTopic,
	"unknown_topic_id":           metadata.ErrUnknownTopicID,
	"topic_exists":               metadata.ErrTopicExists,
	"invalid_topic":              metadata.ErrInvalidTopic,
	"invalid_partitions":         metadata.ErrInvalidPartitions,
	"invalid_replication_factor": metadata.ErrInvalidReplicationFactor,
	"invalid_replica_assignment": metadata.ErrInvalidReplicaAssignment,
	"invalid_config":             metadata.ErrInvalidConfig,
	"internal_topic":             metadata.ErrInternalTopic,
	"invalid_broker":             metadata.ErrInvalidBroker,
	"not_controller":             metadata.ErrNotController,
	"closed":                     metadata.ErrClosed,
	"unknown_credential":         metadata.ErrUnknownCredential,
	"invalid_credential":         metadata.ErrInvalidCredential,
	"unsupported_mechanism":      metadata.ErrUnsupportedMechanism,
	"duplicate_user":             metadata.ErrDuplicateUser,
	"invalid_acl":                metadata.ErrInvalidACL,
	"invalid_quota":              metadata.ErrInvalidQuota,
	"invalid_group_config":       metadata.ErrInvalidGroupConfig,
	"invalid_broker_config":      metadata.ErrInvalidBrokerConfig,
	"fenced_leader_epoch":        metadata.ErrFencedLeaderEpoch,
	"invalid_update_version":     metadata.ErrInvalidUpdateVersion,
	"ineligible_replica":         metadata.ErrIneligibleReplica,
	"invalid_request":            metadata.ErrInvalidRequest,
	"duplicate_voter":            ErrDuplicateVoter,
	"voter_not_found":            ErrVoterNotFound,
}

func newRemoteError(err error) *remoteError {
	for kind, s := range sentinels {
		if errors.Is(err, s) {
			return &remoteError{Kind: kind, Msg: err.Error()}
		}
	}
	return &remoteError{Msg: err.Error()}
}

func (e *remoteError) Error() string { return e.Msg }
func (e *remoteError) Unwrap() error { return sentinels[e.Kind] }

func encodeMessage(v any) []byte { return encodeVersioned(messageVersion, v) }

func encodeVersioned(version byte, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Only plain data is encoded here: a failure is a broken invariant.
		panic(fmt.Sprintf("raft: encode %T: %v", v, err))
	}
	return append([]byte{version}, data...)
}

func decodeVersioned(data []byte, version byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", errCorrupt)
	}
	if data[0] != version {
		return fmt.Errorf("%w: format version %d, this node knows %d", errCorrupt, data[0], version)
	}
	if err := json.Unmarshal(data[1:], v); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return nil
}
