package server

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/share"
)

// The server is the only layer that maps domain errors to Kafka error codes. Each domain
// package's sentinels are mapped in a file errors_<package>.go by a mapErrors call in its
// init; errorCode consults the whole table, first match wins (errors.Is), so wrap domain
// errors with %w all the way up.

type errMapping struct {
	err  error
	code *kerr.Error
}

var errorTable []errMapping

// mapErrors adds rows to the error table.
func mapErrors(rows ...errMapping) { errorTable = append(errorTable, rows...) }

// errorCode returns the Kafka error code for err: 0 for nil, the mapped code for a known
// domain error, KAFKA_STORAGE_ERROR (56) for any other failure of the file system (as
// Kafka answers an IOException of its log dir: a full or failing disk, a refused file
// creation), and UNKNOWN_SERVER_ERROR (-1) otherwise.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var se *share.StoreError
	if errors.As(err, &se) {
		return shareStoreCode(errorCode(se.Err))
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return m.code.Code
		}
	}
	if vfs.IsIOError(err) {
		return kerr.KafkaStorageError.Code
	}
	return kerr.UnknownServerError.Code
}
