package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(16, 0, 5, handleListGroups) }

// handleListGroups answers ListGroups v0-v5 (v4+: states filter, v5+: types filter).
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
	for _, l := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}
