package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(79, 0, 2, handleShareAcknowledge) }

// handleShareAcknowledge answers ShareAcknowledge v0-v2 (KIP-932; v2 IsRenewAck, the
// Renew type of KIP-1222): the member's acknowledgements, on its share session of this
// broker at the session's next epoch (epoch 0 is INVALID_SHARE_SESSION_EPOCH: sessions
// open with ShareFetch), or closing it (-1: the acknowledgements are applied, then the
// rest of what the member acquired through it is released). Each partition's result is
// its ErrorCode, answered once stored (share.Manager; see shareAck for the checks). The
// group needs READ (GROUP_AUTHORIZATION_FAILED). UNSUPPORTED_VERSION while share groups
// are not served.
func handleShareAcknowledge(s *Server, r *request) reply {
	req := r.body.(*kmsg.ShareAcknowledgeRequest)
	resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	fail := func(err error) reply {
		resp.ErrorCode = errorCode(err)
		msg := err.Error()
		resp.ErrorMessage = &msg
		return now(resp)
	}
	if !s.shareProtocol() {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return now(resp)
	}
	group, member := deref(req.GroupID), deref(req.MemberID)
	renew := req.Version >= 2 && req.IsRenewAck
	sh, err := s.shareService()
	switch {
	case err != nil:
	case r.groupErr(kmsg.ACLOperationRead, group) != nil:
		err = kerr.GroupAuthorizationFailed
	case member == "" || len(member) > 36:
		err = fmt.Errorf("%w: member id %q", share.ErrInvalidRequest, member)
	case req.ShareSessionEpoch == 0:
		err = fmt.Errorf("%w: share sessions open with ShareFetch", share.ErrInvalidShareSessionEpoch)
	}
	if err != nil {
		return fail(err)
	}
	resp.AcquisitionLockTimeoutMillis = int32(sh.config(group).RecordLockDuration.Milliseconds())
	var session []share.TopicPartition
	if req.ShareSessionEpoch == -1 {
		session, err = sh.sessions.Close(group, member)
	} else {
		_, err = sh.sessions.Update(group, member, req.ShareSessionEpoch, nil, nil)
	}
	if err != nil {
		return fail(err)
	}
	return later(func() kmsg.Response {
		for _, t := range req.Topics {
			rt := kmsg.NewShareAcknowledgeResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
				rp.Partition = p.Partition
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
				batches := make([]share.AckBatch, len(p.AcknowledgementBatches))
				for i, b := range p.AcknowledgementBatches {
					batches[i] = ackBatch(b.FirstOffset, b.LastOffset, b.AcknowledgeTypes)
				}
				if err := s.shareAck(r, sh, group, member, t.TopicID, p.Partition, batches, renew); err != nil {
					rp.ErrorCode = errorCode(err)
					msg := err.Error()
					rp.ErrorMessage = &msg
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if req.ShareSessionEpoch == -1 {
			sh.mgr.ReleaseIn(group, member, session)
		}
		return resp
	})
}
