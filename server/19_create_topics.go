package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

func init() { register(19, 0, 7, handleCreateTopics) }

// handleCreateTopics answers CreateTopics v0-v7 (v1+ validate-only) through the metadata store, whose rules
// check the request: the replication factor must be -1 (default.replication.factor) or
// at most the number of live brokers, partitions -1 means num.partitions, a replica
// assignment must name registered brokers (on a single node: this broker). v5+ returns
// the created topic's configs. Authorization is Kafka's: CREATE on the cluster or the
// topic (TOPIC_AUTHORIZATION_FAILED); the configs only with DESCRIBE_CONFIGS on the topic
// (else its config error code is TOPIC_AUTHORIZATION_FAILED). Created partitions count
// toward controller_mutation_rate (KIP-599; v6+ refused with THROTTLING_QUOTA_EXCEEDED
// while over it).
func handleCreateTopics(s *Server, r *request) reply {
	req := r.body.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	var total int64
	for _, rt := range req.Topics {
		total += int64(max(0, createPartitionCount(s, rt)))
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var err error
		var t *metadata.Topic
		if total > maxPartitionsPerRequest {
			st.ErrorCode, st.ErrorMessage = errorCode(errTooManyPartitions), errMessage(errTooManyPartitions)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("duplicate topic name in request: " + rt.Topic)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !r.mayCreateTopic(rt.Topic) {
			st.ErrorCode, st.ErrorMessage = kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr("Authorization failed.")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var note *string
		if err = s.quotas.mutationErr(r, req.Version >= 6); err == nil {
			t, note, err = s.createTopic(ctx, rt, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode = errorCode(err)
			st.ErrorMessage = errMessage(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !req.ValidateOnly {
			s.quotas.mutated(r, t.NumPartitions())
		}
		st.ErrorMessage = note
		st.TopicID = t.ID
		st.NumPartitions = t.NumPartitions()
		st.ReplicationFactor = int16(len(t.Partitions[0].Replicas))
		if r.topicErr(kmsg.ACLOperationDescribeConfigs, rt.Topic) != nil { // created, its configs not shown
			st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		for _, d := range config.DescribeTopic(s.opts.Settings, t.Configs, nil) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name = d.Setting.Name
			c.Value = kmsg.StringPtr(d.Value.Value)
			c.Source = int8(d.Value.Source)
			st.Configs = append(st.Configs, c)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

// maxPartitionsPerRequest bounds the partitions one CreateTopics or CreatePartitions
// request may create, over all its topics: a count from the wire must not make a 50-byte
// request create two billion partition directories. Kafka's controller refuses an
// operation of more than 10,000 records likewise (a record per partition).
const maxPartitionsPerRequest = 10_000

// errTooManyPartitions is Kafka's answer to an operation above that bound.
var errTooManyPartitions = fmt.Errorf("%w: Unable to perform excessively large batch operation (more than %d new partitions in one request)",
	kerr.PolicyViolation, maxPartitionsPerRequest)

// createPartitionCount is the partition count a request asks for, -1 resolved.
func createPartitionCount(s *Server, rt kmsg.CreateTopicsRequestTopic) int32 {
	if len(rt.ReplicaAssignment) > 0 {
		return int32(len(rt.ReplicaAssignment))
	}
	if rt.NumPartitions == -1 {
		return int32(s.data.broker.Int64("num.partitions"))
	}
	return rt.NumPartitions
}

// createTopic creates (or, validateOnly, checks) one topic of a CreateTopics request; note
// says which of its configs Strata ignores or stores without effect.
func (s *Server) createTopic(ctx context.Context, rt kmsg.CreateTopicsRequestTopic, validateOnly bool) (t *metadata.Topic, note *string, err error) {
	if err := metadata.ValidateTopicName(rt.Topic); err != nil {
		return nil, nil, err
	}
	cmd := metadata.CreateTopic{Name: rt.Topic, Partitions: rt.NumPartitions, ReplicationFactor: rt.ReplicationFactor, ValidateOnly: validateOnly}
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return nil, nil, fmt.Errorf("%w: both a replica assignment and partitions or replication factor were given", kerr.InvalidRequest)
		}
		n := int32(len(rt.ReplicaAssignment))
		cmd.Assignments = make([][]int32, n)
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || a.Partition >= n || cmd.Assignments[a.Partition] != nil {
				return nil, nil, fmt.Errorf("%w: partitions of the assignment must be 0..%d, each once", kerr.InvalidReplicaAssignment, n-1)
			}
			cmd.Assignments[a.Partition] = append([]int32{}, a.Replicas...)
		}
	}
	cmd.Configs = make(map[string]*string, len(rt.Configs))
	for _, c := range rt.Configs {
		cmd.Configs[c.Name] = c.Value
	}
	note = s.configNote("topic", rt.Topic, config.DropRemovedTopic(cmd.Configs), config.NoEffectTopic(cmd.Configs))
	t, err = s.data.store.CreateTopic(ctx, cmd)
	if err != nil {
		return nil, nil, err
	}
	return t, note, nil
}

// configNote logs one warning per topic or group config (kind) of resource name that
// Strata ignores (removed from Kafka) or stores without effect, and returns them as the
// note a successful answer carries in its error message (Kafka's answers have room for
// one); nil when there are none.
func (s *Server) configNote(kind, name string, ignored, noEffect []config.Ignored) *string {
	var parts []string
	for _, ig := range ignored {
		s.log.Warn(ig.String(), kind, name, "setting", ig.Name)
		parts = append(parts, ig.String())
	}
	for _, ig := range noEffect {
		s.log.Warn(ig.String(), kind, name, "setting", ig.Name)
		parts = append(parts, ig.Name+" is stored but "+ig.Reason)
	}
	if len(parts) == 0 {
		return nil
	}
	return kmsg.StringPtr(strings.Join(parts, "; "))
}
