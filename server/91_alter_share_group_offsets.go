package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(91, 0, 0, handleAlterShareGroupOffsets) }

// handleAlterShareGroupOffsets answers AlterShareGroupOffsets v0 (KIP-932) as Kafka
// 4.2's broker does: the group needs READ (GROUP_AUTHORIZATION_FAILED); a classic or
// consumer group of that id is GROUP_ID_NOT_FOUND; a share group with members
// NON_EMPTY_GROUP; a share group that does not exist is created (empty). Per partition:
// the topic needs READ (TOPIC_AUTHORIZATION_FAILED), an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION, a negative start offset INVALID_REQUEST (Strata's check);
// the others get a fresh state at the start offset, nothing in flight, delivery counts
// reset, stored in __share_group_state (share.Store.Reset), answered once stored.
// UNSUPPORTED_VERSION while share groups are not served. On a cluster it is served by
// the group's coordinator (NOT_COORDINATOR elsewhere, as Kafka's), which stores the new
// states at their share coordinators (InitializeShareGroupState).
func handleAlterShareGroupOffsets(s *Server, r *request) reply {
	req := r.body.(*kmsg.AlterShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	fail := func(err error) reply {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errMessage(err)
		return now(resp)
	}
	if !s.shareProtocol() {
		return fail(kerr.UnsupportedVersion)
	}
	sh, err := s.shareService()
	if err == nil && r.groupErr(kmsg.ACLOperationRead, req.GroupID) != nil {
		err = kerr.GroupAuthorizationFailed
	}
	if err == nil {
		err = s.shareCoordinatorErr(req.GroupID)
	}
	switch {
	case err != nil:
	case s.isOtherGroup(req.GroupID):
		err = fmt.Errorf("%w: group %s is not a share group", share.ErrGroupNotFound, req.GroupID)
	default:
		err = sh.groups.CreateEmpty(req.GroupID)
	}
	if err != nil {
		return fail(err)
	}
	starts := map[share.Key]int64{}
	var stored []*kmsg.AlterShareGroupOffsetsResponseTopicPartition // answered by the write
	for _, rt := range req.Topics {
		ot := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		ot.Topic = rt.Topic
		t, known := s.image().Topic(rt.Topic)
		if known {
			ot.TopicID = t.ID
		}
		terr := r.topicErr(kmsg.ACLOperationRead, rt.Topic)
		for _, p := range rt.Partitions {
			op := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			op.Partition = p.Partition
			var perr error
			switch {
			case terr != nil:
				perr = terr
			case !known || p.Partition < 0 || p.Partition >= t.NumPartitions():
				perr = kerr.UnknownTopicOrPartition
			case p.StartOffset < 0:
				perr = fmt.Errorf("%w: start offset %d", share.ErrInvalidRequest, p.StartOffset)
			default:
				starts[shareKey(req.GroupID, t.ID, p.Partition)] = p.StartOffset
			}
			op.ErrorCode, op.ErrorMessage = errorCode(perr), errMessage(perr)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if op := &resp.Topics[i].Partitions[j]; op.ErrorCode == 0 {
				stored = append(stored, op)
			}
		}
	}
	if len(starts) == 0 {
		return now(resp)
	}
	return later(func() kmsg.Response {
		if err := sh.resetOffsets(r, starts); err != nil {
			for _, op := range stored {
				op.ErrorCode, op.ErrorMessage = errorCode(err), errMessage(err)
			}
		}
		return resp
	})
}
