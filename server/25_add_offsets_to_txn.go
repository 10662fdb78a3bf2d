package server

import (
	"cmp"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/txn"
)

func init() { register(25, 0, 4, handleAddOffsetsToTxn) }

// handleAddOffsetsToTxn answers AddOffsetsToTxn v0-v4: the group's __consumer_offsets
// partition joins the transaction (so that its marker makes the TxnOffsetCommit offsets
// visible, KIP-447). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2. It needs
// WRITE on the transactional id and READ on the group, as Kafka.
func handleAddOffsetsToTxn(s *Server, r *request) reply {
	req := r.body.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	c, err := s.txns()
	if err == nil {
		_, err = s.groups()
	}
	if err == nil {
		err = cmp.Or(r.txnIDErr(kmsg.ACLOperationWrite, req.TransactionalID), r.groupErr(kmsg.ACLOperationRead, req.Group))
	}
	if err != nil {
		resp.ErrorCode = txnErrorCode(err, req.Version, 2)
		return now(resp)
	}
	tp := txn.TopicPartition{Topic: metadata.ConsumerOffsetsTopic, Partition: s.data.groups.Partition(req.Group)}
	return later(func() kmsg.Response {
		resp.ErrorCode = txnErrorCode(c.AddPartitions(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TopicPartition{tp}), req.Version, 2)
		return resp
	})
}
