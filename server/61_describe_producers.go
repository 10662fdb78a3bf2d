package server

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(61, 0, 0, handleDescribeProducers) }

// handleDescribeProducers answers DescribeProducers v0 (KIP-664) from the leader's
// producer state: every producer id the partition knows (idempotent and transactional),
// with its epoch, the last sequence and timestamp of its last batch, the coordinator
// epoch of its last marker and the first offset of its open transaction (-1 for those it
// does not have). Partition errors are the lookup's (UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER), after Kafka's READ on the topic (TOPIC_AUTHORIZATION_FAILED).
func handleDescribeProducers(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, pi := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = pi
			err := r.topicErr(kmsg.ACLOperationRead, t.Topic)
			var p *partition.Partition
			if err == nil {
				p, err = s.data.replicas.Lookup(t.Topic, pi, -1)
			}
			if err != nil {
				rp.ErrorCode = errorCode(err)
			} else {
				prods := p.Producers()
				slices.SortFunc(prods, func(a, b partition.ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
				for _, pr := range prods {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = pr.ProducerID, int32(pr.ProducerEpoch), pr.LastSequence
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pr.LastTimestamp, pr.CoordinatorEpoch, pr.CurrentTxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return now(resp)
}
