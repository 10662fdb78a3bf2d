package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
)

// Transactions end to end with franz-go's transactional producer and read_committed
// consumers, against the in-process broker.

var txnSettings = map[string]string{
	"group.initial.rebalance.delay.ms":                            "0",
	"offsets.topic.num.partitions":                                "3",
	"transaction.state.log.num.partitions":                        "3",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": "100",
}

// startTxnBroker starts a broker running the transaction coordinator, on dir (a new
// temporary directory if empty); stop shuts it down (also at the end of the test).
func startTxnBroker(t testing.TB, dir string) (s *server.Server, stop func()) {
	t.Helper()
	return startTxnBrokerWith(t, dir, nil)
}

// startTxnBrokerWith is startTxnBroker with settings added to txnSettings.
func startTxnBrokerWith(t testing.TB, dir string, settings map[string]string) (s *server.Server, stop func()) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	all := maps.Clone(txnSettings)
	maps.Copy(all, settings)
	s, err := server.Start(&server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: all,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func txnClient(t *testing.T, addr, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.TransactionalID(id),
		kgo.TransactionTimeout(10 * time.Second), kgo.DefaultProduceTopic("t")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func txnTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

// txnProduce produces vals in one transaction and ends it.
func txnProduce(t *testing.T, cl *kgo.Client, commit bool, vals ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

// txnConsume reads topic t from the start with the isolation level until it has read
// want records (or, want < 0, until nothing comes for a while), and returns the values.
func txnConsume(t *testing.T, addr string, committed bool, want int) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	if want < 0 {
		deadline = time.Now().Add(1500 * time.Millisecond)
	}
	for time.Now().Before(deadline) && (want < 0 || len(got) < want) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// endOffset is ListOffsets latest of t-0 at the isolation level.
func endOffset(t *testing.T, addr string, committed bool) int64 {
	t.Helper()
	return txnListOffset(t, addr, committed, -1)
}

// txnListOffset is ListOffsets of t-0 for timestamp ts at the isolation level.
func txnListOffset(t *testing.T, addr string, committed bool, ts int64) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatal(err)
	}
	return p.Offset
}

// TestTxnCommitAbortVisibility: committed transactions are visible to both isolation
// levels, aborted ones only to read_uncommitted; markers are control batches, never
// records.
func TestTxnCommitAbortVisibility(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	cl := txnClient(t, addr, "tx-vis")
	txnProduce(t, cl, true, "c1", "c2", "c3")
	txnProduce(t, cl, false, "a1", "a2")
	txnProduce(t, cl, true, "c4")
	if got := txnConsume(t, addr, true, 4); !slices.Equal(got, []string{"c1", "c2", "c3", "c4"}) {
		t.Fatalf("read_committed: %q", got)
	}
	if got := txnConsume(t, addr, false, 6); !slices.Equal(got, []string{"c1", "c2", "c3", "a1", "a2", "c4"}) {
		t.Fatalf("read_uncommitted: %q", got)
	}
	// The markers take an offset each, in control batches (attribute 0x20, transactional)
	// of one record whose key is version 0 and type 1 (commit) or 0 (abort).
	cl2, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	want := map[int64][]byte{3: {0, 0, 0, 1}, 6: {0, 0, 0, 0}, 8: {0, 0, 0, 1}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var all int
	for all < 9 {
		fs := cl2.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", all, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			all++
			key, marker := want[r.Offset]
			if r.Attrs.IsControl() != marker || !r.Attrs.IsTransactional() || (marker && !slices.Equal(r.Key, key)) {
				t.Errorf("offset %d: control %v, transactional %v, key %x", r.Offset, r.Attrs.IsControl(), r.Attrs.IsTransactional(), r.Key)
			}
		})
	}
	// An old client (Fetch v2: message format 1, no control batches) reads the records
	// without the markers, as Kafka's down-conversion.
	var old []int64
	for _, m := range readLegacySet(t, legacyFetch(t, s, 2, "t", 0, 0, 1<<20, 1<<20).RecordBatches, 0) {
		old = append(old, m.offset)
	}
	if !slices.Equal(old, []int64{0, 1, 2, 4, 5, 7}) {
		t.Fatalf("Fetch v2: messages at %v", old)
	}
}

// TestTxnLSO: an open transaction holds read_committed readers (and ListOffsets
// read_committed) at its first offset, records produced after it by others included; its
// commit releases them, waking a read_committed long poll parked at the LSO. ListOffsets
// by timestamp finds no record past the LSO for read_committed. Fetch answers the LSO and
// lists an aborted transaction for read_committed readers.
func TestTxnLSO(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	plain, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// The earliest offset of an empty partition (log start = LSO = 0) is 0 for
	// read_committed too: only timestamp lookups stop at the LSO (kgo refuses a negative
	// listed offset, and franz-go's TestTxnEtl failed on it).
	for _, ts := range []int64{-2, -4} { // earliest, earliest local
		if got := txnListOffset(t, addr, true, ts); got != 0 {
			t.Fatalf("ListOffsets read_committed %d of an empty partition: %d, want 0", ts, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("before"), Timestamp: time.UnixMilli(1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl := txnClient(t, addr, "tx-lso")
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("in-txn"), Timestamp: time.UnixMilli(2000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after"), Timestamp: time.UnixMilli(3000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if lso, hw := endOffset(t, addr, true), endOffset(t, addr, false); lso != 1 || hw != 3 {
		t.Fatalf("LSO %d, HW %d with the transaction open", lso, hw)
	}
	if got := txnConsume(t, addr, true, -1); !slices.Equal(got, []string{"before"}) {
		t.Fatalf("read_committed with the transaction open: %q", got)
	}
	// Lookups by timestamp (1500: the transaction's record; -3: the largest, "after") find
	// nothing past the LSO for read_committed, as Kafka.
	for _, c := range []struct {
		ts                     int64
		committed, uncommitted int64
	}{{500, 0, 0}, {1500, -1, 1}, {-3, -1, 2}} {
		if got := txnListOffset(t, addr, true, c.ts); got != c.committed {
			t.Errorf("ListOffsets read_committed of timestamp %d: %d, want %d", c.ts, got, c.committed)
		}
		if got := txnListOffset(t, addr, false, c.ts); got != c.uncommitted {
			t.Errorf("ListOffsets read_uncommitted of timestamp %d: %d, want %d", c.ts, got, c.uncommitted)
		}
	}
	// A read_committed long poll parked at the LSO (MaxWait 30 s) is woken by the commit
	// (if it comes after the commit, it answers at once, which is fine too).
	woken := make(chan kmsg.FetchResponseTopicPartition, 1)
	id := topicID(t, plain, "t")
	go func() {
		defer close(woken)
		if p, err := readCommittedFetch(ctx, plain, id, 1, 30000); err != nil {
			t.Error(err)
		} else {
			woken <- p
		}
	}()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-woken:
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.LastStableOffset != 4 || p.HighWatermark != 4 || len(p.AbortedTransactions) != 0 {
			t.Fatalf("woken read_committed fetch: %+v", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a read_committed fetch parked at the LSO was not woken by the commit")
	}
	if got := txnConsume(t, addr, true, 3); !slices.Equal(got, []string{"before", "in-txn", "after"}) {
		t.Fatalf("read_committed after the commit: %q", got)
	}
	if lso, hw := endOffset(t, addr, true), endOffset(t, addr, false); lso != hw || hw != 4 {
		t.Fatalf("LSO %d, HW %d after the commit", lso, hw)
	}
	if got := txnListOffset(t, addr, true, 1500); got != 1 {
		t.Fatalf("ListOffsets read_committed of the committed record's timestamp: %d", got)
	}
	// An aborted transaction is listed to read_committed fetches of its offsets.
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	txnProduce(t, cl, false, "aborted")
	var p kmsg.FetchResponseTopicPartition
	waitFor(t, "the abort marker", 10*time.Second, func() bool { // EndTxn answers before the markers are written
		if p, err = readCommittedFetch(ctx, plain, id, 0, 0); err != nil {
			t.Fatal(err)
		}
		return p.LastStableOffset == 6
	})
	if len(p.AbortedTransactions) != 1 || p.AbortedTransactions[0].ProducerID != pid || p.AbortedTransactions[0].FirstOffset != 4 {
		t.Fatalf("read_committed fetch after the abort: LSO %d, aborted %+v (producer %d)", p.LastStableOffset, p.AbortedTransactions, pid)
	}
}

// readCommittedFetch is one read_committed Fetch of partition 0 of topic id from offset.
func readCommittedFetch(ctx context.Context, cl *kgo.Client, id [16]byte, offset int64, maxWait int32) (kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.IsolationLevel = maxWait, 1, 1<<20, 1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id // kgo speaks v13+: by topic id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	return resp.Topics[0].Partitions[0], kerr.ErrorForCode(resp.ErrorCode)
}

// TestTxnFencing: a second producer with the same transactional id fences the first: the
// first's transaction is aborted, its writes and its commit fail.
func TestTxnFencing(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := txnClient(t, addr, "tx-fence")
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	young := txnClient(t, addr, "tx-fence")
	txnProduce(t, young, true, "fresh") // its InitProducerId aborts the zombie's transaction
	err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie2")}).FirstErr()
	if err == nil {
		err = old.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie: %v, want fenced", err)
	}
	if got := txnConsume(t, addr, true, 1); !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("read_committed: %q", got)
	}
}

// TestTxnTimeoutAbortDurable: the coordinator aborts a transaction past its timeout
// (fencing its producer: its commit gets PRODUCER_FENCED); the abort holds across a
// restart, and the records stay invisible to read_committed.
func TestTxnTimeoutAbortDurable(t *testing.T) {
	dir := t.TempDir()
	s, stop := startTxnBroker(t, dir)
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := txnClient(t, addr, "tx-timeout", kgo.TransactionTimeout(500*time.Millisecond))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("abandoned")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for endOffset(t, addr, true) != endOffset(t, addr, false) {
		if time.Now().After(deadline) {
			t.Fatal("the transaction past its timeout was not aborted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The abort bumped the producer's epoch: its commit is fenced, as Kafka's.
	if err := cl.EndTransaction(ctx, kgo.TryCommit); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("commit after the timeout abort: %v, want PRODUCER_FENCED", err)
	}
	cl.Close()
	stop()
	s, _ = startTxnBroker(t, dir)
	addr = s.Addr().String()
	if got := txnConsume(t, addr, true, -1); len(got) != 0 {
		t.Fatalf("read_committed after the restart: %q", got)
	}
	if lso, hw := endOffset(t, addr, true), endOffset(t, addr, false); lso != hw || hw != 2 {
		t.Fatalf("after restart LSO %d, HW %d (want the record and its abort marker)", lso, hw)
	}
}

// TestTxnOpenAcrossRestart: a transaction open when the broker stops is still open after
// the restart (its records invisible to read_committed) and its producer commits it then.
func TestTxnOpenAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s, stop := startTxnBroker(t, dir)
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := txnClient(t, addr, "tx-restart")
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	s, _ = startTxnBroker(t, dir)
	addr = s.Addr().String()
	if lso := endOffset(t, addr, true); lso != 0 {
		t.Fatalf("LSO after restart %d, want 0", lso)
	}
	// The restarted broker listens on another port: the producer's identity commits
	// through a new connection (a new client with the same id would fence it).
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tx-restart", pid, epoch, true
	raw, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	resp, err := req.RequestWith(ctx, raw)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("EndTxn after restart: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	if got := txnConsume(t, addr, true, 3); !slices.Equal(got, []string{"r0", "r1", "r2"}) {
		t.Fatalf("read_committed after the commit: %q", got)
	}
}

// TestTxnConsumeTransformProduce: franz-go's GroupTransactSession reads "in" as a group
// (read_committed), writes each record to "out" and commits its input offsets in the same
// transaction (AddOffsetsToTxn, TxnOffsetCommit); one transaction is aborted midway and
// redone. Every input record is in "out" exactly once for read_committed readers, and the
// committed offsets are the end of "in". Run by kgo under transactions v2 (Produce v12 and
// TxnOffsetCommit v5 add the partitions) and as a v1 client (AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit v4, EndTxn v4) of the same broker.
func TestTxnConsumeTransformProduce(t *testing.T) {
	t.Run("v2", func(t *testing.T) { testTxnConsumeTransformProduce(t) })
	t.Run("v1 client", func(t *testing.T) { testTxnConsumeTransformProduce(t, txnV1Client()) })
}

func testTxnConsumeTransformProduce(t *testing.T, opts ...kgo.Opt) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "in", 2)
	txnTopic(t, addr, "t", 1) // the output ("t": what txnConsume reads)
	const n = 200
	in, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		if err := in.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%03d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.TransactionalID("etl"), kgo.ConsumerGroup("etl-group"),
		kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(2000),
		kgo.TransactionTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done, aborted := 0, false
	for done < n && ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("poll: %v", err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Value: append([]byte("out-"), r.Value...)}, nil)
		})
		abort := !aborted && done > 50
		end := kgo.TryCommit
		if abort {
			end, aborted = kgo.TryAbort, true
		}
		committed, err := sess.End(ctx, end)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += fs.NumRecords()
		}
	}
	if !aborted {
		t.Fatal("no transaction was aborted: the test checks less than it says")
	}
	got := txnConsume(t, addr, true, n)
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range n {
		if k := fmt.Sprintf("out-%03d", i); seen[k] != 1 {
			t.Fatalf("%s seen %d times (read_committed %d records)", k, seen[k], len(got))
		}
	}
	if extra := txnConsume(t, addr, true, -1); len(extra) != n {
		t.Fatalf("read_committed has %d records, want %d", len(extra), n)
	}
	adm := kadm.NewClient(in)
	offs, err := adm.FetchOffsets(ctx, "etl-group")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed offsets sum to %d, want %d", total, n)
	}
}

// TestTxnDisabled: with strata.transactions.enable=false the transaction APIs are not advertised
// and a transactional id is refused, as before.
func TestTxnDisabled(t *testing.T) {
	s, err := server.Start(&server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: map[string]string{"strata.transactions.enable": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range av.ApiKeys {
		if k.ApiKey == 24 || k.ApiKey == 26 {
			t.Fatalf("API %d advertised without transactions", k.ApiKey)
		}
	}
	id := "x"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = &id, 1000
	resp, err := ip.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestTxnDescribe: DescribeTransactions, ListTransactions and DescribeProducers (kadm)
// show an open transaction, then its completion.
func TestTxnDescribe(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := txnClient(t, addr, "tx-desc")
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	described, err := adm.DescribeTransactions(ctx, "tx-desc")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := described["tx-desc"]
	if !ok || d.Err != nil || d.State != "Ongoing" || d.TimeoutMillis != 10000 || len(d.Topics["t"]) != 1 {
		t.Fatalf("described %+v", d)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing", "Bogus"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := listed["tx-desc"]; !ok || l.State != "Ongoing" || l.ProducerID != d.ProducerID {
		t.Fatalf("listed %+v", listed)
	}
	// ListTransactions v2 (KIP-1152): the whole id must match the pattern.
	for pattern, want := range map[string]int{"": 1, "tx-.*": 1, "tx-": 0, "desc": 0, ".*desc": 1, "other|tx-desc": 1} {
		lt := kmsg.NewPtrListTransactionsRequest()
		lt.TransactionalIDPattern = &pattern
		resp, err := lt.RequestWith(ctx, cl)
		if err != nil || resp.Version != 2 || resp.ErrorCode != 0 || len(resp.TransactionStates) != want {
			t.Fatalf("ListTransactions pattern %q: %v %+v, want %d", pattern, err, resp, want)
		}
	}
	bad := "(ab(cd"
	lt := kmsg.NewPtrListTransactionsRequest()
	lt.TransactionalIDPattern = &bad
	if resp, err := lt.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Fatalf("ListTransactions with a bad pattern: %v %+v", err, resp)
	}
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"t": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	producers.EachProducer(func(p kadm.DescribedProducer) {
		found = found || (p.ProducerID == d.ProducerID && p.CurrentTxnStartOffset == 0)
	})
	if !found {
		t.Fatalf("producers %+v", producers)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		described, err = adm.DescribeTransactions(ctx, "tx-desc")
		if err == nil && described["tx-desc"].State == "CompleteCommit" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the commit: %+v %v", described, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"}); err != nil || len(listed) != 0 {
		t.Fatalf("ongoing after the commit: %+v %v", listed, err)
	}
}

// TestTxnListDurationFilter: ListTransactions v1's duration filter passes an id with no
// transaction (Empty, start -1) and not a transaction started less than the duration ago,
// as Kafka's TransactionStateManager.listTransactionStates.
func TestTxnListDurationFilter(t *testing.T) {
	s, _ := startTxnBroker(t, "")
	addr := s.Addr().String()
	txnTopic(t, addr, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := txnClient(t, addr, "tx-open")
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	idle := "tx-idle"
	ip.TransactionalID, ip.TransactionTimeoutMillis = &idle, 10000
	if resp, err := ip.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %+v", err, resp)
	}
	for duration, want := range map[int64][]string{-1: {"tx-idle", "tx-open"}, time.Hour.Milliseconds(): {"tx-idle"}} {
		lt := kmsg.NewPtrListTransactionsRequest()
		lt.DurationFilterMillis = duration
		resp, err := lt.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("ListTransactions duration %d: %v %+v", duration, err, resp)
		}
		var got []string
		for _, ts := range resp.TransactionStates {
			got = append(got, ts.TransactionalID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("ListTransactions duration %d: %v, want %v", duration, got, want)
		}
	}
}
