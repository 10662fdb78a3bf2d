package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(8, 2, 9, handleOffsetCommit) }

// handleOffsetCommit answers OffsetCommit v2-v9. The commit is durable (fsynced to
// __consumer_offsets) before the answer, which therefore comes later.
func handleOffsetCommit(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := &group.CommitRequest{Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			le := p.LeaderEpoch
			if req.Version < 6 {
				le = -1
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{Topic: t.Topic, Partition: p.Partition,
				Offset: p.Offset, LeaderEpoch: le, Metadata: p.Metadata})
		}
	}
	fill := func(errs []error, err error) kmsg.Response {
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				if err != nil {
					rp.ErrorCode = errorCode(err)
				} else {
					rp.ErrorCode = errorCode(errs[i])
				}
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	c, err := s.groups()
	if err != nil {
		return now(fill(nil, err))
	}
	return later(func() kmsg.Response {
		errs, err := c.Commit(cr)
		return fill(errs, err)
	})
}
