package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/txn"
)

func init() { register(24, 0, 5, handleAddPartitionsToTxn) }

// handleAddPartitionsToTxn answers AddPartitionsToTxn. v0-v3 are the clients' versions:
// the partitions join the transaction of the transactional id
// (txn.Coordinator.AddPartitions). v4+ is Kafka's broker-to-broker form (KIP-890 part
// 1): several transactional ids per request, each either added the same way or, with
// VerifyOnly, checked (txn.Coordinator.Verify: a partition not in the transaction is
// TRANSACTION_ABORTABLE, v5's error, which brokers translate for their producers); it
// needs CLUSTER_ACTION on the cluster (else the top-level CLUSTER_AUTHORIZATION_FAILED)
// and no authorization of the ids or topics, as Kafka.
//
// As Kafka does, a partition of a topic that does not exist fails its transaction: it
// gets UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, and nothing is
// added; a coordinator error is every partition's error (PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v2). Authorization of v0-v3 is Kafka's: WRITE on the
// transactional id (every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each
// topic, never an internal one (TOPIC_AUTHORIZATION_FAILED, the others
// OPERATION_NOT_ATTEMPTED).
func handleAddPartitionsToTxn(s *Server, r *request) reply {
	req := r.body.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		t := kmsg.AddPartitionsToTxnRequestTransaction{TransactionalID: req.TransactionalID, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Topics: topics}
		code := s.addPartitionsToTxn(r, &t, req.Version)
		return later(func() kmsg.Response {
			codes := code()
			for i, t := range t.Topics {
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = t.Topic
				for j, p := range t.Partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, codes[i][j]
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		})
	}
	if !r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	codes := make([]func() [][]int16, len(req.Transactions))
	for i := range req.Transactions {
		codes[i] = s.addPartitionsToTxn(r, &req.Transactions[i], req.Version)
	}
	return later(func() kmsg.Response {
		for i, t := range req.Transactions {
			rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rt.TransactionalID = t.TransactionalID
			tc := codes[i]()
			for j, tt := range t.Topics {
				rtt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rtt.Topic = tt.Topic
				for k, p := range tt.Partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = p, tc[j][k]
					rtt.Partitions = append(rtt.Partitions, rp)
				}
				rt.Topics = append(rt.Topics, rtt)
			}
			resp.Transactions = append(resp.Transactions, rt)
		}
		return resp
	})
}

// addPartitionsToTxn checks one transaction of an AddPartitionsToTxn request (authorized
// as its version wants, its partitions existing) and returns what adds its partitions,
// or verifies them (VerifyOnly): a function that returns the error code of each
// partition, by topic and partition index of t.
func (s *Server) addPartitionsToTxn(r *request, t *kmsg.AddPartitionsToTxnRequestTransaction, version int16) func() [][]int16 {
	fill := func(code func(topic string, p int32) int16) [][]int16 {
		out := make([][]int16, len(t.Topics))
		for i, tt := range t.Topics {
			out[i] = make([]int16, len(tt.Partitions))
			for j, p := range tt.Partitions {
				out[i][j] = code(tt.Topic, p)
			}
		}
		return out
	}
	all := func(code int16) func() [][]int16 {
		return func() [][]int16 { return fill(func(string, int32) int16 { return code }) }
	}
	c, err := s.txns()
	if err == nil && version < 4 {
		err = r.txnIDErr(kmsg.ACLOperationWrite, t.TransactionalID)
	}
	if err != nil {
		return all(txnErrorCode(err, version, 2))
	}
	topicErr := func(topic string) error {
		if version >= 4 {
			return nil
		}
		return r.txnTopicErr(topic)
	}
	var parts []txn.TopicPartition
	missing := false
	im := s.image()
	for _, tt := range t.Topics {
		tp, ok := im.Topic(tt.Topic)
		for _, p := range tt.Partitions {
			missing = missing || topicErr(tt.Topic) != nil || !ok || p < 0 || p >= tp.NumPartitions()
			parts = append(parts, txn.TopicPartition{Topic: tt.Topic, Partition: p})
		}
	}
	if missing {
		return func() [][]int16 {
			return fill(func(topic string, p int32) int16 {
				if err := topicErr(topic); err != nil {
					return errorCode(err)
				}
				if tp, ok := im.Topic(topic); !ok || p < 0 || p >= tp.NumPartitions() {
					return kerr.UnknownTopicOrPartition.Code
				}
				return kerr.OperationNotAttempted.Code
			})
		}
	}
	if t.VerifyOnly {
		return func() [][]int16 {
			errs, err := c.Verify(t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
			if err != nil {
				return all(txnErrorCode(err, version, 2))()
			}
			i := 0
			return fill(func(string, int32) int16 { i++; return errorCode(errs[i-1]) })
		}
	}
	add := c.AddPartitions
	if version >= 4 { // from another broker: answer at once (it retries), its connection is shared
		add = c.TryAddPartitions
	}
	return func() [][]int16 {
		return all(txnErrorCode(add(r.ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts), version, 2))()
	}
}
