package server

import (
	"cmp"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/txn"
)

func init() { register(28, 0, 6, handleTxnOffsetCommit) }

// handleTxnOffsetCommit answers TxnOffsetCommit v0-v6 (v3+: member id, generation and
// instance id checked as Kafka checks them, KIP-447): the offsets are written to the
// group's partition in the producer's transaction and become visible with its commit
// marker (group.Coordinator.TxnCommit). The producer must be the transactional id's
// current one (INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING) and its transaction
// must hold the group's partition (AddOffsetsToTxn first; INVALID_TXN_STATE otherwise):
// checked by this broker's transaction coordinator when it coordinates the id, else, with
// transaction.partition.verification.enable, by the coordinator on its broker
// (AddPartitionsToTxn v4+ VerifyOnly, as Kafka's group coordinator verifies, KIP-890
// part 1; without the setting the producer is trusted). From v5
// (transactions v2, KIP-890 part 2) the group's partition is added to the transaction
// instead (AddOffsetsToTxn is not sent), with the transaction coordinator wherever it
// is (txnPartitions). A
// partition of a topic that does not exist answers UNKNOWN_TOPIC_OR_PARTITION and is not
// committed, as OffsetCommit. Authorization is Kafka's: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group (GROUP_AUTHORIZATION_FAILED),
// READ on each topic (TOPIC_AUTHORIZATION_FAILED). v6 names topics by id: an unknown id
// answers UNKNOWN_TOPIC_ID for its partitions, whatever else is wrong (as kfake; Kafka
// resolves the ids first too).
func handleTxnOffsetCommit(s *Server, r *request) reply {
	req := r.body.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	var unknownID map[int]bool
	if req.Version >= 6 {
		unknownID = s.namesByID(len(req.Topics), func(i int) (*string, [16]byte) {
			return &req.Topics[i].Topic, req.Topics[i].TopicID
		})
	}
	fill := func(code func(ti, pi int) int16) kmsg.Response {
		for ti, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for pi, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code(ti, pi)
				if unknownID[ti] {
					rp.ErrorCode = kerr.UnknownTopicID.Code
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	all := func(code int16) kmsg.Response { return fill(func(int, int) int16 { return code }) }
	if err := cmp.Or(r.txnIDErr(kmsg.ACLOperationWrite, req.TransactionalID), r.groupErr(kmsg.ACLOperationRead, req.Group)); err != nil {
		return now(all(errorCode(err)))
	}
	tc, err := s.txns()
	if err != nil {
		if errors.Is(err, errTxnDisabled) {
			return now(all(kerr.TransactionalIDAuthorizationFailed.Code))
		}
		return now(all(errorCode(err)))
	}
	gc, err := s.groups()
	if err != nil {
		return now(all(errorCode(err)))
	}
	offsetsTP := txn.TopicPartition{Topic: metadata.ConsumerOffsetsTopic, Partition: gc.Partition(req.Group)}
	in, err := true, error(nil)
	if req.Version < 5 {
		in, err = tc.InTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, offsetsTP)
	}
	remote := false // verify with the coordinator on another broker (below, off the connection)
	if errors.Is(err, coord.ErrNotCoordinator) && s.opts.Cluster != nil {
		in, err, remote = true, nil, s.data.verifyTxn
	}
	switch {
	case errors.Is(err, txn.ErrProducerFenced): // no PRODUCER_FENCED in TxnOffsetCommit
		return now(all(kerr.InvalidProducerEpoch.Code))
	case err != nil:
		return now(all(errorCode(err)))
	case !in:
		return now(all(kerr.InvalidTxnState.Code))
	}
	cr := &group.TxnCommitRequest{ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		CommitRequest: group.CommitRequest{Group: req.Group, Generation: -1}}
	if req.Version >= 3 {
		cr.Generation, cr.MemberID, cr.InstanceID = req.Generation, req.MemberID, req.InstanceID
	}
	refused := map[[2]int]int16{} // request position of each offset not committed: why
	var idx [][2]int              // request position of each committed offset
	for ti, t := range req.Topics {
		if unknownID[ti] {
			for pi := range t.Partitions {
				refused[[2]int{ti, pi}] = kerr.UnknownTopicID.Code
			}
			continue
		}
		tp, ok := s.image().Topic(t.Topic)
		authErr := r.topicErr(kmsg.ACLOperationRead, t.Topic)
		for pi, p := range t.Partitions {
			switch {
			case authErr != nil:
				refused[[2]int{ti, pi}] = errorCode(authErr)
				continue
			case !ok || p.Partition < 0 || p.Partition >= tp.NumPartitions():
				refused[[2]int{ti, pi}] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			le := p.LeaderEpoch
			if req.Version < 2 {
				le = -1
			}
			cr.Offsets = append(cr.Offsets, group.CommitOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: le, Metadata: p.Metadata})
			idx = append(idx, [2]int{ti, pi})
		}
	}
	if len(cr.Offsets) == 0 {
		return now(fill(func(ti, pi int) int16 { return refused[[2]int{ti, pi}] }))
	}
	return later(func() kmsg.Response {
		if req.Version >= 5 || remote {
			// v5: add the group's partition to the transaction; before, verify it is in.
			code := s.txnPartitions(r.ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TopicPartition{offsetsTP}, remote)[0]
			switch {
			case code == kerr.ProducerFenced.Code: // no PRODUCER_FENCED in TxnOffsetCommit
				code = kerr.InvalidProducerEpoch.Code
			case code == kerr.TransactionAbortable.Code && remote: // not in it: as a local check answers
				code = kerr.InvalidTxnState.Code
			}
			if code != 0 {
				return fill(func(ti, pi int) int16 {
					if c, ok := refused[[2]int{ti, pi}]; ok {
						return c
					}
					return code
				})
			}
		}
		errs, err := gc.TxnCommit(cr)
		codes := map[[2]int]int16{}
		for i, at := range idx {
			if err != nil {
				codes[at] = errorCode(err)
			} else {
				codes[at] = errorCode(errs[i])
			}
		}
		return fill(func(ti, pi int) int16 {
			if code, ok := refused[[2]int{ti, pi}]; ok {
				return code
			}
			return codes[[2]int{ti, pi}]
		})
	})
}
