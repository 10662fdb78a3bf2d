package server

import (
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/txn"
)

func init() { register(66, 0, 2, handleListTransactions) }

// handleListTransactions answers ListTransactions v0-v2 (KIP-664) from the transaction
// coordinator: every transactional id, filtered by state (Kafka's names; unknown ones are
// returned in UnknownStateFilters and match nothing), by producer id, (v1) by how long
// the transaction has been running (DurationFilterMillis >= 0: only transactions started
// longer ago than that; an id with no transaction, Empty, starts at -1 and so passes any
// duration, as in Kafka's TransactionStateManager) and (v2, KIP-1152) by a regular
// expression the whole id must match (RE2 syntax, as Kafka's RE2/J; one that does not
// compile is INVALID_REGULAR_EXPRESSION). COORDINATOR_LOAD_IN_PROGRESS while a partition loads.
func handleListTransactions(s *Server, r *request) reply {
	req := r.body.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	c, err := s.txns()
	if err != nil {
		resp.ErrorCode = txnErrorCode(err, 0, 0)
		return now(resp)
	}
	var states []txn.State
	for _, name := range req.StateFilters {
		if st, ok := txn.ParseState(name); ok {
			states = append(states, st)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	var pattern *regexp.Regexp
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		if pattern, err = regexp.Compile(`^(?:` + *req.TransactionalIDPattern + `)$`); err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return now(resp)
		}
	}
	list, err := c.List()
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	nowMs := time.Now().UnixMilli()
	for _, tx := range list {
		switch {
		case len(req.StateFilters) > 0 && !slices.Contains(states, tx.State):
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, tx.ProducerID):
		case req.Version >= 1 && req.DurationFilterMillis >= 0 && nowMs-tx.StartMs <= req.DurationFilterMillis:
		case pattern != nil && !pattern.MatchString(tx.ID):
		case r.txnIDErr(kmsg.ACLOperationDescribe, tx.ID) != nil: // only the ids it may describe, as Kafka
		default:
			ts := kmsg.NewListTransactionsResponseTransactionState()
			ts.TransactionalID, ts.ProducerID, ts.TransactionState = tx.ID, tx.ProducerID, tx.State.String()
			resp.TransactionStates = append(resp.TransactionStates, ts)
		}
	}
	return now(resp)
}
