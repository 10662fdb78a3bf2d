package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

func init() { register(0, 0, 13, handleProduce) }

// handleProduce answers Produce v0-v13 (v12: transactions v2, see txn_verify.go; v13:
// topics by id, KIP-516, as Kafka 4.1: an unknown id is UNKNOWN_TOPIC_ID, checked before
// the topic's authorization, and is never auto-created):
// RecordBatch v2, and for v0-v2 also the message sets of formats 0 and 1, converted to
// one RecordBatch v2 before the append as Kafka's LogValidator converts them
// (records.ConvertMessageSet: CRC-32 and structure checked, CORRUPT_MESSAGE or
// INVALID_RECORD). Like Kafka 2.x, v0-v2 may also carry RecordBatch v2.
//
// Every partition's batches are appended synchronously, in request order, before the
// handler returns (so a connection's produces land in the order sent). acks=0 gets no
// response. acks=1 and acks=-1 wait (an async reply completed by the log's flusher, so
// the connection keeps reading and no goroutine waits) until the records are durable on
// the leader (fsynced, group commit) — or not at all under flush.messages > 0, where the
// topic asked for Kafka's page-cache durability; Kafka answers acks=1 from the page
// cache (docs/compatibility.md). A wait longer than the request's timeout answers
// REQUEST_TIMED_OUT for that partition (the records stay appended, as in Kafka). On a
// cluster node acks=-1 waits for the high watermark, which the in-sync replicas move with
// their durable fetch offsets (package replica); acks=1 only for the leader's own fsync
// (WhenFlushed). acks=all to a partition whose ISR is
// smaller than min.insync.replicas is NOT_ENOUGH_REPLICAS before the append, and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below it during the wait.
// Unknown topics are auto-created when auto.create.topics.enable is on; internal topics
// refuse client writes (INVALID_TOPIC_EXCEPTION). Authorization is Kafka's: WRITE on
// the transactional id for transactional records, WRITE on each topic. A transactional
// batch that would open a transaction in its partition is verified with the transaction
// coordinator first (KIP-890 part 1), from v12 added to the transaction (KIP-890 part 2):
// txn_verify.go.
func handleProduce(s *Server, r *request) reply {
	req := r.body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	validAcks := req.Acks == 0 || req.Acks == 1 || req.Acks == -1

	txnErr := r.produceTxnErr(req)
	// v13 names topics by id: resolved to names here, the rest works on names.
	var unknownID map[int]bool
	if req.Version >= 13 {
		unknownID = s.namesByID(len(req.Topics), func(i int) (*string, [16]byte) {
			return &req.Topics[i].Topic, req.Topics[i].TopicID
		})
	}
	var verdicts map[[2]int]txnVerdict
	if validAcks && txnErr == nil {
		verdicts = s.verifyTxnProduce(r, req)
	}
	var waits []produceWaitPart
	resp.Topics = make([]kmsg.ProduceResponseTopic, 0, len(req.Topics))
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		var topic *metadata.Topic
		topicErr := txnErr
		if topicErr == nil && unknownID[ti] {
			topicErr = kerr.UnknownTopicID
		}
		if topicErr == nil {
			topicErr = r.topicErr(kmsg.ACLOperationWrite, rt.Topic)
		}
		if validAcks && topicErr == nil {
			topic, topicErr = s.topicOrAutoCreate(r, rt.Topic)
		}
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			switch {
			case !validAcks:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case topicErr != nil:
				sp.ErrorCode = errorCode(topicErr)
				sp.ErrorMessage = dataErrMessage(topicErr)
			case topic.Internal():
				// Kafka refuses client writes to internal topics (the group coordinator
				// writes __consumer_offsets through the partition directly).
				sp.ErrorCode = kerr.InvalidTopicException.Code
			default:
				p, err := s.data.replicas.Lookup(rt.Topic, rp.Partition, -1)
				if err == nil && req.Acks == -1 {
					err = s.data.replicas.CheckInSync(rt.Topic, rp.Partition, false)
				}
				if err != nil {
					sp.ErrorCode = errorCode(err)
					break
				}
				recs := rp.Records
				if req.Version < 3 && records.IsLegacy(recs) {
					recs, err = records.ConvertMessageSet(nil, recs)
				}
				var res partition.AppendResult
				if v, ok := verdicts[[2]int{ti, pi}]; ok && err == nil {
					if err = v.err; err == nil {
						res, err = p.AppendVerified(recs, v.guard)
					}
				} else if err == nil {
					res, err = p.Append(recs)
				}
				if err != nil {
					sp.ErrorCode = errorCode(err)
					sp.ErrorMessage = dataErrMessage(err)
					sp.LogStartOffset = p.LogStartOffset()
					break
				}
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
				// acks=1 waits only for the leader's fsync: none when it is done already
				// (flush.messages > 0: DurableEnd is the log end).
				if end := res.LastOffset + 1; req.Acks == -1 || (req.Acks == 1 && p.DurableEnd() < end) {
					waits = append(waits, produceWaitPart{p: p, end: end, ti: ti, pi: pi})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return noReply
	}
	if len(waits) == 0 {
		return now(resp)
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	return async(func(done func(kmsg.Response)) {
		pw := &produceWait{resp: resp, done: done, waits: waits, left: len(waits)}
		pw.mu.Lock() // the callbacks below may run before the timers are set
		if timeout > 0 {
			pw.timer = time.AfterFunc(timeout, pw.timeOut)
		}
		pw.stopCtx = context.AfterFunc(r.ctx, pw.timeOut)
		pw.mu.Unlock()
		for i := range pw.waits {
			w := &pw.waits[i]
			if req.Acks == 1 {
				w.p.WhenFlushed(w.end, func(err error) { pw.finish(w, err) })
				continue
			}
			w.p.WhenDurable(w.end, func(err error) {
				if err == nil {
					err = s.data.replicas.CheckInSync(w.p.Topic(), w.p.Index(), true)
				}
				pw.finish(w, err)
			})
		}
	})
}

// produceWait is an acks=1 or acks=all produce response waiting for its partitions'
// records to be durable. The log's flusher completes each partition (WhenDurable); the request's
// timeout or the end of the connection completes the rest with REQUEST_TIMED_OUT (the
// records stay appended, as in Kafka). The response is handed to done exactly once.
type produceWait struct {
	resp    *kmsg.ProduceResponse
	done    func(kmsg.Response)
	timer   *time.Timer
	stopCtx func() bool

	mu    sync.Mutex
	waits []produceWaitPart
	left  int  // partitions not yet completed (mu)
	sent  bool // done was called (mu)
}

type produceWaitPart struct {
	p         *partition.Partition
	end       int64
	ti, pi    int
	completed bool // mu
}

// finish completes one partition with the result of its durable wait.
func (pw *produceWait) finish(w *produceWaitPart, err error) {
	pw.mu.Lock()
	if pw.sent || w.completed {
		pw.mu.Unlock()
		return
	}
	w.completed = true
	if err != nil {
		pw.failLocked(w, err)
	}
	pw.left--
	if pw.left > 0 {
		pw.mu.Unlock()
		return
	}
	pw.sendLocked()
}

// timeOut completes every partition still waiting with REQUEST_TIMED_OUT.
func (pw *produceWait) timeOut() {
	pw.mu.Lock()
	if pw.sent {
		pw.mu.Unlock()
		return
	}
	for i := range pw.waits {
		if w := &pw.waits[i]; !w.completed {
			w.completed = true
			pw.failLocked(w, context.DeadlineExceeded)
		}
	}
	pw.sendLocked()
}

// failLocked sets a partition's error. pw.mu is held.
func (pw *produceWait) failLocked(w *produceWaitPart, err error) {
	sp := &pw.resp.Topics[w.ti].Partitions[w.pi]
	sp.BaseOffset = -1
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		sp.ErrorCode = kerr.RequestTimedOut.Code
	} else {
		sp.ErrorCode = errorCode(err)
		sp.ErrorMessage = dataErrMessage(err)
	}
}

// sendLocked stops the timers and hands the response over; it unlocks pw.mu.
func (pw *produceWait) sendLocked() {
	pw.sent = true
	if pw.timer != nil {
		pw.timer.Stop()
	}
	if pw.stopCtx != nil {
		pw.stopCtx()
	}
	pw.mu.Unlock()
	pw.done(pw.resp)
}

// dataErrMessage is the error message of a data-plane response entry (nil for no error).
func dataErrMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}

// namesByID resolves the n topics of a request that names them by id (Produce v13,
// TxnOffsetCommit v6): topic(i) gives the i-th topic's name field, set here to the name
// ("" when unknown), and its id. It returns the indexes of the unknown ids (nil if none),
// whose partitions answer UNKNOWN_TOPIC_ID.
func (s *Server) namesByID(n int, topic func(i int) (*string, [16]byte)) map[int]bool {
	im := s.image()
	var unknown map[int]bool
	for i := range n {
		name, id := topic(i)
		*name = ""
		if t, ok := im.TopicByID(id); ok {
			*name = t.Name
		} else {
			if unknown == nil {
				unknown = make(map[int]bool)
			}
			unknown[i] = true
		}
	}
	return unknown
}
