package server

import (
	"cmp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/group"
)

func init() { register(8, 0, 9, handleOffsetCommit) }

// handleOffsetCommit answers OffsetCommit v0-v9. The commit is durable (fsynced to
// __consumer_offsets) before the answer, which therefore comes later.
//
// v0 has no generation nor member: Kafka stored it in ZooKeeper, apart from the group;
// here it is a generation-less commit (-1) to __consumer_offsets, refused while the group
// has members (UNKNOWN_MEMBER_ID). v1 carries each partition's commit timestamp (-1: now),
// which is stored as the commit's time, as in Kafka 2.x.
//
// Like Kafka (KafkaApis.handleOffsetCommitRequest), a partition of a topic that does not
// exist, or beyond the topic's partition count, is answered UNKNOWN_TOPIC_OR_PARTITION
// without reaching the group: no offset is stored for it. The other partitions are
// committed; when none is left, the group is not consulted at all. Authorization is
// Kafka's: READ on the group (GROUP_AUTHORIZATION_FAILED for every partition), READ on
// each topic (TOPIC_AUTHORIZATION_FAILED, before its existence). A share group's id is
// GROUP_ID_NOT_FOUND for every partition, as Kafka's.
func handleOffsetCommit(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := &group.CommitRequest{Group: req.Group, Generation: req.Generation, MemberID: req.MemberID, InstanceID: req.InstanceID}
	if req.Version == 0 {
		cr.Generation, cr.MemberID = -1, ""
	}
	groupErr := r.groupErr(kmsg.ACLOperationRead, req.Group)
	if groupErr == nil && s.isShareGroup(req.Group) { // a share group holds no committed offsets, as Kafka's
		groupErr = group.ErrGroupIDNotFound
	}
	var refused []int16 // per request partition, in request order: why it is not committed
	for _, t := range req.Topics {
		tp, ok := s.image().Topic(t.Topic)
		authErr := cmp.Or(groupErr, r.topicErr(kmsg.ACLOperationRead, t.Topic))
		for _, p := range t.Partitions {
			switch {
			case authErr != nil:
				refused = append(refused, errorCode(authErr))
				continue
			case !ok || p.Partition < 0 || p.Partition >= tp.NumPartitions():
				refused = append(refused, kerr.UnknownTopicOrPartition.Code)
				continue
			}
			refused = append(refused, 0)
			le := p.LeaderEpoch
			if req.Version < 6 {
				le = -1
			}
			var at int64
			if req.Version == 1 {
				at = p.Timestamp
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{Topic: t.Topic, Partition: p.Partition,
				Offset: p.Offset, LeaderEpoch: le, Metadata: p.Metadata, CommitTime: at})
		}
	}
	fill := func(errs []error, err error) kmsg.Response {
		i, j := 0, 0 // i: request partition, j: committed partition (errs)
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case refused[i] != 0:
					rp.ErrorCode = refused[i]
				case err != nil:
					rp.ErrorCode = errorCode(err)
					j++
				default:
					rp.ErrorCode = errorCode(errs[j])
					j++
				}
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	if len(cr.Offsets) == 0 {
		return now(fill(nil, nil))
	}
	c, err := s.groups()
	if err != nil {
		return now(fill(nil, err))
	}
	return later(func() kmsg.Response {
		errs, err := c.Commit(cr)
		return fill(errs, err)
	})
}
