package server

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/share"
)

func init() { register(90, 0, 1, handleDescribeShareGroupOffsets) }

// handleDescribeShareGroupOffsets answers DescribeShareGroupOffsets v0-v1 (KIP-932; v1's
// Lag is KIP-1226's) as Kafka 4.2's broker does: each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED); per partition the share-partition start offset, the
// partition's leader epoch and the lag (high watermark - start offset - the records
// above the start already acknowledged or archived). A partition the group has no state
// for, a topic that does not exist, a group that is no share group: start offset and lag
// -1, no error (absence of data, as Kafka). Named topics need DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED per partition); Topics null describes every partition the
// group has state for, leaving out the topics the principal may not describe.
// UNSUPPORTED_VERSION while share groups are not served. Each partition with state also
// carries Strata's tagged fields 10000 and 10001: its records in flight and archived.
func handleDescribeShareGroupOffsets(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	sh, err := s.shareService()
	if !s.shareAdmin() {
		err = kerr.UnsupportedVersion
	}
	for _, g := range req.Groups {
		rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		rg.GroupID = g.GroupID
		gerr := err
		if gerr == nil {
			gerr = r.groupErr(kmsg.ACLOperationDescribe, g.GroupID)
		}
		if gerr != nil {
			rg.ErrorCode, rg.ErrorMessage = errorCode(gerr), errMessage(gerr)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		topics := g.Topics
		if topics == nil {
			topics, gerr = sh.describableStateTopics(s, r, g.GroupID)
			if gerr != nil {
				rg.ErrorCode, rg.ErrorMessage = errorCode(gerr), errMessage(gerr)
				resp.Groups = append(resp.Groups, rg)
				continue
			}
		}
		rg.Topics = []kmsg.DescribeShareGroupOffsetsResponseGroupTopic{}
		for _, t := range topics {
			rg.Topics = append(rg.Topics, sh.describeOffsets(s, r, g.GroupID, t))
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return now(resp)
}

// describableStateTopics are the topics (and partitions) group has share-partition state
// for, the principal may describe, by name.
func (sh *shares) describableStateTopics(s *Server, r *request, group string) ([]kmsg.DescribeShareGroupOffsetsRequestGroupTopic, error) {
	keys, err := sh.groupKeys(group)
	if err != nil {
		return nil, err
	}
	byName := map[string][]int32{}
	for _, k := range keys {
		t, ok := s.image().TopicByID(k.TopicID)
		if !ok || r.topicErr(kmsg.ACLOperationDescribe, t.Name) != nil {
			continue
		}
		byName[t.Name] = append(byName[t.Name], k.Partition)
	}
	var out []kmsg.DescribeShareGroupOffsetsRequestGroupTopic
	for name, ps := range byName {
		rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
		rt.Topic, rt.Partitions = name, ps
		slices.Sort(rt.Partitions)
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b kmsg.DescribeShareGroupOffsetsRequestGroupTopic) int { return cmp.Compare(a.Topic, b.Topic) })
	return out, nil
}

// describeOffsets describes group's share-partitions of one topic.
func (sh *shares) describeOffsets(s *Server, r *request, group string, rt kmsg.DescribeShareGroupOffsetsRequestGroupTopic) kmsg.DescribeShareGroupOffsetsResponseGroupTopic {
	out := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
	out.Topic = rt.Topic
	t, known := s.image().Topic(rt.Topic)
	if known {
		out.TopicID = t.ID
	}
	terr := r.topicErr(kmsg.ACLOperationDescribe, rt.Topic)
	for _, p := range rt.Partitions {
		rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
		rp.Partition, rp.StartOffset, rp.Lag = p, -1, -1
		switch {
		case terr != nil:
			rp.ErrorCode, rp.ErrorMessage = errorCode(terr), errMessage(terr)
		case known:
			if ps, ok := t.Partition(p); ok {
				rp.LeaderEpoch = ps.LeaderEpoch
			}
			sum, ok, err := sh.mgr.Summary(shareKey(group, t.ID, p))
			if err != nil {
				rp.ErrorCode, rp.ErrorMessage = errorCode(err), errMessage(err)
				break
			}
			if !ok {
				break
			}
			rp.StartOffset = sum.Start
			part, err := s.data.replicas.LookupID(t.ID, p, -1)
			if err != nil {
				rp.ErrorCode, rp.ErrorMessage = errorCode(err), errMessage(err)
				break
			}
			rp.Lag = shareLag(part.HighWatermark(), sum)
			rp.UnknownTags.Set(shareInFlightTag, binary.BigEndian.AppendUint32(nil, uint32(sum.InFlight)))
			rp.UnknownTags.Set(shareArchivedTag, binary.BigEndian.AppendUint32(nil, uint32(sum.Archived)))
		}
		out.Partitions = append(out.Partitions, rp)
	}
	return out
}

// Strata's tagged fields of a response partition (ignored by other clients; client/
// reads them for `strata group describe`): the records acquired now and the archived
// records above the start offset, each a 4-byte big-endian count.
const (
	shareInFlightTag = 10000
	shareArchivedTag = 10001
)

// shareLag is Kafka's lag of a share-partition (KIP-1226): the records from the start
// offset to the high watermark not yet acknowledged or archived.
func shareLag(hw int64, sum share.Summary) int64 {
	return max(0, hw-sum.Start-int64(sum.Done))
}
