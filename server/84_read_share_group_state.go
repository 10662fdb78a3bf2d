package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(84, 0, 0, handleReadShareGroupState) }

// handleReadShareGroupState answers ReadShareGroupState v0 (KIP-932, inter-broker: the
// leader of a topic partition reads a share-partition's state from its share
// coordinator, shareStates): the stored start offset (-1 for a state the group
// coordinator initialized that no leader wrote yet), state epoch and state batches;
// INVALID_REQUEST "Read operation on uninitialized share partition not allowed." when
// none is stored (as Kafka's share coordinator); FENCED_LEADER_EPOCH for a LeaderEpoch
// older than the share-partition's, which otherwise becomes its epoch
// (share.Store.ReadAt; -1 reads without).
// NOT_COORDINATOR when this broker does not lead the key's partition of
// __share_group_state, COORDINATOR_LOAD_IN_PROGRESS while it replays it; see
// shareStateStore for the rest. Not advertised to clients.
func handleReadShareGroupState(s *Server, r *request) reply {
	req := r.body.(*kmsg.ReadShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.ReadShareGroupStateResponse)
	store, serr := s.shareStateStore(r)
	for _, t := range req.Topics {
		rt := kmsg.NewReadShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
			rp.Partition, rp.StartOffset, rp.StateEpoch = p.Partition, -1, -1
			err := serr
			if err == nil {
				var st share.Stored
				var ok bool
				st, ok, err = store.ReadAt(shareKey(req.GroupID, t.TopicID, p.Partition), p.LeaderEpoch)
				if err == nil && !ok {
					err = fmt.Errorf("%w: %s", share.ErrInvalidRequest, share.UninitializedRead)
				}
				if err == nil {
					rp.StateEpoch, rp.StartOffset = st.StateEpoch, st.Start
					for _, b := range st.Batches {
						sb := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
						sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.First, b.Last, int8(b.State), b.DeliveryCount
						rp.StateBatches = append(rp.StateBatches, sb)
					}
				}
			}
			rp.ErrorCode, rp.ErrorMessage = shareStateErr(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return now(resp)
}
