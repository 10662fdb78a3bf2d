package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(12, 0, 4, handleHeartbeat) }

// handleHeartbeat answers Heartbeat v0-v4. It needs READ on the group
// (GROUP_AUTHORIZATION_FAILED), as JoinGroup, SyncGroup and LeaveGroup do.
func handleHeartbeat(s *Server, r *request) reply {
	req := r.body.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	c, err := s.groups()
	if err == nil {
		err = r.groupErr(kmsg.ACLOperationRead, req.Group)
	}
	if err == nil {
		err = c.Heartbeat(&group.HeartbeatRequest{Group: req.Group, Generation: req.Generation,
			MemberID: req.MemberID, InstanceID: req.InstanceID})
	}
	resp.ErrorCode = errorCode(err)
	return now(resp)
}
