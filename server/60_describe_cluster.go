package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(60, 0, 1, handleDescribeCluster) }

// handleDescribeCluster answers DescribeCluster v0-v1 from the metadata image: its live
// brokers and its controller (on a single node: this broker), for either endpoint type.
func handleDescribeCluster(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if resp.EndpointType == 0 {
		resp.EndpointType = 1 // brokers
	}
	im := s.image()
	resp.ClusterID = im.ClusterID()
	resp.ControllerID = im.Controller()
	for _, b := range liveBrokers(im, listenerName(r)) {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = b.id, b.Host, b.Port, b.rack
		resp.Brokers = append(resp.Brokers, db)
	}
	resp.ClusterAuthorizedOperations = authorizedOpsUnset
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = r.clusterAuthorizedOperations()
	}
	return now(resp)
}
