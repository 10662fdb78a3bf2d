package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

func init() { register(46, 0, 0, handleListPartitionReassignments) }

// handleListPartitionReassignments answers ListPartitionReassignments v0 (KIP-455) from
// this node's image (which follows the controller's within moments): the ongoing moves of
// the partitions asked for (null: every partition), with their replicas, adding and
// removing replicas; unknown topics and partitions and partitions not moving are left
// out, as Kafka's controller does. It needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED, top level).
func handleListPartitionReassignments(s *Server, r *request) reply {
	req := r.body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return now(resp)
	}
	var want map[string][]int32
	if req.Topics != nil {
		want = map[string][]int32{}
		for _, rt := range req.Topics {
			want[rt.Topic] = append(want[rt.Topic], rt.Partitions...)
		}
	}
	for _, m := range metadata.ListReassignments(s.image(), want) {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != m.Topic {
			st := kmsg.NewListPartitionReassignmentsResponseTopic()
			st.Topic = m.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		sp.Partition, sp.Replicas, sp.AddingReplicas, sp.RemovingReplicas = m.Partition, m.Replicas, m.Adding, m.Removing
		t := &resp.Topics[len(resp.Topics)-1]
		t.Partitions = append(t.Partitions, sp)
	}
	return now(resp)
}
