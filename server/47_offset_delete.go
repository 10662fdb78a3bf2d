package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

// handleOffsetDelete answers OffsetDelete v0.
func handleOffsetDelete(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	c, err := s.groups()
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	var tps []group.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	return later(func() kmsg.Response {
		errs, err := c.DeleteOffsets(req.Group, tps)
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return resp
		}
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, errorCode(errs[i])
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}
