package server

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group/assign"
)

func init() { register(69, 0, 1, handleConsumerGroupDescribe) }

// handleConsumerGroupDescribe answers ConsumerGroupDescribe v0-v1 (KIP-848; v1: the
// members' type). A group that does not exist, or is classic, answers GROUP_ID_NOT_FOUND;
// assignments name each topic by id and by name (a topic deleted since has no name).
// UNSUPPORTED_VERSION unless group.coordinator.rebalance.protocols lists consumer. Each
// group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED).
func handleConsumerGroupDescribe(s *Server, r *request) reply {
	req := r.body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	each := func(f func(*kmsg.ConsumerGroupDescribeResponseGroup)) reply {
		for _, id := range req.Groups {
			rg := kmsg.NewConsumerGroupDescribeResponseGroup()
			rg.Group = id
			f(&rg)
			resp.Groups = append(resp.Groups, rg)
		}
		return now(resp)
	}
	if !s.consumerProtocol() {
		return each(func(rg *kmsg.ConsumerGroupDescribeResponseGroup) { rg.ErrorCode = kerr.UnsupportedVersion.Code })
	}
	c, err := s.groups()
	if err != nil {
		return each(func(rg *kmsg.ConsumerGroupDescribeResponseGroup) { rg.ErrorCode = errorCode(err) })
	}
	topics := imageTopics{s}
	assignment := func(a map[assign.TopicID][]int32) kmsg.Assignment {
		out := kmsg.NewAssignment()
		out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
		for _, id := range sortedTopicIDs(a) {
			tp := kmsg.NewAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = id, a[id]
			tp.Topic, _ = topics.TopicName(id)
			out.TopicPartitions = append(out.TopicPartitions, tp)
		}
		return out
	}
	for _, d := range c.DescribeConsumerGroups(req.Groups) {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group = d.Group
		rg.AuthorizedOperations = math.MinInt32
		if err := r.groupErr(kmsg.ACLOperationDescribe, d.Group); err != nil {
			d.Err = err
		}
		if d.Err != nil {
			rg.ErrorCode = errorCode(d.Err)
			msg := d.Err.Error()
			rg.ErrorMessage = &msg
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = r.authorizedOperations(kmsg.ACLResourceTypeGroup, d.Group, groupOperations)
		}
		rg.Members = []kmsg.ConsumerGroupDescribeResponseGroupMember{}
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			rm.ClientID, rm.ClientHost, rm.SubscribedTopics, rm.SubscribedTopicRegex = m.ClientID, m.ClientHost, m.Topics, m.Regex
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			rm.Assignment, rm.TargetAssignment = assignment(m.Assignment), assignment(m.TargetAssignment)
			rm.MemberType = 1 // a consumer-protocol member
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}
