package server

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/partition"
)

func init() { register(0, 3, 11, handleProduce) }

// handleProduce answers Produce v3-v11 (RecordBatch v2 only).
//
// Every partition's batches are appended synchronously, in request order, before the
// handler returns (so a connection's produces land in the order sent). acks=0 gets no
// response; acks=1 is answered once appended (Kafka's leader ack, page cache); acks=-1
// waits, in a later reply so the connection keeps reading, until the records are durable
// (fsynced, group commit) — or immediately under flush.messages > 0, where the topic asked
// for Kafka's page-cache durability. A wait longer than the request's timeout answers
// REQUEST_TIMED_OUT for that partition (the records stay appended, as in Kafka).
// Unknown topics are auto-created when auto.create.topics.enable is on; internal topics
// refuse client writes (INVALID_TOPIC_EXCEPTION).
func handleProduce(s *Server, r *request) reply {
	req := r.body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	validAcks := req.Acks == 0 || req.Acks == 1 || req.Acks == -1

	type wait struct {
		p      *partition.Partition
		end    int64
		ti, pi int
	}
	var waits []wait
	resp.Topics = make([]kmsg.ProduceResponseTopic, 0, len(req.Topics))
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		var topic *partition.Topic
		topicErr := error(nil)
		if validAcks {
			topic, topicErr = s.produceTopic(rt.Topic)
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
				p, ok := topic.Partition(rp.Partition)
				if !ok {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					break
				}
				res, err := p.Append(rp.Records)
				if err != nil {
					sp.ErrorCode = errorCode(err)
					sp.ErrorMessage = dataErrMessage(err)
					sp.LogStartOffset = p.LogStartOffset()
					break
				}
				sp.BaseOffset = res.BaseOffset
				sp.LogAppendTime = res.LogAppendTime
				sp.LogStartOffset = res.LogStartOffset
				if req.Acks == -1 {
					waits = append(waits, wait{p: p, end: res.LastOffset + 1, ti: ti, pi: pi})
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
	return later(func() kmsg.Response {
		ctx, cancel := r.ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(r.ctx, timeout)
		}
		defer cancel()
		for _, w := range waits {
			if err := w.p.WaitDurable(ctx, w.end); err != nil {
				sp := &resp.Topics[w.ti].Partitions[w.pi]
				sp.BaseOffset = -1
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					sp.ErrorCode = kerr.RequestTimedOut.Code
				} else {
					sp.ErrorCode = errorCode(err)
					sp.ErrorMessage = dataErrMessage(err)
				}
			}
		}
		return resp
	})
}

// produceTopic finds the topic of a produce request, auto-creating it when the broker
// allows.
func (s *Server) produceTopic(name string) (*partition.Topic, error) {
	m := s.data.parts
	if t, ok := m.Topic(name); ok {
		return t, nil
	}
	return m.AutoCreate(name)
}

// dataErrMessage is the error message of a data-plane response entry (nil for no error).
func dataErrMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}
