package server

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/replica"
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
// UNSUPPORTED_VERSION while share groups are not served. Each partition with a state
// this broker holds (leads) carries Strata's tagged fields 10000 and 10001: its records
// in flight and archived. On a cluster a group is described by its coordinator
// (NOT_COORDINATOR elsewhere, as Kafka's), from the stored states at their share
// coordinators (ReadShareGroupStateSummary) and the partition leaders' high watermarks.
func handleDescribeShareGroupOffsets(s *Server, r *request) reply {
	req := r.body.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	sh, err := s.shareService()
	if !s.shareProtocol() {
		err = kerr.UnsupportedVersion
	}
	return later(func() kmsg.Response {
		for _, g := range req.Groups {
			rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
			rg.GroupID = g.GroupID
			gerr := err
			if gerr == nil {
				gerr = r.groupErr(kmsg.ACLOperationDescribe, g.GroupID)
			}
			if gerr == nil {
				gerr = s.shareCoordinatorErr(g.GroupID)
			}
			topics := g.Topics
			if gerr == nil && topics == nil {
				topics, gerr = sh.describableStateTopics(s, r, g.GroupID)
			}
			if gerr != nil {
				rg.ErrorCode, rg.ErrorMessage = errorCode(gerr), errMessage(gerr)
				resp.Groups = append(resp.Groups, rg)
				continue
			}
			rg.Topics = []kmsg.DescribeShareGroupOffsetsResponseGroupTopic{}
			for _, t := range topics {
				rg.Topics = append(rg.Topics, sh.describeOffsets(s, r, g.GroupID, t))
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	})
}

// describableStateTopics are the topics (and partitions) group has share-partition state
// for, the principal may describe, by name.
func (sh *shares) describableStateTopics(s *Server, r *request, group string) ([]kmsg.DescribeShareGroupOffsetsRequestGroupTopic, error) {
	keys, err := sh.stateKeys(group)
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

// describeOffsets describes group's share-partitions of one topic: the live state where
// this broker holds the share-partition (with the in-flight and archived tags), the
// stored summary from its coordinator otherwise; the lag from the partition leader's
// high watermark (shareHighWatermarks).
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
		if terr != nil {
			rp.ErrorCode, rp.ErrorMessage = errorCode(terr), errMessage(terr)
		}
		out.Partitions = append(out.Partitions, rp)
	}
	if terr != nil || !known {
		return out
	}
	live := map[int32]share.Summary{}
	var stored []share.Key
	for _, p := range rt.Partitions {
		if _, ok := t.Partition(p); !ok {
			continue
		}
		k := shareKey(group, t.ID, p)
		if sum, ok := sh.mgr.LiveSummary(k); ok {
			live[p] = sum
		} else {
			stored = append(stored, k)
		}
	}
	sums, err := sh.states.Summaries(stored)
	var withState []int32
	for i := range out.Partitions {
		rp := &out.Partitions[i]
		if ps, ok := t.Partition(rp.Partition); ok {
			rp.LeaderEpoch = ps.LeaderEpoch
		}
		if _, ok := live[rp.Partition]; ok {
			withState = append(withState, rp.Partition)
			continue
		}
		if err != nil && slices.Contains(stored, shareKey(group, t.ID, rp.Partition)) {
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errMessage(err)
			continue
		}
		if _, ok := sums[shareKey(group, t.ID, rp.Partition)]; ok {
			withState = append(withState, rp.Partition)
		}
	}
	hws := s.shareHighWatermarks(r.ctx, t, withState)
	for i := range out.Partitions {
		rp := &out.Partitions[i]
		sum, isLive := live[rp.Partition]
		if !isLive {
			var ok bool
			if sum, ok = sums[shareKey(group, t.ID, rp.Partition)]; !ok {
				continue
			}
		}
		rp.StartOffset = sum.Start
		if sum.Start == share.Uninitialized {
			continue // initialized, never read: no lag (as Kafka)
		}
		hw, herr := hws[rp.Partition].hw, hws[rp.Partition].err
		if herr != nil {
			rp.ErrorCode, rp.ErrorMessage = errorCode(herr), errMessage(herr)
			continue
		}
		rp.Lag = shareLag(hw, sum)
		if isLive {
			rp.UnknownTags.Set(shareInFlightTag, binary.BigEndian.AppendUint32(nil, uint32(sum.InFlight)))
			rp.UnknownTags.Set(shareArchivedTag, binary.BigEndian.AppendUint32(nil, uint32(sum.Archived)))
		}
	}
	return out
}

// highWatermark is a partition's high watermark, or why it is not known.
type highWatermark struct {
	hw  int64
	err error
}

// shareHighWatermarks are the high watermarks of partitions of t: this broker's where it
// leads the partition, otherwise its leader's (ListOffsets latest, read_uncommitted).
func (s *Server) shareHighWatermarks(ctx context.Context, t *metadata.Topic, partitions []int32) map[int32]highWatermark {
	out := map[int32]highWatermark{}
	remote := map[int32][]int32{} // by leader
	for _, p := range partitions {
		part, err := s.data.replicas.LookupID(t.ID, p, -1)
		switch {
		case err == nil:
			out[p] = highWatermark{hw: part.HighWatermark()}
		case s.opts.Cluster != nil && errors.Is(err, replica.ErrNotLeaderOrFollower):
			ps, _ := t.Partition(p)
			remote[ps.Leader] = append(remote[ps.Leader], p)
		default:
			out[p] = highWatermark{err: err}
		}
	}
	for leader, ps := range remote {
		fail := func(err error) {
			for _, p := range ps {
				out[p] = highWatermark{err: err}
			}
		}
		br, err := s.peer(leader, peerShare)
		if err != nil {
			fail(err)
			continue
		}
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 4, -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t.Name
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p, -1, listLatest
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, br)
		if err != nil {
			fail(err)
			continue
		}
		fail(fmt.Errorf("%w: ListOffsets from broker %d: no answer", kerr.UnknownServerError, leader))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					out[p.Partition] = highWatermark{err: err}
				} else {
					out[p.Partition] = highWatermark{hw: p.Offset}
				}
			}
		}
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
