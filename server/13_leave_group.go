package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(13, 0, 5, handleLeaveGroup) }

// handleLeaveGroup answers LeaveGroup v0-v5 (v3+: several members, by member or
// instance ID). Leaving rebalances the group at once.
func handleLeaveGroup(s *Server, r *request) reply {
	req := r.body.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	c, err := s.groups()
	if err == nil {
		err = r.groupErr(kmsg.ACLOperationRead, req.Group)
	}
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	var members []group.LeaveMember
	if req.Version < 3 {
		members = []group.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
	}
	errs, err := c.Leave(req.Group, members)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	if req.Version < 3 {
		resp.ErrorCode = errorCode(errs[0])
		return now(resp)
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, errorCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return now(resp)
}
