package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(15, 0, 5, handleDescribeGroups) }

// handleDescribeGroups answers DescribeGroups v0-v5. A group that does not exist is
// described as Dead with no error, as Kafka does before v6. Each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED); v3+ report the group's authorized operations on request.
func handleDescribeGroups(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c, err := s.groups()
	if err != nil {
		for _, g := range req.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, errorCode(err)
			resp.Groups = append(resp.Groups, rg)
		}
		return now(resp)
	}
	for _, d := range c.DescribeGroups(req.Groups) {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = d.Group
		if err := r.groupErr(kmsg.ACLOperationDescribe, d.Group); err != nil {
			d.Err = err
		} else if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = r.authorizedOperations(kmsg.ACLResourceTypeGroup, d.Group, groupOperations)
		}
		if d.Err != nil {
			rg.ErrorCode = errorCode(d.Err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State = d.StateName
		rg.ProtocolType = d.ProtocolType
		rg.Protocol = d.Protocol
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if rm.ProtocolMetadata == nil {
				rm.ProtocolMetadata = []byte{}
			}
			if rm.MemberAssignment == nil {
				rm.MemberAssignment = []byte{}
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}
