package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/txn"
)

// KIP-890 part 1: before a transactional produce opens a transaction in a partition, the
// broker asks the transaction coordinator whether the producer added the partition to
// its ongoing transaction (a local call when this broker is the coordinator, else
// AddPartitionsToTxn v4+ with VerifyOnly to the leader of the id's __transaction_state
// partition, as Kafka's AddPartitionsToTxnManager). A partition not in the transaction
// is refused, so a late or stray batch cannot open a transaction that nobody will end
// (a hanging transaction holds the last stable offset, and every read_committed
// consumer, until its timeout). The partition's verification guard
// (partition.StartTxnVerification) makes sure the transaction did not end between the
// answer and the append.
//
// Produce v12 and newer (transactions v2, KIP-890 part 2) do not verify: the broker adds
// the partition to the transaction itself (AddPartitions, locally or with
// AddPartitionsToTxn v4+ without VerifyOnly), whatever
// transaction.partition.verification.enable says.

// txnVerificationSetting turns the verification on.
const txnVerificationSetting = "transaction.partition.verification.enable"

// txnVerdict is what the verification says of one partition of a Produce request: the
// guard to append with (AppendVerified), or the error that answers the partition.
type txnVerdict struct {
	guard *partition.TxnGuard
	err   error
}

// verifyTxnProduce verifies (or, v12+, adds) the transactional partitions of req, by
// request position (topic index, partition index). Partitions that are not
// transactional, not hosted here or not authorized have no verdict (the produce answers
// them as usual); nil when verification is off (before v12), or req is not
// transactional.
func (s *Server) verifyTxnProduce(r *request, req *kmsg.ProduceRequest) map[[2]int]txnVerdict {
	v2 := req.Version >= 12
	if !(s.data.verifyTxn || v2 && s.data.txns != nil) || req.TransactionID == nil || *req.TransactionID == "" {
		return nil
	}
	var (
		out   map[[2]int]txnVerdict
		ask   []txn.TopicPartition
		at    [][2]int
		pid   int64
		epoch int16
	)
	for ti, rt := range req.Topics {
		if r.topicErr(kmsg.ACLOperationWrite, rt.Topic) != nil {
			continue
		}
		for pi, rp := range rt.Partitions {
			h, err := batch.ParseHeader(rp.Records)
			if err != nil || h.Magic != 2 || !h.IsTransactional() {
				continue
			}
			p, err := s.data.replicas.Lookup(rt.Topic, rp.Partition, -1)
			if err != nil {
				continue
			}
			g, need := p.StartTxnVerification(h.ProducerID, h.ProducerEpoch, v2)
			if out == nil {
				out = make(map[[2]int]txnVerdict)
			}
			out[[2]int{ti, pi}] = txnVerdict{guard: g}
			if need {
				ask = append(ask, txn.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
				at = append(at, [2]int{ti, pi})
				pid, epoch = h.ProducerID, h.ProducerEpoch
			}
		}
	}
	if len(ask) == 0 {
		return out
	}
	for i, code := range s.txnPartitions(r.ctx, *req.TransactionID, pid, epoch, ask, !v2) {
		if code != 0 {
			out[at[i]] = txnVerdict{err: produceVerifyErr(code, req.Version)}
		}
	}
	return out
}

// txnPartitions asks the coordinator of transactional id id whether tps are in the
// ongoing transaction of producer pid at epoch (verify), else to add them to it: an error
// code per partition (0: they are), as the coordinator answers AddPartitionsToTxn v4+.
func (s *Server) txnPartitions(ctx context.Context, id string, pid int64, epoch int16, tps []txn.TopicPartition, verify bool) []int16 {
	all := func(code int16) []int16 { return slices.Repeat([]int16{code}, len(tps)) }
	c, err := s.txns()
	if err != nil {
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	var errs []error
	if verify {
		errs, err = c.Verify(id, pid, epoch, tps)
	} else {
		err = c.AddPartitions(ctx, id, pid, epoch, tps)
		errs = make([]error, len(tps))
	}
	if errors.Is(err, coord.ErrNotCoordinator) && s.opts.Cluster != nil {
		return s.txnPartitionsRemote(ctx, c.Partition(id), id, pid, epoch, tps, verify)
	}
	if err != nil {
		return all(errorCode(err))
	}
	codes := make([]int16, len(tps))
	for i, err := range errs {
		codes[i] = errorCode(err)
	}
	return codes
}

// txnPartitionsRemote is txnPartitions through the broker leading partition part of
// __transaction_state: AddPartitionsToTxn v4+. The errors are Kafka's
// AddPartitionsToTxnManager's: no leader is COORDINATOR_NOT_AVAILABLE, no answer
// NETWORK_EXCEPTION, a refused CLUSTER_ACTION INVALID_TXN_STATE.
func (s *Server) txnPartitionsRemote(ctx context.Context, part int32, id string, pid int64, epoch int16, tps []txn.TopicPartition, verify bool) []int16 {
	all := func(code int16) []int16 { return slices.Repeat([]int16{code}, len(tps)) }
	leader := s.partitionLeader(txn.TopicPartition{Topic: metadata.TransactionStateTopic, Partition: part})
	if leader < 0 {
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	br, err := s.peer(leader, peerTxn)
	if err != nil {
		s.log.Warn("transactional produce: no client of the coordinator", "transactional_id", id, "broker", leader, "err", err)
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	t := kmsg.NewAddPartitionsToTxnRequestTransaction()
	t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = id, pid, epoch, verify
	for _, tp := range tps {
		if n := len(t.Topics); n == 0 || t.Topics[n-1].Topic != tp.Topic {
			rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			rt.Topic = tp.Topic
			t.Topics = append(t.Topics, rt)
		}
		rt := &t.Topics[len(t.Topics)-1]
		rt.Partitions = append(rt.Partitions, tp.Partition)
	}
	req.Transactions = append(req.Transactions, t)
	resp, err := req.RequestWith(ctx, br)
	// The coordinator answers an add at once (TryAddPartitions), CONCURRENT_TRANSACTIONS
	// while the previous transaction's markers are written: ask again for a while, as a
	// local AddPartitions would wait.
	for deadline := time.Now().Add(remoteTxnWait); !verify && err == nil && concurrent(resp) && time.Now().Before(deadline); {
		select {
		case <-time.After(remoteTxnBackoff):
		case <-ctx.Done():
		}
		resp, err = req.RequestWith(ctx, br)
	}
	switch {
	case err != nil:
		s.log.Warn("transactional produce: no answer from the coordinator", "transactional_id", id, "broker", leader, "err", err)
		return all(kerr.NetworkException.Code)
	case resp.ErrorCode == kerr.ClusterAuthorizationFailed.Code:
		return all(kerr.InvalidTxnState.Code)
	case resp.ErrorCode != 0:
		return all(resp.ErrorCode)
	}
	got := map[txn.TopicPartition]int16{}
	for _, rt := range resp.Transactions {
		for _, tt := range rt.Topics {
			for _, p := range tt.Partitions {
				got[txn.TopicPartition{Topic: tt.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	codes := make([]int16, len(tps))
	for i, tp := range tps {
		code, ok := got[tp]
		if !ok {
			code = kerr.UnknownServerError.Code // the coordinator left it out
		}
		codes[i] = code
	}
	return codes
}

// concurrent reports whether an AddPartitionsToTxn v4+ answer is CONCURRENT_TRANSACTIONS.
func concurrent(resp *kmsg.AddPartitionsToTxnResponse) bool {
	for _, t := range resp.Transactions {
		for _, tt := range t.Topics {
			for _, p := range tt.Partitions {
				if p.ErrorCode == kerr.ConcurrentTransactions.Code {
					return true
				}
			}
		}
	}
	return resp.ErrorCode == kerr.ConcurrentTransactions.Code
}

// remoteTxnWait bounds how long a broker asks the coordinator again to add partitions
// while the previous transaction's markers are written (the coordinator's own wait for a
// local add, txn.Options.EndWait's default); remoteTxnBackoff is the pause between asks.
const (
	remoteTxnWait    = time.Second
	remoteTxnBackoff = 5 * time.Millisecond
)

// produceVerifyErr is the Produce error of a verification's error code, as Kafka's
// ReplicaManager and AddPartitionsToTxnManager translate them for each Produce version:
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE is INVALID_TXN_STATE
// up to v10; the coordinator's retriable errors are NOT_ENOUGH_REPLICAS (which older
// clients retry without a metadata refresh), CONCURRENT_TRANSACTIONS too before v12.
func produceVerifyErr(code, version int16) error {
	switch {
	case code == kerr.ProducerFenced.Code:
		code = kerr.InvalidProducerEpoch.Code
	case code == kerr.TransactionAbortable.Code && version <= 10:
		code = kerr.InvalidTxnState.Code
	}
	switch code {
	case kerr.InvalidTxnState.Code:
		return codedErr{kerr.InvalidTxnState, "Partition was not added to the transaction"}
	case kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code,
		kerr.NotCoordinator.Code, kerr.ConcurrentTransactions.Code:
		if code != kerr.ConcurrentTransactions.Code || version < 12 {
			return codedErr{kerr.NotEnoughReplicas, "Unable to verify the partition has been added to the transaction. Underlying error: " + kerr.ErrorForCode(code).(*kerr.Error).Message}
		}
	}
	return kerr.ErrorForCode(code)
}

// codedErr is a Kafka error with the message a response carries (Kafka's custom
// exception messages).
type codedErr struct {
	code *kerr.Error
	msg  string
}

func (e codedErr) Error() string { return e.msg }
func (e codedErr) Unwrap() error { return e.code }
