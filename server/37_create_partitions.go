package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(37, 0, 3, handleCreatePartitions) }

// handleCreatePartitions answers CreatePartitions v0-v3: a topic grows to Count partitions
// (never shrinks); an assignment, if given, must name only this broker.
func handleCreatePartitions(s *Server, r *request) reply {
	req := r.body.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	var total int64
	for _, rt := range req.Topics {
		if t, ok := s.data.parts.Topic(rt.Topic); ok {
			total += int64(max(0, rt.Count-t.NumPartitions()))
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		if total > maxPartitionsPerRequest {
			err = errTooManyPartitions
		} else if seen[rt.Topic] > 1 {
			err = fmt.Errorf("%w: topic %s listed twice", kerr.InvalidRequest, rt.Topic)
		} else {
			err = s.createPartitions(rt, req.ValidateOnly)
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

func (s *Server) createPartitions(rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	t, ok := s.data.parts.Topic(rt.Topic)
	if !ok {
		return fmt.Errorf("%w: %s", partition.ErrUnknownTopic, rt.Topic)
	}
	if rt.Assignment != nil {
		if add := rt.Count - t.NumPartitions(); add > 0 && int32(len(rt.Assignment)) != add {
			return fmt.Errorf("%w: %d assignments for %d new partitions", kerr.InvalidReplicaAssignment, len(rt.Assignment), add)
		}
		for _, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != s.opts.NodeID {
				return fmt.Errorf("%w: replicas must be [%d], the only broker", kerr.InvalidReplicaAssignment, s.opts.NodeID)
			}
		}
	}
	return s.data.parts.AddPartitions(rt.Topic, rt.Count, validateOnly)
}
