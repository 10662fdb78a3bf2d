package server_test

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/tmpfs"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/server"
)

// Full-disk behaviour: every write failure of storage answers KAFKA_STORAGE_ERROR (or
// NOT_COORDINATOR for the group coordinator's writes, as Kafka does), reads keep working,
// and writes resume by themselves once space is back.

// fullDisk is an errorfs injector failing, while on, every write of data (and the
// creations of files and directories) with ENOSPC, as a full file system does. Syncs,
// truncations, renames and removals keep working, as they do on a full disk.
type fullDisk struct{ on atomic.Bool }

func (d *fullDisk) MaybeError(op errorfs.Op, name string) error {
	if !d.on.Load() {
		return nil
	}
	switch op {
	case errorfs.OpWrite, errorfs.OpWriteAt, errorfs.OpMkdirAll:
	case errorfs.OpCreate:
		if _, err := vfs.Default.Stat(name); err == nil {
			return nil // opening an existing file needs no space
		}
	default:
		return nil
	}
	return &iofs.PathError{Op: op.String(), Path: name, Err: fmt.Errorf("%w: %w", errorfs.ErrInjected, syscall.ENOSPC)}
}

// logBuffer collects a broker's log output.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (lb *logBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

func (lb *logBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// lines returns the lines containing s.
func (lb *logBuffer) lines(s string) []string {
	var out []string
	for _, l := range strings.Split(lb.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// startBrokerFS starts a broker on fs (nil: the OS's) with its data in dir.
func startBrokerFS(t *testing.T, dir string, fs vfs.FS, logs io.Writer) *server.Server {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	s, err := server.Start(&server.Options{
		Listen: "127.0.0.1:0", DataDir: dir, FS: fs,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { shutdown(t, s) })
	return s
}

// produceAll sends one raw acks=all Produce request with one batch for each of the
// topic's first n partitions and returns the per-partition answers.
func produceAll(t *testing.T, s *server.Server, topic string, n int32, seed byte) []kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := range n {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 100, Seed: seed})
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return wireRequest(t, s, req).(*kmsg.ProduceResponse).Topics[0].Partitions
}

// checkLogs opens every partition log of topic in the stopped broker's dir and runs
// log.Check on it.
func checkLogs(t *testing.T, dir, topic string, n int32) {
	t.Helper()
	for p := range n {
		l, err := log.Open(filepath.Join(dir, fmt.Sprintf("%s-%d", topic, p)), &log.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Check(); err != nil {
			t.Errorf("%s-%d: %v", topic, p, err)
		}
		l.Close()
	}
}

// storageOutage runs the common scenario on a broker whose disk fills (fill) and empties
// (free): the first produce to every partition of a full disk answers
// KAFKA_STORAGE_ERROR, kgo sees the same error, earlier records stay readable, and once
// space is freed the next produces succeed (a kgo producer retrying across the outage
// included); every acknowledged record is there exactly once and the logs check clean.
func storageOutage(t *testing.T, s *server.Server, fill, free func()) {
	t.Helper()
	const topic, parts = "full", 3
	createTopic(t, s, topic, parts, nil)
	ctx := testCtx(t)
	cl := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	acked := 0
	for i := range 30 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("before-%d", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	for _, p := range produceAll(t, s, topic, parts, 1) {
		if p.ErrorCode != 0 {
			t.Fatalf("produce before the disk is full: partition %d code %d", p.Partition, p.ErrorCode)
		}
		acked += 2
	}

	fill()
	// A full file system still takes writes into pages its files own already: produce
	// until every partition has failed. The first failure of each must be
	// KAFKA_STORAGE_ERROR, and so must the next produce.
	failed := map[int32]bool{}
	for round := 0; len(failed) < parts; round++ {
		if round == 1000 {
			t.Fatalf("partitions %v still take writes after 1000 produces to a full disk", failed)
		}
		for _, p := range produceAll(t, s, topic, parts, 2) {
			switch {
			case p.ErrorCode == 0 && !failed[p.Partition]:
				acked += 2
			case p.ErrorCode != kerr.KafkaStorageError.Code:
				t.Fatalf("produce to a full disk, partition %d: code %d (%v), want KAFKA_STORAGE_ERROR", p.Partition, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
			default:
				failed[p.Partition] = true
			}
		}
	}
	failing := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1), kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	big := &kgo.Record{Value: make([]byte, 16<<10)} // more than any page's free tail
	if err := failing.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.KafkaStorageError) {
		t.Errorf("kgo produce to a full disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	for p := range int32(parts) {
		if r := rawFetch(t, s, topic, p, 0, 0, 1); r.ErrorCode != 0 || len(r.RecordBatches) == 0 {
			t.Errorf("fetch of partition %d while full: code %d, %d bytes", p, r.ErrorCode, len(r.RecordBatches))
		}
	}
	if got := len(consumeAll(t, s, topic, acked)); got != acked {
		t.Errorf("consumed %d records while full, want %d", got, acked)
	}

	// A producer that keeps retrying (kgo's default) across the outage gets through once
	// space is back, without a restart.
	retrying := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	done := make(chan error, 1)
	go func() { done <- retrying.ProduceSync(ctx, kgo.StringRecord("across")).FirstErr() }()
	time.Sleep(200 * time.Millisecond) // let it fail and retry a few times (no timing assertion)
	free()
	if err := <-done; err != nil {
		t.Fatalf("produce retried across the outage: %v", err)
	}
	acked++
	for _, p := range produceAll(t, s, topic, parts, 3) {
		if p.ErrorCode != 0 {
			t.Fatalf("produce after space was freed, partition %d: code %d", p.Partition, p.ErrorCode)
		}
		acked += 2
	}
	for i := range 30 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("after-%d", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	recs := consumeAll(t, s, topic, acked)
	seen := map[string]int{}
	for _, r := range recs {
		if v := string(r.Value); strings.HasPrefix(v, "before-") || strings.HasPrefix(v, "after-") || v == "across" {
			seen[v]++
		}
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %q consumed %d times", v, n)
		}
	}
	if len(recs) != acked || len(seen) != 61 {
		t.Errorf("consumed %d records (%d distinct kgo values), want %d (61)", len(recs), len(seen), acked)
	}
}

// TestStorageErrorFS runs the scenario through the vfs fault seam.
func TestStorageErrorFS(t *testing.T) {
	var disk fullDisk
	var logs logBuffer
	dir := t.TempDir()
	s := startBrokerFS(t, dir, errorfs.Wrap(vfs.Default, &disk), &logs)
	storageOutage(t, s, func() { disk.on.Store(true) }, func() { disk.on.Store(false) })
	shutdown(t, s)
	checkLogs(t, dir, "full", 3)
	// One line when a partition's log starts failing and one when it recovers, not one
	// per failed request.
	if f, r := len(logs.lines("log: storage failure")), len(logs.lines("log: storage recovered")); f < 1 || f > 3 || r != f {
		t.Errorf("%d failure and %d recovery lines, want one of each per failed partition (1-3):\n%s", f, r, logs.String())
	}
}

// TestStorageErrorTmpfs runs the scenario on a real full file system: a small tmpfs.
func TestStorageErrorTmpfs(t *testing.T) {
	dir := tmpfs.Mount(t, 32<<20)
	s := startBrokerFS(t, dir, nil, nil)
	var free func()
	storageOutage(t, s, func() { free = tmpfs.Fill(t, dir) }, func() { free() })
	shutdown(t, s)
	checkLogs(t, dir, "full", 3)
}

// TestStorageErrorAdminAndGroups: with the disk full, CreateTopics answers
// KAFKA_STORAGE_ERROR and OffsetCommit NOT_COORDINATOR (Kafka's answer when the write to
// the coordinator's partition fails with KAFKA_STORAGE_ERROR); both work again once
// space is back, and the committed offset is the last one that succeeded.
func TestStorageErrorAdminAndGroups(t *testing.T) {
	var disk fullDisk
	s := startBrokerFS(t, t.TempDir(), errorfs.Wrap(vfs.Default, &disk), nil)
	createTopic(t, s, "t", 1, nil)
	commit := func(off int64) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation = 8, "g", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, off
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return wireRequest(t, s, req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	create := func(name string) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = 5, 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 2, 1
		req.Topics = append(req.Topics, rt)
		return wireRequest(t, s, req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
	}
	if c := commit(5); c != 0 {
		t.Fatalf("commit: code %d", c)
	}
	disk.on.Store(true)
	if c := commit(7); c != kerr.NotCoordinator.Code {
		t.Errorf("commit to a full disk: code %d (%v), want NOT_COORDINATOR", c, kerr.ErrorForCode(c))
	}
	if c := create("new"); c != kerr.KafkaStorageError.Code {
		t.Errorf("create topic on a full disk: code %d (%v), want KAFKA_STORAGE_ERROR", c, kerr.ErrorForCode(c))
	}
	disk.on.Store(false)
	fetch := func() int64 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group = 7, "g"
		return wireRequest(t, s, req).(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0].Offset
	}
	if off := fetch(); off != 5 {
		t.Errorf("committed offset after the failed commit: %d, want 5", off)
	}
	if c := commit(9); c != 0 {
		t.Errorf("commit after space was freed: code %d", c)
	}
	if off := fetch(); off != 9 {
		t.Errorf("committed offset: %d, want 9", off)
	}
	if c := create("new"); c != 0 {
		t.Errorf("create topic after space was freed: code %d (%v)", c, kerr.ErrorForCode(c))
	}
}
