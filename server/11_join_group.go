package server

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(11, 0, 9, handleJoinGroup) }

// handleJoinGroup answers JoinGroup v0-v9. The join waits for the rebalance, so the
// answer comes later, off the connection's read loop. A share group's id is
// INCONSISTENT_GROUP_PROTOCOL, as Kafka's.
func handleJoinGroup(s *Server, r *request) reply {
	req := r.body.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	c, err := s.groups()
	if err == nil {
		err = r.groupErr(kmsg.ACLOperationRead, req.Group)
	}
	if err == nil && s.isShareGroup(req.Group) {
		// As Kafka's: a share group's id is no classic group's.
		err, resp.MemberID = kerr.InconsistentGroupProtocol, ""
	}
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return now(resp)
	}
	jr := &group.JoinRequest{
		Group:                req.Group,
		MemberID:             req.MemberID,
		InstanceID:           req.InstanceID,
		ClientID:             r.hdr.ClientID,
		ClientHost:           clientHost(r),
		ProtocolType:         req.ProtocolType,
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	ctx := r.ctx
	return later(func() kmsg.Response {
		res, err := c.Join(ctx, jr)
		resp.ErrorCode = errorCode(err)
		resp.MemberID = res.MemberID
		if err != nil {
			if !errors.Is(err, group.ErrMemberIDRequired) {
				resp.MemberID = req.MemberID
			}
			return resp
		}
		resp.Generation = res.Generation
		pt, proto := res.ProtocolType, res.Protocol
		resp.ProtocolType = &pt
		resp.Protocol = &proto
		resp.LeaderID = res.LeaderID
		resp.SkipAssignment = res.SkipAssignment
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		return resp
	})
}
