package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/group"
)

func init() {
	mapErrors(
		errMapping{group.ErrUnknownMemberID, kerr.UnknownMemberID},
		errMapping{group.ErrIllegalGeneration, kerr.IllegalGeneration},
		errMapping{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
		errMapping{group.ErrMemberIDRequired, kerr.MemberIDRequired},
		errMapping{group.ErrFencedInstanceID, kerr.FencedInstanceID},
		errMapping{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
		errMapping{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
		errMapping{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
		errMapping{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
		// Kafka's group coordinator answers NOT_COORDINATOR when the write to its
		// partition fails with KAFKA_STORAGE_ERROR (OffsetCommit, SyncGroup,
		// DeleteGroups, OffsetDelete …); the client finds the coordinator again and retries.
		errMapping{group.ErrStorage, kerr.NotCoordinator},
		errMapping{group.ErrInconsistentGroupProtocol, kerr.InconsistentGroupProtocol},
		errMapping{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
		errMapping{group.ErrInvalidGroupID, kerr.InvalidGroupID},
		errMapping{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	)
}
