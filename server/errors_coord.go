package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/coord"
)

func init() {
	mapErrors(
		errMapping{coord.ErrNotCoordinator, kerr.NotCoordinator},
		errMapping{coord.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
		errMapping{coord.ErrNotAvailable, kerr.CoordinatorNotAvailable},
		// Kafka's coordinators answer NOT_COORDINATOR when the write to their partition
		// fails with KAFKA_STORAGE_ERROR (OffsetCommit, SyncGroup, DeleteGroups,
		// OffsetDelete …); the client finds the coordinator again and retries.
		errMapping{coord.ErrStorage, kerr.NotCoordinator},
	)
}
