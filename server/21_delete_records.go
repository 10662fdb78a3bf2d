package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(21, 0, 2, handleDeleteRecords) }

// handleDeleteRecords answers DeleteRecords v0-v2: each partition's log start offset
// moves to the requested offset (-1: the high watermark); an offset past the high
// watermark is OFFSET_OUT_OF_RANGE. Whole segments below the new start are deleted at
// once; the rest of the records below it just stop being readable. Each topic needs
// DELETE (TOPIC_AUTHORIZATION_FAILED), as in Kafka.
func handleDeleteRecords(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			if err := r.topicErr(kmsg.ACLOperationDelete, rt.Topic); err != nil { // before existence
				sp.ErrorCode = errorCode(err)
			} else if p, err := s.data.replicas.Lookup(rt.Topic, rp.Partition, -1); err != nil {
				sp.ErrorCode = errorCode(err)
			} else if low, err := p.DeleteRecords(rp.Offset); err != nil {
				sp.ErrorCode = errorCode(err)
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
