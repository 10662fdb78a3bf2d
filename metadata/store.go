package metadata

import (
	"context"
	"errors"

	"github.com/stratalog/strata/internal/config"
)

// Sentinel errors of the stores and their rules; the server maps them to Kafka error
// codes (server/errors_metadata.go). They come wrapped with detail: test with errors.Is.
var (
	ErrUnknownTopic             = errors.New("metadata: unknown topic")
	ErrUnknownTopicID           = errors.New("metadata: unknown topic id")
	ErrTopicExists              = errors.New("metadata: topic already exists")
	ErrInvalidTopic             = errors.New("metadata: invalid topic name")
	ErrInvalidPartitions        = errors.New("metadata: invalid number of partitions")
	ErrInvalidReplicationFactor = errors.New("metadata: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("metadata: invalid replica assignment")
	ErrInvalidConfig            = errors.New("metadata: invalid topic config")
	// ErrInternalTopic: the command may not touch an internal topic (deleting
	// __consumer_offsets).
	ErrInternalTopic = errors.New("metadata: internal topic")
	// ErrInvalidBroker: a broker registration the store refuses (a single-node store
	// knows only its own node).
	ErrInvalidBroker = errors.New("metadata: invalid broker registration")
	// ErrNotController: this node cannot apply commands now (no controller, or a store
	// that does not forward); retriable.
	ErrNotController = errors.New("metadata: not the controller")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("metadata: store closed")

	// Errors of AlterPartition (Kafka's AlterPartition answers).

	// ErrFencedLeaderEpoch: the command carries another leader epoch than the
	// partition's (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("metadata: fenced leader epoch")
	// ErrInvalidUpdateVersion: the command carries another partition epoch than the
	// partition's: it was computed on an older state (INVALID_UPDATE_VERSION).
	ErrInvalidUpdateVersion = errors.New("metadata: invalid partition epoch")
	// ErrIneligibleReplica: the new ISR adds a broker that is fenced or not registered
	// (INELIGIBLE_REPLICA).
	ErrIneligibleReplica = errors.New("metadata: ineligible replica")
	// ErrInvalidRequest: the sender is not the partition's leader, or the new ISR is not
	// a set of its replicas that holds the leader (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("metadata: invalid request")
)

// Store is the one source of cluster metadata: a consistent Image, commands that change
// it, and watchers that follow the changes. metadata/local is the single-node
// implementation; a Raft-replicated one implements the same interface (every command is
// plain data, so it can be serialised into a log).
//
// A command returns once its change is applied to the image this node sees, and all
// watchers have been called with it; a failed command changes nothing (except where a
// method says otherwise). Every method is safe for concurrent use; commands are applied
// one at a time, in one order that every watcher sees.
type Store interface {
	// Image returns the current image; it does not block on commands in progress.
	Image() *Image
	// Watch calls fn with every delta, in order, after it is applied, and returns the
	// image the watcher starts from (no delta between it and the first fn call is
	// missed) and a function that stops the calls. fn runs on the goroutine that applies
	// the change, before the command returns: it must not call the store's commands, and
	// it reads the change from the delta (Image may still return d.Old while fn runs:
	// the local store publishes an image once its watchers follow it).
	// An error from fn is the node's failure to follow the change (a partition that
	// cannot be created): the single-node store undoes a topic creation and returns the
	// error from the command; a replicated store cannot undo and only logs it.
	Watch(fn func(*Delta) error) (current *Image, cancel func())

	// RegisterBroker registers a broker or updates its registration (endpoints, rack).
	RegisterBroker(ctx context.Context, b Broker) error
	// CreateTopic creates a topic (or, ValidateOnly, checks that it could and returns the
	// topic it would create, with a zero id), and returns it as the image has it.
	CreateTopic(ctx context.Context, cmd CreateTopic) (*Topic, error)
	// DeleteTopic deletes a topic and, through the watchers, its partitions' data.
	DeleteTopic(ctx context.Context, id TopicID) error
	// CreatePartitions grows a topic. When a watcher fails to create the new partitions,
	// the change stays (they are offline on this node) and the error is returned.
	CreatePartitions(ctx context.Context, cmd CreatePartitions) error
	// AlterTopicConfigs changes a topic's config overrides. When a watcher fails to
	// apply them, the change stays and the error is returned.
	AlterTopicConfigs(ctx context.Context, cmd AlterTopicConfigs) error
	// AllocateProducerIDs reserves a block of producer ids for a broker (Kafka's
	// AllocateProducerIds): ids are never handed out twice, across restarts too.
	AllocateProducerIDs(ctx context.Context, cmd AllocateProducerIDs) (ProducerIDBlock, error)
	// AlterPartition changes a partition's in-sync replicas on behalf of its leader
	// (Kafka's AlterPartition) and returns the partition's new state; an unchanged ISR
	// changes nothing and returns the current state.
	AlterPartition(ctx context.Context, cmd AlterPartition) (PartitionState, error)
	// ElectLeaders elects the leaders of partitions (Kafka's ElectLeaders, KIP-460:
	// preferred or unclean) and returns each partition's outcome.
	ElectLeaders(ctx context.Context, cmd ElectLeaders) ([]ElectionResult, error)
	// AlterReassignments starts, changes or cancels partition reassignments (Kafka's
	// AlterPartitionReassignments, KIP-455; Rules.AlterReassignments) and returns each
	// partition's outcome. ListReassignments reads the ongoing ones from an image.
	AlterReassignments(ctx context.Context, cmd AlterReassignments) ([]ReassignmentResult, error)
	// ScramStore: AlterScramCredentials (scram.go).
	ScramStore
	// ACLStore: CreateACLs, DeleteACLs (acls.go).
	ACLStore
	// QuotaStore: AlterClientQuotas (quotas.go).
	QuotaStore
	// GroupConfigStore: AlterGroupConfigs (groupconfigs.go).
	GroupConfigStore
	// BrokerConfigStore: AlterBrokerConfigs (brokerconfigs.go).
	BrokerConfigStore

	// Close stops the store; watchers are not called any more.
	Close() error
}

// CreateTopic is the command that creates a topic (CreateTopics).
type CreateTopic struct {
	Name string
	// Partitions is the partition count; -1: num.partitions. With Assignments, -1 or
	// len(Assignments).
	Partitions int32
	// ReplicationFactor; -1: default.replication.factor. With Assignments, -1 or the
	// length of each.
	ReplicationFactor int16
	// Assignments, when set, gives each partition's replicas (by partition index),
	// preferred leader first; otherwise the store places them.
	Assignments [][]int32
	// Configs are the topic's config overrides; a nil value is invalid, as in Kafka.
	Configs map[string]*string
	// ValidateOnly checks the command without applying it.
	ValidateOnly bool
}

// CreatePartitions is the command that grows a topic to Total partitions.
type CreatePartitions struct {
	Topic string
	Total int32
	// Assignments, when set, gives the replicas of each new partition (len must be
	// Total minus the current count).
	Assignments  [][]int32
	ValidateOnly bool
}

// AlterTopicConfigs is the command that changes a topic's config overrides
// (IncrementalAlterConfigs: SET, DELETE, APPEND, SUBTRACT, or with Replace the whole set,
// as AlterConfigs does: every override not SET returns to its default).
type AlterTopicConfigs struct {
	Topic        string
	Alters       []config.Alter
	Replace      bool
	ValidateOnly bool
}

// AllocateProducerIDs is the command that reserves a block of producer ids.
type AllocateProducerIDs struct {
	Broker int32
	// Above: the block starts above this id (the largest producer id the broker found in
	// its logs: ids are not reused even when the store's own record of them is lost).
	Above int64
}

// AlterPartition is the command with which a partition's leader shrinks or expands its
// in-sync replicas (Kafka's AlterPartition, KIP-497): the leader epoch and partition epoch
// are those of the state the leader computed it on; the command fails if either moved.
type AlterPartition struct {
	Topic     TopicID
	Partition int32
	// Broker is the sender, the partition's leader.
	Broker                      int32
	LeaderEpoch, PartitionEpoch int32
	// ISR is the new set of in-sync replicas; it holds the leader.
	ISR []int32
}

// ElectionType is the kind of an ElectLeaders election (Kafka's ElectionType).
type ElectionType int8

const (
	// ElectPreferred makes each partition's preferred replica (its first) the leader,
	// when it is live and in sync.
	ElectPreferred ElectionType = 0
	// ElectUnclean gives a partition without a leader one: an in-sync replica if one is
	// live, else the first live replica, alone in the ISR.
	ElectUnclean ElectionType = 1
)

// ElectLeaders is the command that elects partitions' leaders (Kafka's ElectLeaders).
type ElectLeaders struct {
	Type ElectionType
	// Partitions are the partitions to elect, by topic name; nil means every partition
	// of every topic, and the results then leave out the partitions whose election was
	// not needed, as Kafka's controller does.
	Partitions map[string][]int32
}

// ElectionOutcome is what an election did for one partition.
type ElectionOutcome int8

const (
	// Elected: the partition has a new leader.
	Elected ElectionOutcome = iota
	// ElectionNotNeeded: the preferred replica leads already (preferred), or the
	// partition has a leader (unclean): ELECTION_NOT_NEEDED.
	ElectionNotNeeded
	// PreferredLeaderNotAvailable: the preferred replica is fenced or out of the ISR
	// (PREFERRED_LEADER_NOT_AVAILABLE).
	PreferredLeaderNotAvailable
	// EligibleLeadersNotAvailable: no replica of the partition is live
	// (ELIGIBLE_LEADERS_NOT_AVAILABLE).
	EligibleLeadersNotAvailable
	// UnknownPartition: no such topic or partition (UNKNOWN_TOPIC_OR_PARTITION).
	UnknownPartition
)

// ElectionResult is one partition's outcome of ElectLeaders.
type ElectionResult struct {
	Topic     string
	Partition int32
	Outcome   ElectionOutcome
}

// ProducerIDBlock is a block of producer ids: [Start, Start+Len).
type ProducerIDBlock struct {
	Start int64
	Len   int32
}

// End is the first id after the block.
func (b ProducerIDBlock) End() int64 { return b.Start + int64(b.Len) }

// ProducerIDBlockSize is the size of the blocks of AllocateProducerIDs (Kafka's).
const ProducerIDBlockSize = 1000
