package server

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/share"
)

func init() { register(76, 0, 1, handleShareGroupHeartbeat) }

// handleShareGroupHeartbeat answers ShareGroupHeartbeat v0-v1 (KIP-932): a member joins
// (epoch 0, with its subscription and the member id it made), heartbeats, or leaves
// (epoch -1), and gets its assignment from the server (share.Groups). The group needs
// READ (GROUP_AUTHORIZATION_FAILED) and each subscribed topic DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED), as Kafka checks. A group id that names a classic or
// consumer group answers GROUP_ID_NOT_FOUND, as Kafka's. On a cluster, NOT_COORDINATOR
// unless this broker coordinates the group (shareCoordinatorErr). UNSUPPORTED_VERSION
// while share groups are not served.
func handleShareGroupHeartbeat(s *Server, r *request) reply {
	req := r.body.(*kmsg.ShareGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
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
	if err := r.groupErr(kmsg.ACLOperationRead, req.GroupID); err != nil {
		return fail(err)
	}
	for _, t := range req.SubscribedTopicNames {
		if err := r.topicErr(kmsg.ACLOperationDescribe, t); err != nil {
			return fail(err)
		}
	}
	sh, err := s.shareService()
	if err == nil {
		err = s.shareCoordinatorErr(req.GroupID)
	}
	if err != nil {
		return fail(err)
	}
	if s.isOtherGroup(req.GroupID) {
		return fail(fmt.Errorf("%w: group %s is not a share group", share.ErrGroupNotFound, req.GroupID))
	}
	res, err := sh.groups.Heartbeat(share.HeartbeatRequest{Group: req.GroupID, MemberID: req.MemberID,
		MemberEpoch: req.MemberEpoch, RackID: req.RackID, Topics: req.SubscribedTopicNames,
		ClientID: r.hdr.ClientID, ClientHost: clientHost(r)})
	if err != nil {
		return fail(err)
	}
	resp.MemberID = &req.MemberID
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
	if res.Assignment != nil {
		a := kmsg.NewShareGroupHeartbeatResponseAssignment()
		a.TopicPartitions = []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}
		for _, id := range sortedShareTopics(res.Assignment) {
			tp := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = id, res.Assignment[id]
			a.TopicPartitions = append(a.TopicPartitions, tp)
		}
		resp.Assignment = &a
	}
	return now(resp)
}

// isOtherGroup reports whether id names a classic or consumer group (Kafka's group ids
// are shared by every type).
func (s *Server) isOtherGroup(id string) bool {
	c, err := s.groups()
	if err != nil {
		return false
	}
	d := c.DescribeGroups([]string{id})
	return len(d) == 1 && d[0].Err == nil && d[0].State != group.StateDead
}

// sortedShareTopics are a's topic ids in byte order (a deterministic answer).
func sortedShareTopics(a share.Assignment) [][16]byte {
	return slices.SortedFunc(maps.Keys(a), func(x, y [16]byte) int { return bytes.Compare(x[:], y[:]) })
}
