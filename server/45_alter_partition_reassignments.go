package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(45, 0, 1, handleAlterPartitionReassignments) }

// reassignmentCodes are the Kafka error codes of the reassignment outcomes.
var reassignmentCodes = map[metadata.ReassignmentOutcome]int16{
	metadata.Reassigned:                           0,
	metadata.NoReassignmentInProgress:             kerr.NoReassignmentInProgress.Code,
	metadata.ReassignmentInvalid:                  kerr.InvalidReplicaAssignment.Code,
	metadata.ReassignmentUnknownPartition:         kerr.UnknownTopicOrPartition.Code,
	metadata.ReassignmentChangesReplicationFactor: kerr.InvalidReplicationFactor.Code,
}

// handleAlterPartitionReassignments answers AlterPartitionReassignments v0-1 (KIP-455,
// KIP-860) through the controller (forwarded like every metadata command): a partition's
// target replicas start its move (the new replicas fetch from the leader; once they are
// all in the ISR the controller makes the target the replicas, and the removed brokers
// delete their copies); null replicas cancel a move. Per partition
// NO_REASSIGNMENT_IN_PROGRESS, INVALID_REPLICA_ASSIGNMENT, UNKNOWN_TOPIC_OR_PARTITION,
// INVALID_REPLICATION_FACTOR (v1, AllowReplicationFactorChange false), as Kafka answers.
// It needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED, top level).
func handleAlterPartitionReassignments(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	fail := func(code int16) reply {
		resp.ErrorCode = code
		return now(resp)
	}
	if !r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return fail(kerr.ClusterAuthorizationFailed.Code)
	}
	cmd := metadata.AlterReassignments{Partitions: map[string]map[int32][]int32{}, KeepReplicationFactor: req.Version >= 1 && !req.AllowReplicationFactorChange}
	for _, rt := range req.Topics {
		if cmd.Partitions[rt.Topic] == nil {
			cmd.Partitions[rt.Topic] = map[int32][]int32{}
		}
		for _, rp := range rt.Partitions {
			cmd.Partitions[rt.Topic][rp.Partition] = rp.Replicas
		}
	}
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	results, err := s.data.store.AlterReassignments(ctx, cmd)
	if err != nil {
		return fail(errorCode(err))
	}
	byTopic := map[string]int{}
	for _, res := range results {
		i, ok := byTopic[res.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[res.Topic] = i
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = res.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		sp.Partition, sp.ErrorCode = res.Partition, reassignmentCodes[res.Outcome]
		if res.Message != "" {
			sp.ErrorMessage = &res.Message
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
	}
	return now(resp)
}
