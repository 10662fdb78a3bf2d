package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/partition"
)

// Error codes of the log's sentinels, as they reach the data-plane handlers through the
// partition (which exports them under its name: server does not import package log).
func init() {
	mapErrors(
		errMapping{partition.ErrLogOffsetOutOfRange, kerr.OffsetOutOfRange},
		errMapping{partition.ErrLogCorrupt, kerr.CorruptMessage},
		errMapping{partition.ErrInvalidBatch, kerr.InvalidRecord},
		errMapping{partition.ErrRecordTooLarge, kerr.RecordListTooLarge},
		// Every failed write, fsync, roll or checkpoint of a log (ErrBroken too wraps it).
		errMapping{partition.ErrStorage, kerr.KafkaStorageError},
		errMapping{partition.ErrTruncated, kerr.NotLeaderForPartition},
		errMapping{partition.ErrLogClosed, kerr.NotLeaderForPartition},
	)
}
