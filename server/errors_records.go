package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

// Error codes of the record codecs' errors, as they reach the handlers unwrapped by the
// partition: converting a Produce v0-v2 message set, down-converting for Fetch v0-v3.
func init() {
	mapErrors(
		// Before batch.ErrInvalid, which it wraps.
		errMapping{records.ErrDownConvertZstd, kerr.UnsupportedCompressionType},
		errMapping{batch.ErrCorrupt, kerr.CorruptMessage},
		errMapping{batch.ErrInvalid, kerr.InvalidRecord},
	)
}
