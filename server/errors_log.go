package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/log"
)

// Error codes of the log package's sentinels, as they reach the data-plane handlers
// wrapped by the partition.
func init() {
	mapErrors(
		errMapping{log.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		errMapping{log.ErrCorrupt, kerr.CorruptMessage},
		errMapping{log.ErrInvalidBatch, kerr.InvalidRecord},
		errMapping{log.ErrRecordTooLarge, kerr.RecordListTooLarge},
		// Every failed write, fsync, roll or checkpoint of a log (ErrBroken too wraps it).
		errMapping{log.ErrStorage, kerr.KafkaStorageError},
		errMapping{log.ErrTruncated, kerr.NotLeaderForPartition},
		errMapping{log.ErrClosed, kerr.NotLeaderForPartition},
	)
}
