package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(87, 0, 1, handleReadShareGroupStateSummary) }

// handleReadShareGroupStateSummary answers ReadShareGroupStateSummary v0-v1 (KIP-932,
// inter-broker: what DescribeShareGroupOffsets reports of a share-partition): its
// stored start offset and state epoch, start offset -1 when none is stored; (v1) the
// delivery complete count, its records above the start offset Acknowledged or Archived
// (KIP-1226); leader epoch -1: not kept. Errors as ReadShareGroupState's.
// Not advertised to clients.
func handleReadShareGroupStateSummary(s *Server, r *request) reply {
	req := r.body.(*kmsg.ReadShareGroupStateSummaryRequest)
	resp := req.ResponseKind().(*kmsg.ReadShareGroupStateSummaryResponse)
	store, serr := s.shareStateStore(r)
	for _, t := range req.Topics {
		rt := kmsg.NewReadShareGroupStateSummaryResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateSummaryResponseTopicPartition()
			rp.Partition, rp.StartOffset, rp.StateEpoch, rp.LeaderEpoch, rp.DeliveryCompleteCount = p.Partition, -1, -1, -1, -1
			err := serr
			if err == nil {
				st, ok, rerr := store.Read(shareKey(req.GroupID, t.TopicID, p.Partition))
				if err = rerr; err == nil && ok {
					rp.StartOffset, rp.StateEpoch, rp.DeliveryCompleteCount = st.Start, st.StateEpoch, int32(st.Summary().Done)
					if st.Start == share.Uninitialized {
						rp.DeliveryCompleteCount = -1 // initialized, never written: as Kafka's
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
