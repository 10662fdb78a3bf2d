package group

import (
	"errors"

	"github.com/stratalog/strata/coord"
)

// Sentinel errors returned by the Coordinator. The server maps them to Kafka error codes
// (server/errors_group.go, and server/errors_coord.go for those of the coordinator
// runtime, which this package shares); this package never deals in error code numbers.
var (
	// ErrUnknownMemberID: the member ID is not (or no longer) a member of the group.
	ErrUnknownMemberID = errors.New("group: unknown member id")
	// ErrIllegalGeneration: the generation in the request is not the group's current one.
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; the member must rejoin.
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrMemberIDRequired: a first join (JoinGroup v4+) must be retried with the member
	// ID returned alongside this error.
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrFencedInstanceID: another member with the same group.instance.id replaced this one.
	ErrFencedInstanceID = errors.New("group: fenced instance id")
	// ErrInvalidSessionTimeout: the session timeout is outside the broker's allowed range.
	ErrInvalidSessionTimeout = errors.New("group: invalid session timeout")
	// ErrGroupIDNotFound: the group does not exist.
	ErrGroupIDNotFound = errors.New("group: group id not found")
	// ErrNonEmptyGroup: the group still has members.
	ErrNonEmptyGroup = errors.New("group: group is not empty")
	// ErrCoordinatorNotAvailable: the coordinator is closed, or a write of its log failed
	// for another reason than storage (coord.ErrNotAvailable).
	ErrCoordinatorNotAvailable = coord.ErrNotAvailable
	// ErrNotCoordinator: this broker does not host the group's partition of
	// __consumer_offsets (not loaded, or unloaded while the call waited)
	// (coord.ErrNotCoordinator).
	ErrNotCoordinator = coord.ErrNotCoordinator
	// ErrCoordinatorLoadInProgress: the group's partition is being loaded
	// (coord.ErrLoadInProgress).
	ErrCoordinatorLoadInProgress = coord.ErrLoadInProgress
	// ErrStorage: the storage of the group's partition of __consumer_offsets failed (a
	// full or failing disk). A coord.Log's Append returns an error wrapping it for such
	// a failure; the coordinator's write operations then return it. Kafka answers it
	// NOT_COORDINATOR (the client looks the coordinator up again and retries)
	// (coord.ErrStorage).
	ErrStorage = coord.ErrStorage
	// ErrInconsistentGroupProtocol: protocol type or protocols do not match the group's.
	ErrInconsistentGroupProtocol = errors.New("group: inconsistent group protocol")
	// ErrGroupSubscribedToTopic: OffsetDelete on a topic the active group consumes.
	ErrGroupSubscribedToTopic = errors.New("group: group is subscribed to the topic")
	// ErrInvalidGroupID: the group ID is empty.
	ErrInvalidGroupID = errors.New("group: invalid group id")
	// ErrFencedMemberEpoch: a KIP-848 member's epoch is not its current one (nor, with a
	// subset of its assignment, its previous one); it must rejoin with epoch 0.
	ErrFencedMemberEpoch = errors.New("group: fenced member epoch")
	// ErrUnsupportedAssignor: a KIP-848 member names a server-side assignor the broker
	// does not have.
	ErrUnsupportedAssignor = errors.New("group: unsupported assignor")
	// ErrStaleMemberEpoch: an offset commit of a KIP-848 member carries an epoch that is
	// not its current one; it retries once its heartbeat gave it the new one.
	ErrStaleMemberEpoch = errors.New("group: stale member epoch")
	// ErrUnreleasedInstanceID: a KIP-848 static member joins with an instance id that
	// another member still uses (it has not left with epoch -2).
	ErrUnreleasedInstanceID = errors.New("group: unreleased instance id")
	// ErrInvalidRequest: a request is malformed (a KIP-848 member joins without a
	// subscription).
	ErrInvalidRequest = errors.New("group: invalid request")
	// ErrInvalidRegularExpression: a KIP-848 member subscribes with a regular expression
	// that does not compile (RE2 syntax).
	ErrInvalidRegularExpression = errors.New("group: invalid regular expression")
	// ErrGroupMaxSizeReached: a member joins a consumer group that has
	// group.consumer.max.size members already.
	ErrGroupMaxSizeReached = errors.New("group: group max size reached")
	// ErrOffsetMetadataTooLarge: a commit's metadata string exceeds MaxMetadataBytes.
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
)
