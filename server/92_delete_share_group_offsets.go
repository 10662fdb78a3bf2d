package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(92, 0, 0, handleDeleteShareGroupOffsets) }

// handleDeleteShareGroupOffsets answers DeleteShareGroupOffsets v0 (KIP-932) as Kafka
// 4.2's broker does: the group needs DELETE (GROUP_AUTHORIZATION_FAILED); an id that is
// no share group (none, or a classic or consumer group) is GROUP_ID_NOT_FOUND; a share
// group with members NON_EMPTY_GROUP. Per topic: it needs READ
// (TOPIC_AUTHORIZATION_FAILED), an unknown one is UNKNOWN_TOPIC_OR_PARTITION; the state
// of each of its partitions is deleted from __share_group_state (tombstones), so the
// group's next member starts there from share.auto.offset.reset; a topic the group has
// no state for gets no row (as Kafka's). UNSUPPORTED_VERSION while share groups are not
// served. On a cluster it is served by the group's coordinator (NOT_COORDINATOR
// elsewhere, as Kafka's), which deletes the states at their share coordinators
// (DeleteShareGroupState).
func handleDeleteShareGroupOffsets(s *Server, r *request) reply {
	req := r.body.(*kmsg.DeleteShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMessage(err)
		resp.Topics = nil
		return resp
	}
	if !s.shareProtocol() {
		return now(fail(kerr.UnsupportedVersion))
	}
	sh, err := s.shareService()
	if err == nil && r.groupErr(kmsg.ACLOperationDelete, req.GroupID) != nil {
		err = kerr.GroupAuthorizationFailed
	}
	if err == nil {
		err = s.shareCoordinatorErr(req.GroupID)
	}
	if err != nil {
		return now(fail(err))
	}
	return later(func() kmsg.Response {
		keys, err := sh.stateKeys(req.GroupID)
		if err != nil {
			return fail(err)
		}
		if _, ok := sh.groups.Describe(req.GroupID); !ok && len(keys) == 0 || s.isOtherGroup(req.GroupID) {
			return fail(fmt.Errorf("%w: %s is not a share group", share.ErrGroupNotFound, req.GroupID))
		}
		if err := sh.groups.CreateEmpty(req.GroupID); err != nil {
			return fail(err)
		}
		var del []share.Key
		ids := map[[16]byte]bool{}
		for _, rt := range req.Topics {
			ot := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
			ot.Topic = rt.Topic
			t, known := s.image().Topic(rt.Topic)
			var terr error
			switch {
			case r.topicErr(kmsg.ACLOperationRead, rt.Topic) != nil:
				terr = kerr.TopicAuthorizationFailed
			case !known:
				terr = kerr.UnknownTopicOrPartition
			}
			if terr != nil {
				ot.ErrorCode, ot.ErrorMessage = errorCode(terr), errMessage(terr)
				resp.Topics = append(resp.Topics, ot)
				continue
			}
			ot.TopicID = t.ID
			n := len(del)
			for _, k := range keys {
				if k.TopicID == t.ID && !ids[k.TopicID] {
					del = append(del, k)
				}
			}
			if len(del) > n {
				ids[t.ID] = true
				resp.Topics = append(resp.Topics, ot)
			}
		}
		if err := sh.deleteOffsets(r, del); err != nil {
			for i := range resp.Topics {
				if ot := &resp.Topics[i]; ids[ot.TopicID] {
					ot.ErrorCode, ot.ErrorMessage = errorCode(err), errMessage(err)
				}
			}
		}
		return resp
	})
}
