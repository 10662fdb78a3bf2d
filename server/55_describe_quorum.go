package server

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata/raft"
)

func init() { register(describeQuorumKey, 0, 2, handleDescribeQuorum) }

// clusterMetadataTopic is the name of the metadata log's topic in DescribeQuorum (Kafka's,
// a single partition 0); on disk it is clusterMetadataDir.
const clusterMetadataTopic = clusterMetadataDir

// handleDescribeQuorum answers DescribeQuorum v0-v2 on a cluster node with this node's
// view of the controller quorum (metadata/raft's Status), so that `strata cluster status`
// can ask every node: partition 0 of __cluster_metadata with the leader this node knows
// (-1 none) and the Raft term as its leader epoch, this node's commit index as the high
// watermark, the voters of the Raft configuration — this node's log end offset (its last
// Raft index) and -1 for the others, whose progress hashicorp/raft does not tell — and
// no observers; v2 also each voter's quorum address (listener CONTROLLER). Kafka's
// brokers forward the request to the active controller, which alone answers. Needs
// DESCRIBE on the cluster. A single node (not advertised there) has no quorum:
// INVALID_REQUEST.
func handleDescribeQuorum(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	fail := func(err *kerr.Error, msg string) reply {
		resp.ErrorCode, resp.ErrorMessage = err.Code, &msg
		return now(resp)
	}
	if !r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource) {
		return fail(kerr.ClusterAuthorizationFailed, "DescribeQuorum needs DESCRIBE on the cluster")
	}
	st, ok := s.data.store.(*raft.Store)
	if !ok {
		return fail(kerr.InvalidRequest, "this broker is a single node, not a node of a cluster (controller.quorum.voters)")
	}
	status, err := st.Status()
	if err != nil {
		return fail(kerr.UnknownServerError, err.Error())
	}
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			if rt.Topic != clusterMetadataTopic || rp.Partition != 0 {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.LeaderID, p.LeaderEpoch, p.HighWatermark = status.Leader, int32(status.Term), int64(status.CommitIndex)
			for _, v := range status.Voters {
				rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
				rs.ReplicaID, rs.LogEndOffset = v.ID, -1
				if v.ID == status.Node {
					rs.LogEndOffset = int64(status.LastIndex)
				}
				p.CurrentVoters = append(p.CurrentVoters, rs)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	for _, v := range status.Voters {
		host, port, err := net.SplitHostPort(v.Addr)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil {
			continue
		}
		node := kmsg.NewDescribeQuorumResponseNode()
		node.NodeID = v.ID
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = "CONTROLLER", host, uint16(n)
		node.Listeners = append(node.Listeners, l)
		resp.Nodes = append(resp.Nodes, node)
	}
	return now(resp)
}
