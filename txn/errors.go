package txn

import "errors"

// Sentinel errors of the transaction coordinator, with the Kafka error each one is (the
// server maps them). The coordinator runtime's errors (coord.ErrNotCoordinator,
// coord.ErrLoadInProgress, coord.ErrNotAvailable, coord.ErrStorage) pass through as they
// are.
var (
	// ErrInvalidRequest: an empty transactional id (INVALID_REQUEST).
	ErrInvalidRequest = errors.New("txn: invalid request")
	// ErrInvalidTransactionTimeout: a transaction timeout <= 0 or above
	// transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTransactionTimeout = errors.New("txn: invalid transaction timeout")
	// ErrInvalidProducerIDMapping: the transactional id is unknown, or mapped to another
	// producer id (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidProducerIDMapping = errors.New("txn: invalid producer id mapping")
	// ErrProducerFenced: the request's producer epoch is not the transactional id's
	// current one: a newer producer took the id over, or the coordinator aborted the
	// transaction on timeout (PRODUCER_FENCED; INVALID_PRODUCER_EPOCH for the versions of a
	// request that predate it, which the server picks).
	ErrProducerFenced = errors.New("txn: producer fenced")
	// ErrConcurrentTransactions: the previous transaction of the id is still ending (its
	// markers are being written) or a state change is being written
	// (CONCURRENT_TRANSACTIONS: the client retries).
	ErrConcurrentTransactions = errors.New("txn: concurrent transactions")
	// ErrInvalidTxnState: the request does not fit the transaction's state (EndTxn
	// without a transaction, commit after abort …) (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("txn: invalid transaction state")
	// ErrTransactionalIDNotFound: DescribeTransactions of an unknown id
	// (TRANSACTIONAL_ID_NOT_FOUND).
	ErrTransactionalIDNotFound = errors.New("txn: transactional id not found")
	// ErrTransactionAbortable: a partition a transactional produce writes to is not in
	// the transaction (Verify; TRANSACTION_ABORTABLE, which Produce v10 and older answer as
	// INVALID_TXN_STATE).
	ErrTransactionAbortable = errors.New("txn: partition not in the transaction")
	// ErrUnknownPartition is what a MarkerWriter returns for a partition that does not
	// exist (its topic was deleted): the coordinator skips it, as Kafka's does.
	ErrUnknownPartition = errors.New("txn: unknown topic or partition")
)
