package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/txn"
)

func init() { register(24, 0, 3, handleAddPartitionsToTxn) }

// handleAddPartitionsToTxn answers AddPartitionsToTxn v0-v3 (the client versions; v4+ is
// Kafka's broker-to-broker form): the partitions join the transaction of the
// transactional id (txn.Coordinator.AddPartitions). As Kafka does, a partition of a topic
// that does not exist fails the request: it gets UNKNOWN_TOPIC_OR_PARTITION and the
// others OPERATION_NOT_ATTEMPTED, and nothing is added; a coordinator error is every
// partition's error (PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2). Authorization
// is Kafka's: WRITE on the transactional id (every partition
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each topic, never an internal one
// (TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED).
func handleAddPartitionsToTxn(s *Server, r *request) reply {
	req := r.body.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	fill := func(code func(topic string, p int32) int16) kmsg.Response {
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code(t.Topic, p)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	c, err := s.txns()
	if err == nil {
		err = r.txnIDErr(kmsg.ACLOperationWrite, req.TransactionalID)
	}
	if err != nil {
		code := txnErrorCode(err, req.Version, 2)
		return now(fill(func(string, int32) int16 { return code }))
	}
	var parts []txn.TopicPartition
	missing := false
	im := s.image()
	for _, t := range req.Topics {
		tp, ok := im.Topic(t.Topic)
		for _, p := range t.Partitions {
			missing = missing || r.txnTopicErr(t.Topic) != nil || !ok || p < 0 || p >= tp.NumPartitions()
			parts = append(parts, txn.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	if missing {
		return now(fill(func(topic string, p int32) int16 {
			if err := r.txnTopicErr(topic); err != nil {
				return errorCode(err)
			}
			if tp, ok := im.Topic(topic); !ok || p < 0 || p >= tp.NumPartitions() {
				return kerr.UnknownTopicOrPartition.Code
			}
			return kerr.OperationNotAttempted.Code
		}))
	}
	return later(func() kmsg.Response {
		code := txnErrorCode(c.AddPartitions(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts), req.Version, 2)
		return fill(func(string, int32) int16 { return code })
	})
}
