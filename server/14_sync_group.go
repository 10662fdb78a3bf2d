package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(14, 0, 5, handleSyncGroup) }

// handleSyncGroup answers SyncGroup v0-v5; members other than the leader wait for the
// leader's assignment, so the answer comes later.
func handleSyncGroup(s *Server, r *request) reply {
	req := r.body.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.MemberAssignment = []byte{}
	c, err := s.groups()
	if err == nil {
		err = r.groupErr(kmsg.ACLOperationRead, req.Group)
	}
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	sr := &group.SyncRequest{
		Group:        req.Group,
		Generation:   req.Generation,
		MemberID:     req.MemberID,
		InstanceID:   req.InstanceID,
		ProtocolType: req.ProtocolType,
		Protocol:     req.Protocol,
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	ctx := r.ctx
	return later(func() kmsg.Response {
		res, err := c.Sync(ctx, sr)
		resp.ErrorCode = errorCode(err)
		if err != nil {
			return resp
		}
		pt, proto := res.ProtocolType, res.Protocol
		resp.ProtocolType, resp.Protocol = &pt, &proto
		if res.Assignment != nil {
			resp.MemberAssignment = res.Assignment
		}
		return resp
	})
}
