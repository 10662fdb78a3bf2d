package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(85, 0, 1, handleWriteShareGroupState) }

// handleWriteShareGroupState answers WriteShareGroupState v0-v1 (KIP-932, inter-broker:
// a topic partition's leader stores changes of its share-partitions, shareStates):
// every partition of the request is stored with one share.Store.Write (one batch per
// partition of __share_group_state) and answered once committed, every partition with
// the write's error: FENCED_LEADER_EPOCH for a former leader's write,
// FENCED_STATE_EPOCH for a write of a state reset since it was read, INVALID_REQUEST
// "Write operation on uninitialized share partition not allowed." for a share-partition
// without a state (never initialized, or deleted since: as Kafka's share coordinator),
// INVALID_REQUEST for the first write of an initialized state without a start offset,
// NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS (see shareStateStore for the rest). Not advertised to
// clients.
func handleWriteShareGroupState(s *Server, r *request) reply {
	req := r.body.(*kmsg.WriteShareGroupStateRequest)
	store, serr := s.shareStateStore(r)
	var us []share.Update
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			u := share.Update{Key: shareKey(req.GroupID, t.TopicID, p.Partition), StateEpoch: p.StateEpoch, LeaderEpoch: p.LeaderEpoch, Start: p.StartOffset}
			for _, b := range p.StateBatches {
				u.Batches = append(u.Batches, share.StateBatch{First: b.FirstOffset, Last: b.LastOffset, State: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
			}
			us = append(us, u)
		}
	}
	answer := func(err error) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewWriteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode, rp.ErrorMessage = shareStateErr(err)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if serr != nil || len(us) == 0 {
		return now(answer(serr))
	}
	return later(func() kmsg.Response { return answer(store.Write(us)) })
}
