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
		// ErrCoordinatorNotAvailable, ErrNotCoordinator, ErrCoordinatorLoadInProgress and
		// ErrStorage are the coordinator runtime's (errors_coord.go).
		errMapping{group.ErrInconsistentGroupProtocol, kerr.InconsistentGroupProtocol},
		errMapping{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
		errMapping{group.ErrInvalidGroupID, kerr.InvalidGroupID},
		errMapping{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
		errMapping{group.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
		errMapping{group.ErrUnsupportedAssignor, kerr.UnsupportedAssignor},
		errMapping{group.ErrInvalidRequest, kerr.InvalidRequest},
		errMapping{group.ErrUnreleasedInstanceID, kerr.UnreleasedInstanceID},
		errMapping{group.ErrStaleMemberEpoch, kerr.StaleMemberEpoch},
		errMapping{group.ErrInvalidRegularExpression, kerr.InvalidRegularExpression},
		errMapping{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},
	)
}
