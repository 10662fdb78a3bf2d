package server

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(77, 0, 1, handleShareGroupDescribe) }

// handleShareGroupDescribe answers ShareGroupDescribe v0-v1 (KIP-932): state, epochs,
// members with their subscriptions and assignments. A group that is not a share group
// answers GROUP_ID_NOT_FOUND; each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED).
// The assignor is Strata's (share.Groups), named "simple" as Kafka's default.
// NOT_COORDINATOR on a cluster broker that does not coordinate the group.
// UNSUPPORTED_VERSION while share groups are not served.
func handleShareGroupDescribe(s *Server, r *request) reply {
	req := r.body.(*kmsg.ShareGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	sh, err := s.shareService()
	if !s.shareProtocol() {
		err = kerr.UnsupportedVersion
	}
	for _, id := range req.GroupIDs {
		rg := kmsg.NewShareGroupDescribeResponseGroup()
		rg.GroupID = id
		rg.AuthorizedOperations = math.MinInt32
		d, ok := share.GroupDescription{}, false
		gerr := err
		if gerr == nil {
			gerr = r.groupErr(kmsg.ACLOperationDescribe, id)
		}
		if gerr == nil {
			gerr = s.shareCoordinatorErr(id)
		}
		if gerr == nil {
			if d, ok = sh.groups.Describe(id); !ok {
				gerr = share.ErrGroupNotFound
			}
		}
		if gerr != nil {
			rg.ErrorCode = errorCode(gerr)
			msg := gerr.Error()
			rg.ErrorMessage = &msg
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.GroupState, rg.GroupEpoch, rg.AssignmentEpoch, rg.Assignor = string(d.State), d.GroupEpoch, d.AssignmentEpoch, "simple"
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = r.authorizedOperations(kmsg.ACLResourceTypeGroup, id, groupOperations)
		}
		rg.Members = []kmsg.ShareGroupDescribeResponseGroupMember{}
		for _, m := range d.Members {
			rm := kmsg.NewShareGroupDescribeResponseGroupMember()
			rm.MemberID, rm.RackID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.MemberID, m.RackID, m.MemberEpoch, m.ClientID, m.ClientHost
			rm.SubscribedTopicNames = m.Topics
			if rm.SubscribedTopicNames == nil {
				rm.SubscribedTopicNames = []string{}
			}
			rm.Assignment.TopicPartitions = []kmsg.ShareGroupDescribeResponseGroupMemberAssignmentTopicPartition{}
			for _, tid := range sortedShareTopics(m.Assignment) {
				tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
				tp.TopicID, tp.Partitions = tid, m.Assignment[tid]
				if t, ok := s.image().TopicByID(tid); ok {
					tp.Topic = t.Name
				}
				rm.Assignment.TopicPartitions = append(rm.Assignment.TopicPartitions, tp)
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}
