package server

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/share"
)

// TestErrorCodeStorage checks that the error table answers every failure of storage on
// the write path KAFKA_STORAGE_ERROR (56), whichever layer reports it and however it is
// wrapped, NOT_COORDINATOR for the group coordinator's (Kafka's answer for a
// KAFKA_STORAGE_ERROR of its partition), and leaves other errors alone.
func TestErrorCodeStorage(t *testing.T) {
	enospc := &iofs.PathError{Op: "write", Path: "/d/t-0/00000000000000000000.log", Err: syscall.ENOSPC}
	eio := &iofs.PathError{Op: "sync", Path: "/d/t-0/00000000000000000000.log", Err: syscall.EIO}
	inj := errorfs.OnKinds(errorfs.OpSync)
	inj.Err = syscall.ENOSPC
	for _, tc := range []struct {
		name string
		err  error
		want *kerr.Error
	}{
		{"log write ENOSPC", fmt.Errorf("partition t-0: %w", fmt.Errorf("%w: segment: write: %w", log.ErrStorage, enospc)), kerr.KafkaStorageError},
		{"log fsync EIO", fmt.Errorf("partition t-0: %w", fmt.Errorf("%w: %w", log.ErrStorage, eio)), kerr.KafkaStorageError},
		{"log refusing appends until repaired", fmt.Errorf("partition t-0: %w: %w", log.ErrBroken, eio), kerr.KafkaStorageError},
		{"injected fault", inj.MaybeError(errorfs.OpSync, "/d/x"), kerr.KafkaStorageError},
		{"topic creation: mkdir", fmt.Errorf("partition: create /d/t-3: %w", &iofs.PathError{Op: "mkdir", Path: "/d/t-3", Err: syscall.ENOSPC}), kerr.KafkaStorageError},
		{"topic creation: rename", &os.LinkError{Op: "rename", Old: "a.tmp", New: "a", Err: syscall.EIO}, kerr.KafkaStorageError},
		{"fdatasync", os.NewSyscallError("fdatasync", syscall.EIO), kerr.KafkaStorageError},
		{"bare errno", fmt.Errorf("segment: sync: %w", syscall.EDQUOT), kerr.KafkaStorageError},
		{"read-only file system", &iofs.PathError{Op: "open", Path: "/d/x", Err: syscall.EROFS}, kerr.KafkaStorageError},
		{"group coordinator write", fmt.Errorf("%w: __consumer_offsets-3: %v", group.ErrStorage, log.ErrStorage), kerr.NotCoordinator},
		// Domain errors keep their own codes, also next to a file-system error.
		{"corrupt batch", fmt.Errorf("%w: crc", partition.ErrCorrupt), kerr.CorruptMessage},
		{"unknown topic", errors.Join(metadata.ErrUnknownTopic, enospc), kerr.UnknownTopicOrPartition},
		{"other", errors.New("something else"), kerr.UnknownServerError},
		// KIP-590: a client never sees NOT_CONTROLLER, whatever the metadata store says.
		{"no controller in time", fmt.Errorf("raft: %w: no leader", metadata.ErrNotController), kerr.RequestTimedOut},
		{"metadata store closed", fmt.Errorf("create topic: %w", metadata.ErrClosed), kerr.RequestTimedOut},
	} {
		if got := errorCode(tc.err); got != tc.want.Code {
			t.Errorf("%s (%v): code %d (%v), want %d (%v)", tc.name, tc.err, got, kerr.ErrorForCode(got), tc.want.Code, tc.want)
		}
	}
	if !vfs.IsIOError(enospc) || vfs.IsIOError(errors.New("x")) {
		t.Error("vfs.IsIOError")
	}
}

// TestErrorCodeShareStore: a client's ShareFetch or ShareAcknowledge whose share-partition
// state could not be read or written gets the code Kafka's SharePartition derives from
// the share coordinator's (fetchPersisterError); the inter-broker state APIs, which get
// the store's errors unwrapped, keep the coordinator's own codes.
func TestErrorCodeShareStore(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("acknowledge: %w", &share.StoreError{Err: err}) }
	for _, tc := range []struct {
		name string
		err  error
		want *kerr.Error
	}{
		{"fenced state epoch", wrap(share.ErrFencedStateEpoch), kerr.NotLeaderForPartition},
		{"fenced leader epoch", wrap(share.ErrFencedLeaderEpoch), kerr.NotLeaderForPartition},
		{"deleted state", wrap(fmt.Errorf("%w: g:t:0", share.ErrUninitialized)), kerr.UnknownServerError},
		{"coordinator moved", wrap(fmt.Errorf("peer: %w", kerr.NotCoordinator)), kerr.CoordinatorNotAvailable},
		{"coordinator loading", wrap(kerr.CoordinatorLoadInProgress), kerr.CoordinatorNotAvailable},
		{"no share coordinator yet", wrap(errNoShareCoordinator), kerr.CoordinatorNotAvailable},
		{"unknown partition", wrap(kerr.UnknownTopicOrPartition), kerr.UnknownTopicOrPartition},
		{"unreachable coordinator", wrap(errors.New("dial tcp: connection refused")), kerr.UnknownServerError},
		// Not through a client's share-partition: the coordinator's codes.
		{"state API: fenced state epoch", share.ErrFencedStateEpoch, kerr.FencedStateEpoch},
		{"state API: deleted state", share.ErrUninitialized, kerr.InvalidRequest},
		{"acknowledgement of a record not held", share.ErrInvalidRecordState, kerr.InvalidRecordState},
	} {
		if got := errorCode(tc.err); got != tc.want.Code {
			t.Errorf("%s (%v): code %d (%v), want %d (%v)", tc.name, tc.err, got, kerr.ErrorForCode(got), tc.want.Code, tc.want)
		}
	}
}
