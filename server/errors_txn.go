package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/txn"
)

// Error codes of the transaction coordinator's sentinels. ErrProducerFenced is
// INVALID_PRODUCER_EPOCH for the request versions before PRODUCER_FENCED (txnErrorCode).
func init() {
	mapErrors(
		errMapping{txn.ErrInvalidRequest, kerr.InvalidRequest},
		errMapping{txn.ErrInvalidTransactionTimeout, kerr.InvalidTransactionTimeout},
		errMapping{txn.ErrInvalidProducerIDMapping, kerr.InvalidProducerIDMapping},
		errMapping{txn.ErrProducerFenced, kerr.ProducerFenced},
		errMapping{txn.ErrConcurrentTransactions, kerr.ConcurrentTransactions},
		errMapping{txn.ErrInvalidTxnState, kerr.InvalidTxnState},
		errMapping{txn.ErrTransactionalIDNotFound, kerr.TransactionalIDNotFound},
		errMapping{txn.ErrTransactionAbortable, kerr.TransactionAbortable},
		errMapping{txn.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
	)
}
