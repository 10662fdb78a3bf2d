package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/partition"
)

// Error codes of the partition package's sentinels (data plane).
func init() {
	mapErrors(
		errMapping{partition.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		errMapping{partition.ErrMessageTooLarge, kerr.MessageTooLarge},
		errMapping{partition.ErrCorrupt, kerr.CorruptMessage},
		errMapping{partition.ErrInvalidRecord, kerr.InvalidRecord},
		errMapping{partition.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		errMapping{partition.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
		errMapping{partition.ErrInvalidTxnState, kerr.InvalidTxnState},
		errMapping{partition.ErrTransactionCoordinatorFenced, kerr.TransactionCoordinatorFenced},
		errMapping{partition.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
		errMapping{partition.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
		errMapping{partition.ErrNotLeader, kerr.NotLeaderForPartition},
		errMapping{partition.ErrNotFollower, kerr.NotLeaderForPartition},
		// A partition closed under a request (topic deleted, broker stopping): retriable,
		// the client refreshes its metadata and learns what happened.
		errMapping{partition.ErrClosed, kerr.NotLeaderForPartition},
	)
}
