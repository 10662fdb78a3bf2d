package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/replica"
	"github.com/stratalog/strata/txn"
)

// Wiring of the transaction coordinator (package txn, on the coordinator runtime) into
// the Server, as groups.go wires the group coordinator: openData opens it when
// strata.transactions.enable is set (openTxn), loading every partition of __transaction_state
// (created on first use, groups_partition.go); it writes the transactions' markers
// through the replica manager's partitions (txnMarkers), telling the group coordinator
// of the markers it writes to __consumer_offsets (KIP-447). Without it, transactional ids
// are refused as before (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and so are
// transactional batches.

// openTxn creates the transaction coordinator and loads every partition of
// __transaction_state as their leader, then has it follow the replica manager's
// leadership changes of the topic.
func (s *Server) openTxn() (*txn.Coordinator, error) {
	r := s.data.broker
	if r == nil {
		r = config.ResolveBroker(s.opts.Settings)
	}
	c, err := txn.New(&txn.Options{
		NumPartitions: s.internalPartitions(metadata.TransactionStateTopic, int32(r.Int64("transaction.state.log.num.partitions"))),
		OpenLog: func(p int32) (coord.Log, error) {
			return &offsetsPartition{s: s, topic: metadata.TransactionStateTopic, setting: "transaction.state.log.num.partitions", index: p}, nil
		},
		Markers:            txnMarkers{s},
		NewProducerID:      func(ctx context.Context) (int64, error) { return s.data.pids.next(ctx) },
		MaxTimeout:         r.Millis("transaction.max.timeout.ms"),
		AbortInterval:      r.Millis("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
		IDExpiration:       r.Millis("transactional.id.expiration.ms"),
		ExpirationInterval: r.Millis("transaction.remove.expired.transaction.cleanup.interval.ms"),
		Logger:             s.log,
	})
	if err != nil {
		return nil, err
	}
	if err := s.hostCoordinator(c, metadata.TransactionStateTopic); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// txnEnableSetting turns the transaction coordinator on.
const txnEnableSetting = "strata.transactions.enable"

// txns returns the transaction coordinator; errTxnDisabled when the broker does not run
// one, coord.ErrNotAvailable while it shuts down.
func (s *Server) txns() (*txn.Coordinator, error) {
	switch {
	case s.data.txns == nil:
		return nil, errTxnDisabled
	case s.closing():
		return nil, coord.ErrNotAvailable
	}
	return s.data.txns, nil
}

// errTxnDisabled: transactions are off (strata.transactions.enable); answered as Kafka answers a
// transactional id its ACLs deny, a non-retriable error clients surface at once.
var errTxnDisabled = errors.New("server: transactions are not enabled")

// txnMarkers writes the transaction coordinator's markers (txn.MarkerWriter): to a
// partition this broker leads itself (writeMarker), to one another broker of the cluster
// leads with WriteTxnMarkers (sendMarker). A marker the partition refuses as stale (a
// newer epoch of the producer, or a newer coordinator) has nothing left to do: skipped.
type txnMarkers struct{ s *Server }

func (w txnMarkers) WriteMarker(ctx context.Context, tp txn.TopicPartition, m txn.Marker) error {
	var err error
	if leader := w.s.partitionLeader(tp); leader >= 0 && leader != w.s.opts.NodeID {
		err = w.s.sendMarker(ctx, leader, tp, m)
		if errors.Is(err, kerr.UnknownTopicOrPartition) && w.s.partitionLeader(tp) == -2 {
			err = fmt.Errorf("%w: %w", txn.ErrUnknownPartition, err) // deleted meanwhile
		}
	} else {
		err = w.s.writeMarker(ctx, tp, m)
		if errors.Is(err, replica.ErrUnknownTopicOrPartition) {
			err = fmt.Errorf("%w: %w", txn.ErrUnknownPartition, err)
		}
	}
	if errors.Is(err, partition.ErrInvalidProducerEpoch) || errors.Is(err, partition.ErrTransactionCoordinatorFenced) ||
		errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.TransactionCoordinatorFenced) {
		// The partition has seen a newer epoch of the producer (a later transaction ended
		// there already) or a newer coordinator: this marker has nothing left to do.
		w.s.log.Warn("transaction marker refused by the partition; skipped", "topic", tp.Topic, "partition", tp.Partition, "producer_id", m.ProducerID, "err", err)
		return nil
	}
	return err
}

// partitionLeader is the leader of tp in the metadata image: -1 when it has none
// (offline), -2 when the partition does not exist.
func (s *Server) partitionLeader(tp txn.TopicPartition) int32 {
	t, ok := s.image().Topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
		return -2
	}
	return t.Partitions[tp.Partition].Leader
}

// writeMarker appends m to tp, a partition of this broker, and waits until it is
// committed; for __consumer_offsets the group coordinator then makes the transaction's
// offsets visible (or drops them): KIP-447.
func (s *Server) writeMarker(ctx context.Context, tp txn.TopicPartition, m txn.Marker) error {
	p, err := s.data.replicas.Lookup(tp.Topic, tp.Partition, -1)
	if err != nil {
		return err
	}
	res, err := p.AppendMarker(partition.Marker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch})
	if err != nil {
		return err
	}
	if err := p.WaitDurable(ctx, res.LastOffset+1); err != nil {
		return err
	}
	if tp.Topic == metadata.ConsumerOffsetsTopic {
		g, err := s.groups()
		if err != nil {
			return err
		}
		return g.CompleteTxn(tp.Partition, m.ProducerID, m.Commit)
	}
	return nil
}

// txnErrorCode is the error code of a transaction coordinator error for a request of
// version v: PRODUCER_FENCED from fencedSince on, INVALID_PRODUCER_EPOCH before (KIP-588),
// as Kafka answers.
func txnErrorCode(err error, v, fencedSince int16) int16 {
	if errors.Is(err, txn.ErrProducerFenced) && v < fencedSince {
		return kerr.InvalidProducerEpoch.Code
	}
	if errors.Is(err, errTxnDisabled) {
		return kerr.TransactionalIDAuthorizationFailed.Code
	}
	return errorCode(err)
}
