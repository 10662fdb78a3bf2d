package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(26, 0, 5, handleEndTxn) }

// handleEndTxn answers EndTxn v0-v5: the transaction of the transactional id commits or
// aborts (txn.Coordinator.EndTxn), answered once PrepareCommit or PrepareAbort is
// written; the markers follow in the background. v5 is transactions v2 (KIP-890 part 2,
// txn.Coordinator.EndTxnV2): every end bumps the producer epoch, and the answer carries
// the producer id and epoch to go on with. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v2. It needs WRITE on the transactional id, as Kafka.
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
		var err error
		if req.Version >= 5 {
			resp.ProducerID, resp.ProducerEpoch, err = c.EndTxnV2(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		} else {
			err = c.EndTxn(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		}
		resp.ErrorCode = txnErrorCode(err, req.Version, 2)
		return resp
	})
}
