package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
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

// ListTransactions lists the transactional ids the brokers coordinate, sorted by id.
func (a *Admin) ListTransactions(ctx context.Context) ([]TransactionSummary, error) {
	ls, err := a.adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return nil, a.cfg.wrap(err, "list transactions", "")
	}
	out := make([]TransactionSummary, 0, len(ls))
	for _, l := range ls.Sorted() {
		out = append(out, TransactionSummary{ID: l.TxnID, State: l.State, ProducerID: l.ProducerID, Coordinator: l.Coordinator})
	}
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
