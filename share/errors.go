package share

import (
	"errors"
	"fmt"
)

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
	// older than the stored one (AlterShareGroupOffsets reset it since, or deleted and
	// initialized it again). Kafka's FENCED_STATE_EPOCH.
	ErrFencedStateEpoch = errors.New("share: fenced state epoch")
	// ErrUninitialized: a write of a share-partition's state that was never initialized
	// (InitializeShareGroupState: the group coordinator does it when it first assigns the
	// topic) or was deleted since (DeleteShareGroupOffsets, DeleteGroups). Kafka's
	// share coordinator answers INVALID_REQUEST "Write operation on uninitialized share
	// partition not allowed."; the writer drops its share-partition and reads it again.
	ErrUninitialized = fmt.Errorf("%w: %s", ErrInvalidRequest, UninitializedWrite)
)

// The messages of Kafka's share coordinator for a read and a write of a share-partition
// without a state (INVALID_REQUEST).
const (
	UninitializedRead  = "Read operation on uninitialized share partition not allowed."
	UninitializedWrite = "Write operation on uninitialized share partition not allowed."
)

// StoreError is a failed read or write of share-partitions' states (Store, on a cluster
// their share coordinators: Kafka's persister) as the Manager returns it to an operation
// of a client (ShareFetch, ShareAcknowledge). Err is the store's error; the server answers
// the client with the code Kafka's SharePartition derives from the coordinator's
// (fetchPersisterError), not with the coordinator's own.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "share-partition state: " + e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }

// storeErr wraps a non-nil err in a StoreError.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return &StoreError{Err: err}
}

// Uninitialized is the start offset of a share-partition state that the group
// coordinator initialized (Kafka's PartitionFactory.UNINITIALIZED_START_OFFSET): the
// partition leader chooses the start from share.auto.offset.reset when it first reads it.
const Uninitialized int64 = -1
