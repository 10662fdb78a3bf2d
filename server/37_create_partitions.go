package server

import (
	"cmp"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(37, 0, 3, handleCreatePartitions) }

// handleCreatePartitions answers CreatePartitions v0-v3 through the metadata store: a
// topic grows to Count partitions (never shrinks); an assignment, if given, must name
// registered brokers (on a single node: this broker), as many as the topic's replicas.
// Each topic needs ALTER (TOPIC_AUTHORIZATION_FAILED), as in Kafka; the partitions added
// count toward controller_mutation_rate (KIP-599; v3+ refused with
// THROTTLING_QUOTA_EXCEEDED while over it).
func handleCreatePartitions(s *Server, r *request) reply {
	req := r.body.(*kmsg.CreatePartitionsRequest)
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	var total int64
	for _, rt := range req.Topics {
		if t, ok := s.image().Topic(rt.Topic); ok {
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
		} else if err = cmp.Or(r.topicErr(kmsg.ACLOperationAlter, rt.Topic), s.quotas.mutationErr(r, req.Version >= 3)); err == nil {
			before := int32(0)
			if t, ok := s.image().Topic(rt.Topic); ok {
				before = t.NumPartitions()
			}
			if err = s.createPartitions(ctx, rt, req.ValidateOnly); err == nil && !req.ValidateOnly {
				s.quotas.mutated(r, rt.Count-before)
			}
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

func (s *Server) createPartitions(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	cmd := metadata.CreatePartitions{Topic: rt.Topic, Total: rt.Count, ValidateOnly: validateOnly}
	if rt.Assignment != nil {
		cmd.Assignments = make([][]int32, 0, len(rt.Assignment))
		for _, a := range rt.Assignment {
			cmd.Assignments = append(cmd.Assignments, append([]int32{}, a.Replicas...))
		}
	}
	return s.data.store.CreatePartitions(ctx, cmd)
}
