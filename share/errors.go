package share

import "errors"

// Sentinel errors of the share coordinator. The server maps them to Kafka error codes.
var (
	// ErrInvalidRequest: a malformed acknowledgement (overlapping or unordered batches,
	// a wrong count of types, an unknown type, offsets past the end). Kafka's
	// INVALID_REQUEST.
	ErrInvalidRequest = errors.New("share: invalid request")
	// ErrInvalidRecordState: an acknowledgement of a record the member does not hold
	// (never acquired, already acknowledged, acquired by another member, or its lock
	// expired). Kafka's INVALID_RECORD_STATE.
	ErrInvalidRecordState = errors.New("share: invalid record state")
	// ErrFencedLeaderEpoch: a write of a share-partition's state by a leader of its topic
	// partition older than the one that last wrote it (leadership moved on). Kafka's
	// FENCED_LEADER_EPOCH.
	ErrFencedLeaderEpoch = errors.New("share: fenced leader epoch")
	// ErrFencedStateEpoch: a write of a share-partition's state read at a state epoch
	// older than the stored one (AlterShareGroupOffsets reset it since), or of a state
	// that was deleted since (DeleteShareGroupOffsets). Kafka's FENCED_STATE_EPOCH.
	ErrFencedStateEpoch = errors.New("share: fenced state epoch")
)
