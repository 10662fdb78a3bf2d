package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(20, 0, 6, handleDeleteTopics) }

// handleDeleteTopics answers DeleteTopics v0-v6 (by name; v6 also by topic id). Deleting a
// topic closes its partitions and removes their files before the answer. With
// delete.topic.enable=false every topic is refused, as Kafka's controller does:
// TOPIC_DELETION_DISABLED, INVALID_REQUEST before v3. Authorization is Kafka's: DELETE on
// the topic (TOPIC_AUTHORIZATION_FAILED, before its existence); a topic id whose topic
// the principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED without its name. Deleted
// partitions count toward controller_mutation_rate (KIP-599; v5+ refused with
// THROTTLING_QUOTA_EXCEEDED while over it).
func handleDeleteTopics(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteTopicsRequest)
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	topics := req.Topics
	if req.Version < 6 {
		topics = nil
		for _, name := range req.TopicNames {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			topics = append(topics, rt)
		}
	}
	disabled := kerr.TopicDeletionDisabled
	if req.Version < 3 {
		disabled = kerr.InvalidRequest
	}
	for _, rt := range topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *metadata.Topic
		switch {
		case !s.data.broker.Bool("delete.topic.enable"):
			st.ErrorCode = disabled.Code
			st.ErrorMessage = kmsg.StringPtr("topic deletion is disabled (delete.topic.enable=false)")
			resp.Topics = append(resp.Topics, st)
			continue
		case rt.Topic != nil && rt.TopicID != [16]byte{}:
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("give a topic name or a topic id, not both")
			resp.Topics = append(resp.Topics, st)
			continue
		case rt.Topic == nil:
			var ok bool
			if t, ok = s.image().TopicByID(rt.TopicID); !ok {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
			if err := r.topicErr(kmsg.ACLOperationDescribe, t.Name); err != nil { // ids are not secret, names are
				st.ErrorCode = errorCode(err)
				resp.Topics = append(resp.Topics, st)
				continue
			}
			st.Topic = kmsg.StringPtr(t.Name)
			if err := r.topicErr(kmsg.ACLOperationDelete, t.Name); err != nil {
				st.ErrorCode = errorCode(err)
				resp.Topics = append(resp.Topics, st)
				continue
			}
		default:
			var ok bool
			if err := r.topicErr(kmsg.ACLOperationDelete, *rt.Topic); err != nil { // before existence
				st.ErrorCode = errorCode(err)
				resp.Topics = append(resp.Topics, st)
				continue
			}
			if t, ok = s.image().Topic(*rt.Topic); !ok {
				err := fmt.Errorf("%w: %s", metadata.ErrUnknownTopic, *rt.Topic)
				st.ErrorCode, st.ErrorMessage = errorCode(err), errMessage(err)
				resp.Topics = append(resp.Topics, st)
				continue
			}
			st.TopicID = t.ID
		}
		err := s.quotas.mutationErr(r, req.Version >= 5)
		if err == nil {
			err = s.data.store.DeleteTopic(ctx, t.ID)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			st.ErrorMessage = errMessage(err)
		} else {
			s.quotas.mutated(r, t.NumPartitions())
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
