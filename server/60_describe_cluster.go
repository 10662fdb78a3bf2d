package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(60, 0, 1, handleDescribeCluster) }

// handleDescribeCluster answers DescribeCluster v0-v1: this broker is the whole cluster
// and its controller, for either endpoint type.
func handleDescribeCluster(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if resp.EndpointType == 0 {
		resp.EndpointType = 1 // brokers
	}
	resp.ClusterID = s.data.clusterID
	resp.ControllerID = s.opts.NodeID
	host, port := s.advertised(r)
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = s.opts.NodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	resp.ClusterAuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = r.authorizedOperations(kmsg.ACLResourceTypeCluster, ClusterResource, clusterOperations)
	}
	return now(resp)
}
