package server

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(2, 0, 8, handleListOffsets) }

// Special ListOffsets timestamps.
const (
	listLatest      = -1 // the high watermark; the last stable offset for read_committed
	listEarliest    = -2 // the log start offset
	listMaxTS       = -3 // the record with the largest timestamp (KIP-734, v7+)
	listEarliestLoc = -4 // earliest local offset (KIP-405, v8+): the log start, no tiering
)

// handleListOffsets answers ListOffsets v0-v8. v1+: earliest, latest, max timestamp and
// lookup by timestamp (to the record, except in compressed batches where the answer is
// the batch's base offset; see partition.OffsetForTimestamp). Latest is the high
// watermark, or the last stable offset for read_committed (v2+); a max timestamp or
// timestamp lookup that finds a record at or past it answers -1, as Kafka's
// ReplicaManager (lastFetchableOffset); earliest is the log start whatever the LSO. The
// leader epoch is 0.
// v0 has Kafka 2.x's old semantics: up to MaxNumOffsets segment start offsets
// (partition.OffsetsBefore).
func handleListOffsets(s *Server, r *request) reply {
	req := r.body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			st.Partitions = append(st.Partitions, sp)
			out := &st.Partitions[len(st.Partitions)-1]
			if err := r.topicErr(kmsg.ACLOperationDescribe, rt.Topic); err != nil {
				out.ErrorCode = errorCode(err)
				continue
			}
			p, err := s.data.replicas.Lookup(rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			if err != nil {
				out.ErrorCode = errorCode(err)
				continue
			}
			if req.Version == 0 {
				out.OldStyleOffsets, err = p.OffsetsBefore(rp.Timestamp, int(rp.MaxNumOffsets), req.ReplicaID == -1)
				out.ErrorCode = errorCode(err)
				continue
			}
			out.LeaderEpoch = p.LeaderEpoch()
			switch rp.Timestamp {
			case listLatest:
				out.Offset = p.ReadEnd(isolation(req.IsolationLevel))
			case listEarliest, listEarliestLoc:
				out.Offset = p.LogStartOffset()
			case listMaxTS:
				out.Offset, out.Timestamp, err = p.MaxTimestamp()
			default:
				if rp.Timestamp < 0 {
					out.ErrorCode = kerr.InvalidRequest.Code
					continue
				}
				out.Offset, out.Timestamp, err = p.OffsetForTimestamp(rp.Timestamp)
			}
			if err != nil {
				out.ErrorCode = errorCode(err)
				out.Offset, out.Timestamp = -1, -1
			}
			byTime := rp.Timestamp >= 0 || rp.Timestamp == listMaxTS // not earliest, latest
			if byTime && req.IsolationLevel == 1 && out.Offset >= p.ReadEnd(partition.ReadCommitted) {
				out.Offset, out.Timestamp = -1, -1 // as Kafka: a record read_committed cannot read yet is not found
			}
			if out.Offset < 0 {
				out.LeaderEpoch = -1
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
