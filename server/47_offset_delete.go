package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

// handleOffsetDelete answers OffsetDelete v0. As Kafka, it needs DELETE on the group
// (GROUP_AUTHORIZATION_FAILED) and READ on each topic (TOPIC_AUTHORIZATION_FAILED).
func handleOffsetDelete(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	c, err := s.groups()
	if err == nil {
		err = r.groupErr(kmsg.ACLOperationDelete, req.Group)
	}
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	var tps []group.TopicPartition
	denied := map[string]bool{} // topics without READ: TOPIC_AUTHORIZATION_FAILED
	for _, t := range req.Topics {
		if r.topicErr(kmsg.ACLOperationRead, t.Topic) != nil {
			denied[t.Topic] = true
			continue
		}
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
				rp.Partition = p.Partition
				if denied[t.Topic] {
					rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				} else {
					rp.ErrorCode = errorCode(errs[i])
					i++
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}
