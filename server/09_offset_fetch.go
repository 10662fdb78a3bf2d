package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

// handleOffsetFetch answers OffsetFetch v0-v9 (v8+: several groups). Partitions without
// a commit, and groups that do not exist, read as offset -1 with no error, like Kafka.
// v0-v1 have no group error field: a group error is set on every requested partition
// (offset -1), as Kafka's OffsetFetchRequest.getErrorResponse does. v0 read ZooKeeper in
// Kafka; here it reads the offsets committed to __consumer_offsets, as v1.
// v9+ (KIP-848): a member of a consumer group gives its member id and epoch, checked as
// Kafka checks them (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH; group.CheckFetchMember).
// With require_stable (v7+, KIP-447) a partition whose offset an open transaction has
// committed answers UNSTABLE_OFFSET_COMMIT (retriable) and offset -1, as Kafka; without
// it, the last committed offset. Authorization is Kafka's: DESCRIBE on the group
// (GROUP_AUTHORIZATION_FAILED), DESCRIBE on each topic (TOPIC_AUTHORIZATION_FAILED for a
// named one, left out of all topics).
func handleOffsetFetch(s *Server, r *request) reply {
	req := r.body.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	c, cerr := s.groups()

	// fetch answers one group: topics nil means all (v2+ null topics).
	type part = kmsg.OffsetFetchResponseGroupTopicPartition
	fetch := func(g string, topics map[string][]int32, order []string) (map[string][]part, []string, int16) {
		if err := r.groupErr(kmsg.ACLOperationDescribe, g); err != nil {
			return nil, nil, errorCode(err)
		}
		if cerr != nil {
			return nil, nil, errorCode(cerr)
		}
		topics, denied := r.describableTopics(topics)
		got, err := c.Fetch(g, topics)
		if err != nil {
			return nil, nil, errorCode(err)
		}
		out := map[string][]part{}
		if topics == nil {
			order = nil
		}
		for t, ps := range denied {
			for _, pi := range ps {
				p := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				p.Partition, p.Offset, p.LeaderEpoch, p.Metadata = pi, -1, -1, kmsg.StringPtr("")
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				out[t] = append(out[t], p)
			}
		}
		for _, f := range got {
			if topics == nil && r.topicErr(kmsg.ACLOperationDescribe, f.Topic) != nil {
				continue // all topics: those the principal may not describe are left out
			}
			p := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			p.Partition, p.Offset, p.LeaderEpoch = f.Partition, f.Offset, f.LeaderEpoch
			md := f.Metadata
			p.Metadata = &md
			if f.Unstable && req.RequireStable { // as Kafka: no offset with the error
				p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = kerr.UnstableOffsetCommit.Code, -1, -1, kmsg.StringPtr("")
			}
			if _, seen := out[f.Topic]; !seen && topics == nil {
				order = append(order, f.Topic)
			}
			out[f.Topic] = append(out[f.Topic], p)
		}
		return out, order, 0
	}

	if req.Version >= 8 {
		for _, g := range req.Groups {
			var topics map[string][]int32
			var order []string
			if g.Topics != nil {
				topics = map[string][]int32{}
				for _, t := range g.Topics {
					if _, dup := topics[t.Topic]; !dup {
						order = append(order, t.Topic)
					}
					topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
				}
			}
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			if cerr == nil && req.Version >= 9 {
				if err := c.CheckFetchMember(g.Group, g.MemberID, g.MemberEpoch); err != nil {
					rg.ErrorCode = errorCode(err)
					resp.Groups = append(resp.Groups, rg)
					continue
				}
			}
			parts, order, code := fetch(g.Group, topics, order)
			rg.ErrorCode = code
			for _, t := range order {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t
				rt.Partitions = parts[t]
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return now(resp)
	}

	var topics map[string][]int32
	var order []string
	if req.Topics != nil || req.Version < 2 {
		topics = map[string][]int32{}
		for _, t := range req.Topics {
			if _, dup := topics[t.Topic]; !dup {
				order = append(order, t.Topic)
			}
			topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
		}
	}
	requested := order
	parts, order, code := fetch(req.Group, topics, order)
	resp.ErrorCode = code
	if code != 0 && req.Version < 2 {
		parts, order = map[string][]part{}, requested
		for _, t := range order {
			for _, p := range topics[t] {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode = p, -1, code
				parts[t] = append(parts[t], rp)
			}
		}
	}
	for _, t := range order {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t
		for _, p := range parts[t] {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return now(resp)
}
