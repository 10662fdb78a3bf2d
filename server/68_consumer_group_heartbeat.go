package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/group/assign"
)

func init() { register(68, 0, 1, handleConsumerGroupHeartbeat) }

// handleConsumerGroupHeartbeat answers ConsumerGroupHeartbeat v0-v1 (KIP-848; v1: the
// client makes its member id, SubscribedTopicRegex). Served only when
// group.coordinator.rebalance.protocols lists consumer, UNSUPPORTED_VERSION otherwise, as
// Kafka answers. A v0 member joining without a member id gets one made here, as Kafka's.
// The group needs READ (GROUP_AUTHORIZATION_FAILED) and each subscribed topic name
// DESCRIBE (TOPIC_AUTHORIZATION_FAILED). Joining under a share group's id is
// GROUP_ID_NOT_FOUND, as Kafka's.
func handleConsumerGroupHeartbeat(s *Server, r *request) reply {
	req := r.body.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	fail := func(err error) reply {
		resp.ErrorCode = errorCode(err)
		if msg := err.Error(); resp.ErrorCode != 0 {
			resp.ErrorMessage = &msg
		}
		return now(resp)
	}
	if !s.consumerProtocol() {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return now(resp)
	}
	if err := r.groupErr(kmsg.ACLOperationRead, req.Group); err != nil {
		return fail(err)
	}
	for _, t := range req.SubscribedTopicNames { // every subscribed topic needs DESCRIBE, as Kafka's
		if err := r.topicErr(kmsg.ACLOperationDescribe, t); err != nil {
			return fail(err)
		}
	}
	c, err := s.groups()
	if err != nil {
		return fail(err)
	}
	if req.MemberEpoch == 0 && s.isShareGroup(req.Group) { // joining a share group's id, as Kafka's
		return fail(fmt.Errorf("%w: group %s is not a consumer group", group.ErrGroupIDNotFound, req.Group))
	}
	memberID := req.MemberID
	if memberID == "" && req.MemberEpoch == 0 && req.Version == 0 {
		memberID = newUUID()
	}
	hr := &group.ConsumerHeartbeatRequest{Group: req.Group, MemberID: memberID, MemberEpoch: req.MemberEpoch,
		InstanceID: req.InstanceID, RackID: req.RackID, Topics: req.SubscribedTopicNames,
		Regex: req.SubscribedTopicRegex, ServerAssignor: req.ServerAssignor, ClientID: r.hdr.ClientID, ClientHost: clientHost(r)}
	if req.RebalanceTimeoutMillis > 0 {
		hr.RebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.Topics != nil {
		hr.Owned = make(map[assign.TopicID][]int32, len(req.Topics))
		for _, t := range req.Topics {
			hr.Owned[t.TopicID] = append(hr.Owned[t.TopicID], t.Partitions...)
		}
	}
	return later(func() kmsg.Response {
		res, err := c.ConsumerHeartbeat(hr)
		if err != nil {
			fail(err)
			return resp
		}
		resp.MemberID = &memberID
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		if res.Assignment != nil {
			a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
			a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
			for _, id := range sortedTopicIDs(res.Assignment) {
				t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
				t.TopicID, t.Partitions = id, res.Assignment[id]
				a.Topics = append(a.Topics, t)
			}
			resp.Assignment = &a
		}
		return resp
	})
}

// sortedTopicIDs are a's topic ids in byte order (a deterministic answer).
func sortedTopicIDs(a map[assign.TopicID][]int32) []assign.TopicID {
	return slices.SortedFunc(maps.Keys(a), func(x, y assign.TopicID) int { return bytes.Compare(x[:], y[:]) })
}

// newUUID returns a random UUID as Kafka prints one (base64url, no padding).
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return base64.RawURLEncoding.EncodeToString(u[:])
}
