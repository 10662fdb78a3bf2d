package coord

import "errors"

// Sentinel errors of the runtime. The server maps them to Kafka error codes; coordinators
// built on the runtime return them (wrapped or as is) from their operations.
var (
	// ErrNotCoordinator: this broker does not host the partition of the key (it is not its
	// leader, or stopped being its leader while the operation waited). Kafka's
	// NOT_COORDINATOR: the client looks the coordinator up again.
	ErrNotCoordinator = errors.New("coord: not the coordinator")
	// ErrLoadInProgress: the partition is being loaded (replayed) after this broker became
	// its leader. Kafka's COORDINATOR_LOAD_IN_PROGRESS: the client retries.
	ErrLoadInProgress = errors.New("coord: coordinator load in progress")
	// ErrNotAvailable: the runtime is closed (the broker shuts down), or a write of the
	// internal topic failed for another reason than its storage. Kafka's
	// COORDINATOR_NOT_AVAILABLE.
	ErrNotAvailable = errors.New("coord: coordinator not available")
	// ErrStorage: the storage of the partition failed (a full or failing disk). A Log's
	// Append returns an error wrapping it for such a failure, and Write passes it on.
	// Kafka answers it NOT_COORDINATOR (the client looks the coordinator up again and
	// retries).
	ErrStorage = errors.New("coord: storage of the internal topic failed")
)
