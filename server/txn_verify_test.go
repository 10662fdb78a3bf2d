package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server"
)

// rawTxn is a transactional producer spoken to with raw requests, to send what a
// well-behaved client never does (a produce to a partition not added to the transaction).
type rawTxn struct {
	t     *testing.T
	cl    *kgo.Client
	id    string
	pid   int64
	epoch int16
	seq   map[int32]int32
}

func newRawTxn(t *testing.T, addr, id string, opts ...kgo.Opt) *rawTxn {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 60000
	resp, err := ip.RequestWith(t.Context(), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	return &rawTxn{t: t, cl: cl, id: id, pid: resp.ProducerID, epoch: resp.ProducerEpoch, seq: map[int32]int32{}}
}

// add is AddPartitionsToTxn (a client's version) of t-part.
func (x *rawTxn) add(part int32) {
	x.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = x.id, x.pid, x.epoch
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "t", Partitions: []int32{part}}}
	resp, err := req.RequestWith(x.t.Context(), x.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		x.t.Fatalf("AddPartitionsToTxn: %v", err)
	}
}

// produce sends one transactional batch to t-part and returns the partition's answer
// (the sequence moves on only when it is taken).
func (x *rawTxn) produce(part int32) kmsg.ProduceResponseTopicPartition {
	x.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &x.id, -1, 10000
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = part
	rp.Records = testutil.Batch(testutil.BatchOptions{ProducerID: x.pid, ProducerEpoch: x.epoch, BaseSequence: x.seq[part], Attributes: batch.TransactionalBit})
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.Partitions = "t", []kmsg.ProduceRequestTopicPartition{rp}
	rt.TopicID = topicID(x.t, x.cl, "t") // by id from Produce v13
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(x.t.Context(), x.cl)
	if err != nil {
		x.t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode == 0 {
		x.seq[part]++
	}
	return p
}

// produceVersion is a client option capping Produce at version v.
func produceVersion(v int16) kgo.Opt {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(0, v)
	return kgo.MaxVersions(vs)
}

// txnV1Client is a client option capping the versions a transactions v2 producer needs
// (Produce v12, EndTxn v5, TxnOffsetCommit v5): kgo then runs transactions v1 whatever
// the broker finalizes, as a client that does not know KIP-890 part 2.
func txnV1Client() kgo.Opt {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(0, 11)
	vs.SetMaxKeyVersion(26, 4)
	vs.SetMaxKeyVersion(28, 4)
	return kgo.MaxVersions(vs)
}

// TestTxnProduceVerification: KIP-890 part 1. A transactional produce to a partition the
// producer did not add to its transaction is refused before anything is appended:
// TRANSACTION_ABORTABLE from Produce v11, INVALID_TXN_STATE (Kafka's message) before;
// once the partition is added it is taken. AddPartitionsToTxn v4's VerifyOnly form (the
// brokers' one) answers the same check without adding anything. With
// transaction.partition.verification.enable=false the produce is taken (v1's hanging
// transaction).
func TestTxnProduceVerification(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 2)

	x := newRawTxn(t, addr, "v", produceVersion(11))
	if p := x.produce(0); p.ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("v11 produce to a partition not added: %v, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(p.ErrorCode))
	}
	old := newRawTxn(t, addr, "v10", produceVersion(10))
	if p := old.produce(0); p.ErrorCode != kerr.InvalidTxnState.Code || p.ErrorMessage == nil || *p.ErrorMessage != "Partition was not added to the transaction" {
		t.Fatalf("v10 produce to a partition not added: %v %v, want INVALID_TXN_STATE", kerr.ErrorForCode(p.ErrorCode), p.ErrorMessage)
	}
	if end := endOffset(t, addr, false); end != 0 {
		t.Fatalf("refused batches appended: end offset %d", end)
	}

	x.add(0)
	if p := x.produce(0); p.ErrorCode != 0 {
		t.Fatalf("produce to an added partition: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := x.produce(0); p.ErrorCode != 0 { // the transaction is open here: no question asked
		t.Fatalf("second produce: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := x.produce(1); p.ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("produce to t-1, not added: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	// The brokers' form: several ids, VerifyOnly.
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = x.id, x.pid, x.epoch, true
	tx.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	other := tx
	other.TransactionalID, other.ProducerID = old.id, old.pid
	fenced := tx
	fenced.TransactionalID, fenced.ProducerEpoch = "v", x.epoch+1
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{tx, other}
	resp, err := req.RequestWith(t.Context(), x.cl)
	if err != nil || resp.Version < 4 || resp.ErrorCode != 0 || len(resp.Transactions) != 2 {
		t.Fatalf("AddPartitionsToTxn v4: %v %+v", err, resp)
	}
	for _, rt := range resp.Transactions {
		want := map[int32]int16{0: 0, 1: kerr.TransactionAbortable.Code}
		if rt.TransactionalID == old.id {
			want[0] = kerr.TransactionAbortable.Code
		}
		for _, p := range rt.Topics[0].Partitions {
			if p.ErrorCode != want[p.Partition] {
				t.Errorf("verify %s t-%d: %v, want %v", rt.TransactionalID, p.Partition, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(want[p.Partition]))
			}
		}
	}
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{fenced}
	if resp, err := req.RequestWith(t.Context(), x.cl); err != nil || resp.Transactions[0].Topics[0].Partitions[0].ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("verify at another epoch: %v %+v", err, resp)
	}
	if p := x.produce(1); p.ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("VerifyOnly added t-1: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	// Produce v12 (transactions v2) adds the partition to the transaction itself.
	v12 := newRawTxn(t, addr, "v12")
	if p := v12.produce(1); p.ErrorCode != 0 {
		t.Fatalf("v12 produce: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"v12"}
	if resp, err := dt.RequestWith(t.Context(), v12.cl); err != nil || len(resp.TransactionStates) != 1 ||
		resp.TransactionStates[0].State != "Ongoing" || len(resp.TransactionStates[0].Topics) != 1 {
		t.Fatalf("after a v12 produce: %v %+v", err, resp)
	}

	off, err := server.Start(&server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: map[string]string{"transaction.partition.verification.enable": "false", "transaction.state.log.num.partitions": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		off.Shutdown(ctx)
	}()
	txnTopic(t, off.Addr().String(), "t", 1)
	y := newRawTxn(t, off.Addr().String(), "w")
	if p := y.produce(0); p.ErrorCode != 0 {
		t.Fatalf("verification off: %v", kerr.ErrorForCode(p.ErrorCode))
	}
}

// TestTxnV2Kgo: ApiVersions finalizes transaction.version 2 (strata.transaction.version),
// so kgo runs transactions v2: its producer epoch moves at every end (EndTxn v5, which
// kgo sends only once it opted in to KIP-890 part 2, with Produce v12 and TxnOffsetCommit
// v5 in place of AddPartitionsToTxn and AddOffsetsToTxn), and committed and aborted
// transactions read as before. With strata.transaction.version=1 kgo stays on v1 (the
// epoch does not move), and so does a v1 client (txnV1Client) of a v2 broker.
func TestTxnV2Kgo(t *testing.T) {
	for _, tc := range []struct {
		version string
		bump    int16
		opts    []kgo.Opt
	}{{"2", 1, nil}, {"1", 0, nil}, {"2", 0, []kgo.Opt{txnV1Client()}}} {
		name := "transaction.version=" + tc.version
		if tc.opts != nil {
			name += ",v1 client"
		}
		t.Run(name, func(t *testing.T) {
			s, _ := startTxnBrokerWith(t, "", map[string]string{"strata.transaction.version": tc.version})
			addr := s.Addr().String()
			txnTopic(t, addr, "t", 2)
			cl := txnClient(t, addr, "kgo-v2", tc.opts...)
			av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(t.Context(), cl)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := finalizedFeature(av, "transaction.version"); !ok || fmt.Sprint(v) != tc.version || av.FinalizedFeaturesEpoch < 0 {
				t.Fatalf("finalized features %+v epoch %d", av.FinalizedFeatures, av.FinalizedFeaturesEpoch)
			}
			txnProduce(t, cl, true, "a", "b")
			_, e1, err := cl.ProducerID(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			txnProduce(t, cl, false, "x")
			txnProduce(t, cl, true, "c")
			_, e3, err := cl.ProducerID(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if e3-e1 != 2*tc.bump {
				t.Fatalf("producer epoch %d after the first commit, %d two ends later: want a bump of %d per end", e1, e3, tc.bump)
			}
			got := txnConsume(t, addr, true, 3)
			slices.Sort(got)
			if !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("read_committed: %v", got)
			}
		})
	}
}

// finalizedFeature returns the level ApiVersions finalized feature name at.
func finalizedFeature(av *kmsg.ApiVersionsResponse, name string) (int16, bool) {
	for _, f := range av.FinalizedFeatures {
		if f.Name == name {
			return f.MaxVersionLevel, f.MinVersionLevel == f.MaxVersionLevel
		}
	}
	return 0, false
}
