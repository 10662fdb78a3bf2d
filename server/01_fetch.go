package server

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/replica"
)

func init() { register(1, 0, 16, handleFetch) }

// handleFetch answers Fetch v0-v16; v0-v3 in message format 0 or 1, down-converted
// (fetch_legacy.go).
//
// No fetch sessions (KIP-227): SessionID is always 0 with no error, so clients send full
// fetches. Partition MaxBytes and the response MaxBytes are honoured, but the first batch
// found is always returned whole (KIP-74). read_committed reads stop at the last stable
// offset, with the aborted transactions overlapping the records returned
// (AbortedTransactions, from the partitions' .txnindex), read_uncommitted ones at the
// high watermark.
//
// Long poll: when fewer than MinBytes are available and MaxWaitMillis > 0, the fetch parks
// on the partitions' high-watermark waiters (last-stable-offset waiters for read_committed;
// one wake channel for all of them) and is
// answered when enough bytes arrived, MaxWaitMillis passed, or the connection closes —
// whichever comes first. A fetch with any partition error is answered at once.
//
// A follower's fetch (a replica id >= 0: ReplicaID up to v14, ReplicaState from v15)
// reads up to the log end offset, not the high watermark, and long-polls on the leader's
// durable end; a broker that holds no replica of the partition gets UNKNOWN_LEADER_EPOCH
// when it sent a leader epoch, NOT_LEADER_OR_FOLLOWER otherwise (as Kafka's leader).
// The replication throttle (replica.Manager.LeaderThrottle) answers a held-back follower
// no records for the partition, and counts what throttled replicas are sent.
func handleFetch(s *Server, r *request) reply {
	req := r.body.(*kmsg.FetchRequest)
	follower := req.ReplicaID
	if req.Version >= 15 {
		follower = req.ReplicaState.ID
	}
	f := &fetch{req: req, resp: req.ResponseKind().(*kmsg.FetchResponse), log: s.log, follower: follower, readErr: r.fetchReadErr(req),
		replicas: s.data.replicas}
	f.resolve(s)
	n, hasErr := f.fill()
	minBytes := int(req.MinBytes)
	if n >= minBytes || hasErr || req.MaxWaitMillis <= 0 || len(f.parts) == 0 {
		return now(f.response())
	}
	return later(func() kmsg.Response {
		f.longPoll(r, time.Duration(req.MaxWaitMillis)*time.Millisecond, minBytes)
		return f.response()
	})
}

// response hands the response and its chunks to the connection writer, which sends the
// chunks' bytes from the segment files and releases them. It counts each partition's
// record bytes in its fetched bytes (strata_fetched_bytes_total).
func (f *fetch) response() kmsg.Response {
	var chunks []fetchChunk
	throttled := 0
	for i := range f.parts {
		fp := &f.parts[i]
		n := len(f.resp.Topics[fp.ti].Partitions[fp.pi].RecordBatches)
		if fp.chunk != nil {
			n = fp.chunk.Len()
			chunks = append(chunks, fetchChunk{ti: fp.ti, pi: fp.pi, c: fp.chunk})
			fp.chunk = nil
		}
		if n > 0 {
			fp.p.CountFetched(n)
		}
		if fp.throttled {
			throttled += n
		}
	}
	if throttled > 0 {
		f.replicas.RecordLeaderThrottled(throttled)
	}
	if len(chunks) == 0 {
		return f.resp
	}
	return &chunkedFetch{FetchResponse: f.resp, chunks: chunks}
}

// isolation maps a Fetch or ListOffsets isolation level (0 read_uncommitted, 1
// read_committed) to the partition's.
func isolation(level int8) partition.Isolation {
	if level == 1 {
		return partition.ReadCommitted
	}
	return partition.ReadHighWatermark
}

// noRecords is the records field of a partition with nothing to return.
var noRecords = []byte{}

// fetch is one Fetch request in progress.
type fetch struct {
	req   *kmsg.FetchRequest
	resp  *kmsg.FetchResponse
	parts []fetchPart // partitions without a lookup error, in request order
	log   *slog.Logger
	// readErr is the authorization of reading a topic (nil: allowed).
	readErr func(topic string) error
	// follower is the broker id of a follower's fetch (replica id), -1 for a consumer.
	follower int32
	replicas *replica.Manager
}

type fetchPart struct {
	p        *partition.Partition
	offset   int64
	maxBytes int32
	ti, pi   int          // index in resp
	hw       int64        // high watermark (read_committed: last stable offset; a follower: durable end) seen by the last fill
	chunk    fetchRecords // the records of the last fill, in place of RecordBatches
	// throttled: a follower's fetch of a replica the leader throttles; its bytes count
	// against leader.replication.throttled.rate.
	throttled bool
}

// resolve builds the response skeleton and looks up the partitions.
func (f *fetch) resolve(s *Server) {
	byID := f.req.Version >= 13
	f.resp.Topics = make([]kmsg.FetchResponseTopic, 0, len(f.req.Topics))
	for ti, rt := range f.req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, 0, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// Never a null records field: librdkafka (kcat, confluent-kafka) rejects it as
			// a parse failure ("invalid MessageSetSize"); Kafka always sends an empty one.
			sp.RecordBatches = noRecords
			var (
				p   *partition.Partition
				err error
			)
			if f.follower >= 0 { // CLUSTER_ACTION first: a follower without it learns nothing (Kafka)
				err = f.readErr(rt.Topic)
			}
			switch {
			case err != nil:
			case byID: // an unknown id is UNKNOWN_TOPIC_ID, then authorization
				if p, err = s.data.replicas.LookupID(rt.TopicID, rp.Partition, rp.CurrentLeaderEpoch); err == nil {
					err = f.readErr(p.Topic())
				}
			default: // authorization, then existence
				if err = f.readErr(rt.Topic); err == nil {
					p, err = s.data.replicas.Lookup(rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
				}
			}
			if err == nil && f.follower >= 0 && !s.data.replicas.FollowerFetch(p.TopicID(), rp.Partition, f.follower, rp.FetchOffset, replica.DurableOffset(&rp)) {
				err = replica.ErrNotLeaderOrFollower
				if rp.CurrentLeaderEpoch >= 0 {
					err = partition.ErrUnknownLeaderEpoch
				}
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
			} else {
				f.parts = append(f.parts, fetchPart{
					p: p, offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, ti: ti, pi: pi,
				})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		f.resp.Topics = append(f.resp.Topics, st)
	}
}

// fill reads every partition afresh into the response. It returns the bytes read and
// whether some partition has an error.
func (f *fetch) fill() (total int, hasErr bool) {
	budget := int(f.req.MaxBytes)
	if budget <= 0 {
		budget = 1<<31 - 1
	}
	for i := range f.parts {
		fp := &f.parts[i]
		sp := &f.resp.Topics[fp.ti].Partitions[fp.pi]
		sp.ErrorCode = 0
		sp.RecordBatches = noRecords
		sp.AbortedTransactions = nil
		if fp.chunk != nil {
			fp.chunk.Release()
			fp.chunk = nil
		}
		limit := min(int(fp.maxBytes), budget-total)
		hold := false
		if f.follower >= 0 {
			fp.throttled, hold = f.replicas.LeaderThrottle(fp.p.TopicID(), fp.p.Index(), f.follower)
		}
		if total > 0 && limit <= 0 || hold {
			// Response full, or a throttled follower held back: report the offsets only;
			// the client fetches again.
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = fp.p.HighWatermark(), fp.p.LastStableOffset(), fp.p.LogStartOffset()
			fp.hw = f.end(sp)
			if f.follower >= 0 {
				fp.hw = fp.p.DurableEnd()
			}
			continue
		}
		iso, durable := isolation(f.req.IsolationLevel), int64(0)
		if f.follower >= 0 {
			iso, durable = partition.ReadLogEnd, fp.p.DurableEnd() // before the read: no wake missed
		}
		res, err := fp.p.ReadChunk(fp.offset, max(limit, 1), iso)
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
		fp.hw = f.end(sp)
		if f.follower >= 0 {
			fp.hw = durable
		}
		n := res.Len()
		var recs fetchRecords // nil: res.Records in memory, or nothing
		if err == nil && f.req.Version < 4 {
			// Message format 0 or 1: down-converted (fetch_legacy.go), which takes res over.
			recs, err = f.downConvert(fp, res, limit)
			n = 0
		} else if res.Chunk != nil {
			recs = segmentRecords{res.Chunk} // sent from the file by the connection writer
		}
		if err != nil {
			sp.ErrorCode = errorCode(err)
			hasErr = true
			continue
		}
		if recs != nil {
			n = recs.Len()
		}
		if total > 0 && n > budget-total || n == 0 {
			if recs != nil {
				recs.Release()
			}
			continue // only the first batch of the response may exceed MaxBytes (KIP-74)
		}
		if recs != nil {
			fp.chunk = recs
		} else {
			sp.RecordBatches = res.Records
		}
		for _, a := range res.AbortedTxns {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			sp.AbortedTransactions = append(sp.AbortedTransactions, at)
		}
		total += n
	}
	return total, hasErr
}

// end is where a partition's records end for this fetch's isolation level: the last
// stable offset for read_committed, the high watermark otherwise.
func (f *fetch) end(sp *kmsg.FetchResponseTopicPartition) int64 {
	if f.req.IsolationLevel == 1 {
		return sp.LastStableOffset
	}
	return sp.HighWatermark
}

// longPoll waits for MinBytes, MaxWait or the end of the connection, refilling the
// response whenever a high watermark moves.
func (f *fetch) longPoll(r *request, maxWait time.Duration, minBytes int) {
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	wake := make(chan struct{}, 1)
	stops := make([]func(), len(f.parts))
	for {
		for i := range f.parts {
			fp := &f.parts[i]
			switch {
			case f.follower >= 0:
				stops[i] = fp.p.NotifyDurable(max(fp.offset, fp.hw), wake)
			case f.req.IsolationLevel == 1:
				stops[i] = fp.p.NotifyStable(max(fp.offset, fp.hw), wake)
			default:
				stops[i] = fp.p.NotifyHW(max(fp.offset, fp.hw), wake)
			}
		}
		var done bool
		select {
		case <-wake:
		case <-timer.C:
			done = true
		case <-r.ctx.Done():
			done = true
		}
		for _, stop := range stops {
			stop()
		}
		n, hasErr := f.fill()
		if done || hasErr || n >= minBytes {
			return
		}
	}
}
