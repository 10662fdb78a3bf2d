package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(16, 0, 5, handleListGroups) }

// handleListGroups answers ListGroups v0-v5 (v4+: states filter, v5+: types filter).
// As Kafka, DESCRIBE on the cluster lists every group, otherwise only the groups the
// principal may DESCRIBE.
func handleListGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c, err := s.groups()
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	groups, err := c.ListGroups(req.StatesFilter, req.TypesFilter)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	all := r.authorized(kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, ClusterResource)
	for _, l := range groups {
		if !all && r.groupErr(kmsg.ACLOperationDescribe, l.Group) != nil {
			continue // without DESCRIBE on the cluster, the groups the principal may describe
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}
