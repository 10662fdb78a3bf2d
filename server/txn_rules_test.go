package server_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
)

// Rules of issue 15 checked over the wire with raw requests at pinned versions, where
// franz-go's transactional producer never sends what the rule is about.

// settled sends req (with wireRequest) until code(resp) is not one of the coordinator's
// transient answers (loading, a previous transaction still ending), and returns it.
func settled[R kmsg.Response](t *testing.T, s *server.Server, req kmsg.Request, code func(R) int16) R {
	t.Helper()
	var resp R
	waitFor(t, kmsg.NameForKey(req.Key()), 30*time.Second, func() bool {
		resp = wireRequest(t, s, req).(R)
		switch code(resp) {
		case kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
			return false
		}
		return true
	})
	return resp
}

// initTxnID is InitProducerId v5 of id (timeout 60 s): the producer id and epoch.
func initTxnID(t *testing.T, s *server.Server, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 5
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	resp := settled(t, s, req, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
	if resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId %s: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// txnOffsets is a transactional producer committing offsets of topic "in" for groups with
// AddOffsetsToTxn and TxnOffsetCommit v3 (transactions v1), and ending its transactions
// with EndTxn v4.
type txnOffsets struct {
	t     *testing.T
	s     *server.Server
	id    string
	pid   int64
	epoch int16
}

func newTxnOffsets(t *testing.T, s *server.Server, id string) *txnOffsets {
	t.Helper()
	pid, epoch := initTxnID(t, s, id)
	return &txnOffsets{t: t, s: s, id: id, pid: pid, epoch: epoch}
}

// commit commits offsets (partition -> offset) of "in" for group in the open transaction,
// with the member fields set by member (if not nil), and returns the error code of
// partition 0 (every partition gets the same).
func (x *txnOffsets) commit(group string, offsets map[int32]int64, member func(*kmsg.TxnOffsetCommitRequest)) int16 {
	x.t.Helper()
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version = 3
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = x.id, x.pid, x.epoch, group
	if r := settled(x.t, x.s, ao, func(r *kmsg.AddOffsetsToTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != 0 {
		x.t.Fatalf("AddOffsetsToTxn %s: %v", group, kerr.ErrorForCode(r.ErrorCode))
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = x.id, group, x.pid, x.epoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	for p, o := range offsets {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p, o, kmsg.StringPtr("m")
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	if member != nil {
		member(req)
	}
	resp := settled(x.t, x.s, req, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
	return resp.Topics[0].Partitions[0].ErrorCode
}

// end ends the open transaction with EndTxn v4.
func (x *txnOffsets) end(commit bool) {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 4
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.pid, x.epoch, commit
	if r := settled(x.t, x.s, req, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != 0 {
		x.t.Fatalf("EndTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

// fetchedOffset is one partition of an OffsetFetch answer.
type fetchedOffset struct {
	offset int64
	epoch  int32
	code   int16
}

// offsetFetch is OffsetFetch v7 of "in" partitions 0 and 1 for group g.
func offsetFetch(t *testing.T, s *server.Server, g string, requireStable bool) map[int32]fetchedOffset {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group, req.RequireStable = 7, g, requireStable
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "in", Partitions: []int32{0, 1}}}
	resp := settled(t, s, req, func(r *kmsg.OffsetFetchResponse) int16 { return r.ErrorCode })
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
		t.Fatalf("OffsetFetch v7: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Topics)
	}
	got := map[int32]fetchedOffset{}
	for _, p := range resp.Topics[0].Partitions {
		got[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.ErrorCode}
	}
	return got
}

// offsetFetchAll is OffsetFetch v8 of every committed offset of group g, require_stable.
func offsetFetchAll(t *testing.T, s *server.Server, g string) map[int32]fetchedOffset {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.RequireStable = 8, true
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: g}}
	resp := settled(t, s, req, func(r *kmsg.OffsetFetchResponse) int16 { return r.Groups[0].ErrorCode })
	got := map[int32]fetchedOffset{}
	for _, rt := range resp.Groups[0].Topics {
		for _, p := range rt.Partitions {
			got[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.ErrorCode}
		}
	}
	return got
}

// TestTxnOffsetFetchRequireStable: KIP-447. Offsets committed in an open transaction are
// invisible to OffsetFetch, which answers the last committed ones; with require_stable
// (v7+) each partition the transaction holds an offset of answers UNSTABLE_OFFSET_COMMIT
// with offset -1 (as Kafka's OffsetMetadataManager), for named partitions and for all of
// the group's (v8, which lists only partitions with a committed offset). An abort leaves
// the earlier offsets, a commit shows the new ones.
func TestTxnOffsetFetchRequireStable(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	txnTopic(t, s.Addr().String(), "in", 2)
	x := newTxnOffsets(t, s, "tx-stable")
	unstable := fetchedOffset{-1, -1, kerr.UnstableOffsetCommit.Code}

	if code := x.commit("g", map[int32]int64{0: 10}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	x.end(true)
	first := map[int32]fetchedOffset{0: {10, -1, 0}, 1: {-1, -1, 0}}
	waitFor(t, "the first commit", 10*time.Second, func() bool { return equalFetched(offsetFetch(t, s, "g", true), first) })

	if code := x.commit("g", map[int32]int64{0: 20, 1: 5}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	if got := offsetFetch(t, s, "g", false); !equalFetched(got, first) {
		t.Fatalf("open transaction, not require_stable: %+v, want %+v", got, first)
	}
	if got := offsetFetch(t, s, "g", true); !equalFetched(got, map[int32]fetchedOffset{0: unstable, 1: unstable}) {
		t.Fatalf("open transaction, require_stable: %+v", got)
	}
	if got := offsetFetchAll(t, s, "g"); !equalFetched(got, map[int32]fetchedOffset{0: unstable}) {
		t.Fatalf("open transaction, all offsets, require_stable: %+v", got)
	}

	x.end(false)
	waitFor(t, "the abort", 10*time.Second, func() bool { return equalFetched(offsetFetch(t, s, "g", true), first) })

	if code := x.commit("g", map[int32]int64{0: 30, 1: 7}, nil); code != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
	}
	x.end(true)
	waitFor(t, "the last commit", 10*time.Second, func() bool {
		return equalFetched(offsetFetch(t, s, "g", true), map[int32]fetchedOffset{0: {30, -1, 0}, 1: {7, -1, 0}})
	})
}

func equalFetched(a, b map[int32]fetchedOffset) bool {
	if len(a) != len(b) {
		return false
	}
	for p, f := range a {
		if b[p] != f {
			return false
		}
	}
	return true
}

// TestTxnInitProducerIDTimeout: a transaction timeout above transaction.max.timeout.ms
// (900000 by default), zero or negative answers INVALID_TRANSACTION_TIMEOUT, as Kafka's
// TransactionCoordinator; the maximum itself is taken. franz-go's producer asking for too
// long a timeout gets the error when it begins its transaction.
func TestTxnInitProducerIDTimeout(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	for _, c := range []struct {
		timeout int32
		want    int16
	}{{900001, kerr.InvalidTransactionTimeout.Code}, {0, kerr.InvalidTransactionTimeout.Code},
		{-1, kerr.InvalidTransactionTimeout.Code}, {900000, 0}, {1, 0}} {
		id := "tx-timeout"
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 5
		req.TransactionalID, req.TransactionTimeoutMillis = &id, c.timeout
		if r := settled(t, s, req, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode }); r.ErrorCode != c.want {
			t.Errorf("timeout %d: %v, want %v", c.timeout, kerr.ErrorForCode(r.ErrorCode), kerr.ErrorForCode(c.want))
		}
	}
	cl := txnClient(t, addr, "tx-kgo-timeout", kgo.TransactionTimeout(900001*time.Millisecond))
	err := cl.BeginTransaction() // kgo initializes its producer id here
	if err == nil {
		err = cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("kgo produce with a timeout above the maximum: %v", err)
	}
}
