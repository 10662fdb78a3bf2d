package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/replica"
)

// Error codes of the replica manager's lookup (every data-plane handler's).
func init() {
	mapErrors(
		errMapping{replica.ErrUnknownTopicOrPartition, kerr.UnknownTopicOrPartition},
		errMapping{replica.ErrNotLeaderOrFollower, kerr.NotLeaderForPartition},
		// A partition placed here that could not be opened or created: its log dir is
		// offline, as Kafka answers.
		errMapping{replica.ErrOffline, kerr.KafkaStorageError},
		// The broker is stopping: retriable, like a partition closed under a request.
		errMapping{replica.ErrClosed, kerr.NotLeaderForPartition},
		errMapping{replica.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
		errMapping{replica.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
	)
}
