package partition

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// recordsError maps an error of the records package (record validation, re-compression)
// to the partition's sentinels: malformed bytes are ErrCorrupt, everything else
// (ErrNoKey, ErrTooLarge, unsupported codec, non-canonical counts) ErrInvalidRecord.
func recordsError(err error) error {
	if errors.Is(err, batch.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
}

// compressionOf resolves compression.type for a topic, internal topics included: their
// coordinators replay batches of any codec (package coord), as Kafka's do.
func compressionOf(value string) int {
	c, err := records.ParseType(value)
	if err != nil {
		return records.Producer // validated by the config registry; unreachable
	}
	return c
}
