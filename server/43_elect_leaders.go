package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(43, 0, 2, handleElectLeaders) }

// electionCodes are the Kafka error codes of the election outcomes.
var electionCodes = map[metadata.ElectionOutcome]int16{
	metadata.Elected:                     0,
	metadata.ElectionNotNeeded:           kerr.ElectionNotNeeded.Code,
	metadata.PreferredLeaderNotAvailable: kerr.PreferredLeaderNotAvailable.Code,
	metadata.EligibleLeadersNotAvailable: kerr.EligibleLeadersNotAvailable.Code,
	metadata.UnknownPartition:            kerr.UnknownTopicOrPartition.Code,
}

// handleElectLeaders answers ElectLeaders v0-v2 (KIP-183, KIP-460) through the
// controller (forwarded like every metadata command): preferred elections (v0, and
// ElectionType 0) make each partition's first replica its leader when it is live and in
// sync; unclean ones (ElectionType 1) give a partition without a leader an in-sync
// replica, else any live replica alone in the ISR. Per partition: ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers. A null topic list elects every partition
// and answers only those whose election was needed. It needs ALTER on the cluster
// (CLUSTER_AUTHORIZATION_FAILED, top level from v1 and for every partition), as in Kafka.
func handleElectLeaders(s *Server, r *request) reply {
	req := r.body.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	fail := func(code int16) reply {
		if req.Version >= 1 {
			resp.ErrorCode = code
		}
		for _, rt := range req.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return now(resp)
	}
	if !r.authorized(kmsg.ACLOperationAlter, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return fail(kerr.ClusterAuthorizationFailed.Code)
	}
	cmd := metadata.ElectLeaders{Type: metadata.ElectPreferred}
	if req.Version >= 1 {
		switch req.ElectionType {
		case 0:
		case 1:
			cmd.Type = metadata.ElectUnclean
		default:
			return fail(kerr.InvalidRequest.Code)
		}
	}
	if req.Topics != nil {
		cmd.Partitions = map[string][]int32{}
		for _, rt := range req.Topics {
			cmd.Partitions[rt.Topic] = append(cmd.Partitions[rt.Topic], rt.Partitions...)
		}
	}
	ctx, cancel := s.controllerCtx(r, req.TimeoutMillis)
	defer cancel()
	results, err := s.data.store.ElectLeaders(ctx, cmd)
	if err != nil {
		return fail(errorCode(err))
	}
	byTopic := map[string]int{}
	for _, res := range results {
		i, ok := byTopic[res.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[res.Topic] = i
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = res.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewElectLeadersResponseTopicPartition()
		sp.Partition, sp.ErrorCode = res.Partition, electionCodes[res.Outcome]
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
	}
	return now(resp)
}
