package server

import (
	"cmp"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(65, 0, 0, handleDescribeTransactions) }

// handleDescribeTransactions answers DescribeTransactions v0 (KIP-664) from the
// transaction coordinator: each id's state (Kafka's names), timeout, start time (-1
// without a transaction), producer id and epoch and the partitions of its transaction;
// TRANSACTIONAL_ID_NOT_FOUND for an unknown id. As Kafka, each id needs DESCRIBE
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and only the partitions of topics the principal
// may DESCRIBE are listed.
func handleDescribeTransactions(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	c, cerr := s.txns()
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
		if err := cmp.Or(r.txnIDErr(kmsg.ACLOperationDescribe, id), cerr); err != nil {
			st.ErrorCode = txnErrorCode(err, 0, 0)
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		tx, err := c.Describe(id)
		if err != nil {
			st.ErrorCode = errorCode(err)
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State, st.TimeoutMillis, st.StartTimestamp = tx.State.String(), tx.TimeoutMs, tx.StartMs
		st.ProducerID, st.ProducerEpoch = tx.ProducerID, tx.ProducerEpoch
		for i := 0; i < len(tx.Partitions); {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = tx.Partitions[i].Topic
			for ; i < len(tx.Partitions) && tx.Partitions[i].Topic == t.Topic; i++ {
				t.Partitions = append(t.Partitions, tx.Partitions[i].Partition)
			}
			if r.topicErr(kmsg.ACLOperationDescribe, t.Topic) == nil { // only those it may describe
				st.Topics = append(st.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return now(resp)
}
