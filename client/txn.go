package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TransactionSummary is one line of a transaction listing: a transactional id and the
// state of its last transaction.
type TransactionSummary struct {
	ID          string `json:"id" yaml:"id"`
	State       string `json:"state" yaml:"state"` // Empty, Ongoing, PrepareCommit, CompleteCommit …
	ProducerID  int64  `json:"producer_id" yaml:"producer_id"`
	Coordinator int32  `json:"coordinator" yaml:"coordinator"`
}

// TransactionDescription is everything DescribeTransaction knows about a transactional id.
type TransactionDescription struct {
	TransactionSummary `yaml:",inline"`
	ProducerEpoch      int16             `json:"producer_epoch" yaml:"producer_epoch"`
	TimeoutMillis      int32             `json:"timeout_ms" yaml:"timeout_ms"`
	StartMillis        int64             `json:"start_ms" yaml:"start_ms"` // -1: no transaction
	Partitions         []TopicPartitions `json:"partitions" yaml:"partitions"`
}

// TransactionFilter narrows ListTransactions (ListTransactions' filters); the zero value
// lists every transactional id. A transaction is listed if it passes every filter set.
// As in Kafka, an id with no transaction (Empty) has no start and passes LongerThan.
type TransactionFilter struct {
	States      []string      // any of these states (Kafka's names: Ongoing, PrepareCommit …)
	ProducerIDs []int64       // any of these producer ids
	LongerThan  time.Duration // > 0: only transactions started longer ago (ListTransactions v1)
	IDPattern   string        // a regular expression the whole id must match (v2, KIP-1152)
}

// ListTransactions lists the transactional ids the brokers coordinate that pass f, sorted
// by id. A state Kafka does not know, or a pattern the brokers cannot compile, is
// ErrInvalid. Brokers too old for a filter (LongerThan needs ListTransactions v1,
// IDPattern v2) ignore it, as with kadm.
func (a *Admin) ListTransactions(ctx context.Context, f TransactionFilter) ([]TransactionSummary, error) {
	// kadm has no duration argument: the request is built here, and sent to every broker
	// (each coordinator lists its own ids).
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters, req.ProducerIDFilters = f.States, f.ProducerIDs
	if f.LongerThan > 0 {
		req.DurationFilterMillis = f.LongerThan.Milliseconds()
	}
	if f.IDPattern != "" {
		req.TransactionalIDPattern = &f.IDPattern
	}
	out := []TransactionSummary{}
	for _, sh := range a.cl.RequestSharded(ctx, req) {
		err := sh.Err
		if err == nil {
			resp := sh.Resp.(*kmsg.ListTransactionsResponse)
			if len(resp.UnknownStateFilters) > 0 {
				return nil, kindf(ErrInvalid, "unknown transaction state %s (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, PrepareEpochFence)",
					strings.Join(resp.UnknownStateFilters, ", "))
			}
			err = kerr.ErrorForCode(resp.ErrorCode)
			for _, t := range resp.TransactionStates {
				out = append(out, TransactionSummary{ID: t.TransactionalID, State: t.TransactionState, ProducerID: t.ProducerID, Coordinator: sh.Meta.NodeID})
			}
		}
		if err != nil {
			return nil, a.cfg.wrap(err, "list transactions", "")
		}
	}
	slices.SortFunc(out, func(x, y TransactionSummary) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// DescribeTransaction describes transactional id id: its producer, the state of its last
// transaction and the partitions of the open one. It fails with ErrNotFound if the id
// does not exist.
func (a *Admin) DescribeTransaction(ctx context.Context, id string) (*TransactionDescription, error) {
	op, subj := fmt.Sprintf("describe transactional id %q", id), fmt.Sprintf("transactional id %q", id)
	ds, err := a.adm.DescribeTransactions(ctx, id)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	d, err := ds.On(id, nil)
	if err == nil {
		err = d.Err
	}
	if errors.Is(err, kerr.TransactionalIDNotFound) {
		return nil, kindf(ErrNotFound, "%s does not exist", subj)
	}
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	out := &TransactionDescription{
		TransactionSummary: TransactionSummary{ID: id, State: d.State, ProducerID: d.ProducerID, Coordinator: d.Coordinator},
		ProducerEpoch:      d.ProducerEpoch, TimeoutMillis: d.TimeoutMillis, StartMillis: d.StartTimestamp,
		Partitions: []TopicPartitions{},
	}
	for _, t := range d.Topics.Sorted() {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		out.Partitions = append(out.Partitions, TopicPartitions{Topic: t.Topic, Partitions: ps})
	}
	return out, nil
}

// ProducerState is one producer a partition's leader knows (DescribeProducers).
type ProducerState struct {
	ProducerID       int64 `json:"producer_id" yaml:"producer_id"`
	ProducerEpoch    int16 `json:"producer_epoch" yaml:"producer_epoch"`
	LastSequence     int32 `json:"last_sequence" yaml:"last_sequence"`
	LastTimestamp    int64 `json:"last_timestamp" yaml:"last_timestamp"` // ms
	CoordinatorEpoch int32 `json:"coordinator_epoch" yaml:"coordinator_epoch"`
	TxnStartOffset   int64 `json:"txn_start_offset" yaml:"txn_start_offset"` // first offset of its open transaction; -1: none
}

// PartitionProducers is a partition's producers, as its leader knows them.
type PartitionProducers struct {
	Topic     string          `json:"topic" yaml:"topic"`
	Partition int32           `json:"partition" yaml:"partition"`
	Leader    int32           `json:"leader" yaml:"leader"`
	Producers []ProducerState `json:"producers" yaml:"producers"` // by producer id
}

// DescribeProducers describes the producers of topic's partitions (all of them if none
// are given), sorted by partition: what Kafka's kafka-transactions.sh describe-producers
// shows, to find a hanging transaction. A topic or partition that does not exist is
// ErrNotFound.
func (a *Admin) DescribeProducers(ctx context.Context, topic string, partitions ...int32) ([]PartitionProducers, error) {
	op, subj := fmt.Sprintf("describe producers of topic %q", topic), fmt.Sprintf("topic %q", topic)
	if len(partitions) > 0 { // either may be missing
		subj = fmt.Sprintf("topic %q or its partition %s", topic, strings.Trim(fmt.Sprint(partitions), "[]"))
	}
	set := kadm.TopicsSet{topic: {}}
	for _, p := range partitions {
		set[topic][p] = struct{}{}
	}
	ds, err := a.adm.DescribeProducers(ctx, set)
	if err != nil {
		return nil, a.cfg.wrap(err, op, subj)
	}
	out := []PartitionProducers{}
	for _, p := range ds[topic].Partitions.Sorted() {
		if p.Err != nil {
			return nil, a.cfg.wrap(p.Err, op, fmt.Sprintf("partition %d of topic %q", p.Partition, topic))
		}
		pp := PartitionProducers{Topic: topic, Partition: p.Partition, Leader: p.Leader, Producers: []ProducerState{}}
		for _, d := range p.ActiveProducers.Sorted() {
			pp.Producers = append(pp.Producers, ProducerState{ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch, LastSequence: d.LastSequence,
				LastTimestamp: d.LastTimestamp, CoordinatorEpoch: d.CoordinatorEpoch, TxnStartOffset: d.CurrentTxnStartOffset})
		}
		out = append(out, pp)
	}
	if len(out) == 0 {
		return nil, kindf(ErrNotFound, "%s does not exist", subj)
	}
	return out, nil
}
