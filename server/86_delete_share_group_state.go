package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(86, 0, 0, handleDeleteShareGroupState) }

// handleDeleteShareGroupState answers DeleteShareGroupState v0 (KIP-932, inter-broker:
// a deleted share group's states are deleted at their coordinators, shareStates): the
// states are tombstoned with one share.Store.Delete (keys without a state skipped),
// every partition answered with its error (see shareStateStore). Not advertised to
// clients.
func handleDeleteShareGroupState(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteShareGroupStateRequest)
	store, serr := s.shareStateStore(r)
	var keys []share.Key
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			keys = append(keys, shareKey(req.GroupID, t.TopicID, p.Partition))
		}
	}
	answer := func(err error) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewDeleteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode, rp.ErrorMessage = shareStateErr(err)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if serr != nil || len(keys) == 0 {
		return now(answer(serr))
	}
	return later(func() kmsg.Response { return answer(store.Delete(keys)) })
}
