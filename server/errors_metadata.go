package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/raft"
)

// Error codes of the metadata package's sentinels (admin requests, topic lookups) and of
// the config registry's.
func init() {
	mapErrors(
		errMapping{metadata.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
		errMapping{metadata.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		errMapping{metadata.ErrInvalidUpdateVersion, kerr.InvalidUpdateVersion},
		errMapping{metadata.ErrIneligibleReplica, kerr.IneligibleReplica},
		errMapping{metadata.ErrInvalidRequest, kerr.InvalidRequest},
		errMapping{metadata.ErrUnknownTopicID, kerr.UnknownTopicID},
		errMapping{metadata.ErrTopicExists, kerr.TopicAlreadyExists},
		errMapping{metadata.ErrInvalidTopic, kerr.InvalidTopicException},
		errMapping{metadata.ErrInvalidPartitions, kerr.InvalidPartitions},
		errMapping{metadata.ErrInvalidConfig, kerr.InvalidConfig},
		errMapping{metadata.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
		errMapping{metadata.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
		errMapping{metadata.ErrInternalTopic, kerr.InvalidRequest},
		errMapping{metadata.ErrInvalidBroker, kerr.InvalidRequest},
		errMapping{metadata.ErrUnknownCredential, kerr.ResourceNotFound},
		errMapping{metadata.ErrInvalidCredential, kerr.UnacceptableCredential},
		errMapping{metadata.ErrUnsupportedMechanism, kerr.UnsupportedSaslMechanism},
		errMapping{metadata.ErrDuplicateUser, kerr.DuplicateResource},
		errMapping{metadata.ErrInvalidACL, kerr.InvalidRequest},
		errMapping{metadata.ErrInvalidQuota, kerr.InvalidRequest},
		errMapping{metadata.ErrInvalidGroupConfig, kerr.InvalidConfig},
		errMapping{metadata.ErrInvalidBrokerConfig, kerr.InvalidConfig},
		// No controller answered within the request's timeout (a cluster store retries
		// until then), or the outcome of a forwarded command is unknown: KIP-590's
		// answer, never NOT_CONTROLLER. A store shutting down: retriable, the same (a
		// client retries it on another broker).
		errMapping{metadata.ErrNotController, kerr.RequestTimedOut},
		errMapping{metadata.ErrClosed, kerr.RequestTimedOut},
		errMapping{raft.ErrDuplicateVoter, kerr.DuplicateVoter},
		errMapping{raft.ErrVoterNotFound, kerr.VoterNotFound},
		errMapping{config.ErrUnknown, kerr.InvalidConfig},
		errMapping{config.ErrInvalid, kerr.InvalidConfig},
		errMapping{config.ErrReadOnly, kerr.InvalidRequest},
	)
}

// errMessage is the error message of a response entry: nil for no error.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}
