package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(83, 0, 0, handleInitializeShareGroupState) }

// handleInitializeShareGroupState answers InitializeShareGroupState v0 (KIP-932,
// inter-broker: AlterShareGroupOffsets on a group coordinator gives share-partitions
// fresh states at their share coordinators, shareStates.Reset): every partition of the
// request is stored with one share.Store.Reset at its start offset, nothing in flight,
// the next state epoch (the request's StateEpoch is not used: the store takes the next
// of its own), and answered once committed, every partition with the reset's error.
// Start offset -1 is the group coordinator's initialization of a share-partition it
// assigns (shareStates.Initialize): stored with start -1 unless a state is, which is
// kept. INVALID_REQUEST for a start offset below -1, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS (see shareStateStore for the rest). Not advertised to
// clients.
func handleInitializeShareGroupState(s *Server, r *request) reply {
	req := r.body.(*kmsg.InitializeShareGroupStateRequest)
	store, serr := s.shareStateStore(r)
	starts := map[share.Key]int64{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			starts[shareKey(req.GroupID, t.TopicID, p.Partition)] = p.StartOffset
		}
	}
	answer := func(err error) kmsg.Response {
		resp := req.ResponseKind().(*kmsg.InitializeShareGroupStateResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewInitializeShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode, rp.ErrorMessage = shareStateErr(err)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if serr != nil || len(starts) == 0 {
		return now(answer(serr))
	}
	return later(func() kmsg.Response { return answer(store.Reset(starts)) })
}
