package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(26, 0, 4, handleEndTxn) }

// handleEndTxn answers EndTxn v0-v4: the transaction of the transactional id commits or
// aborts (txn.Coordinator.EndTxn), answered once PrepareCommit or PrepareAbort is
// written; the markers follow in the background. PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v2. (v5, KIP-890's epoch bump at every end, comes with
// transactions v2.) It needs WRITE on the transactional id, as Kafka.
func handleEndTxn(s *Server, r *request) reply {
	req := r.body.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	c, err := s.txns()
	if err == nil {
		err = r.txnIDErr(kmsg.ACLOperationWrite, req.TransactionalID)
	}
	if err != nil {
		resp.ErrorCode = txnErrorCode(err, req.Version, 2)
		return now(resp)
	}
	return later(func() kmsg.Response {
		resp.ErrorCode = txnErrorCode(c.EndTxn(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit), req.Version, 2)
		return resp
	})
}
