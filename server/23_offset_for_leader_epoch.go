package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(23, 2, 4, handleOffsetForLeaderEpoch) }

// handleOffsetForLeaderEpoch answers OffsetForLeaderEpoch v2-v4 (consumers validating
// their position, KIP-320). A single node has one leader epoch, 0: any epoch up to it
// ends at the log end offset; a newer requested epoch gets leader epoch and end offset
// -1 (unknown), as Kafka answers; a CurrentLeaderEpoch other than 0 (or -1) is
// FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer.
func handleOffsetForLeaderEpoch(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	replica := r.authorized(kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, ClusterResource)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		authErr := r.topicErr(kmsg.ACLOperationDescribe, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			if !replica && authErr != nil {
				sp.ErrorCode = errorCode(authErr)
			} else if p, err := s.data.replicas.Lookup(rt.Topic, rp.Partition, rp.CurrentLeaderEpoch); err != nil {
				sp.ErrorCode = errorCode(err)
			} else if e, end, err := p.EndOffsetForEpoch(rp.LeaderEpoch); err == nil {
				sp.LeaderEpoch, sp.EndOffset = e, end
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
