package partition

import (
	"errors"
	"fmt"

	"github.com/stratalog/strata/internal/batch"
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
