package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// Jepsen-style checks of replication with real processes: idempotent acks=all producers
// write to a replication-factor-3 topic of a three-process cluster while a fault is
// injected; a history records every acknowledged record; after recovery the checker
// reads every partition back and verifies that each acknowledged record is present
// exactly once, that no record at all is duplicated, and that each producer's records
// are in its produce order within their partition; then that the three replicas of each
// partition are the same byte for byte (their segment files: diffReplicas).

// history is what the producers were told: every acknowledged record by value.
type history struct {
	mu    sync.Mutex
	acks  map[string]ackedRecord // value -> where it was acknowledged
	first map[int32]time.Time    // partition -> first ack of a record produced after mark
	mark  time.Time              // the fault's instant (zero: none yet)
	fails map[string]int         // error text -> count of records that failed
}

type ackedRecord struct {
	partition int32
	offset    int64
}

func newHistory() *history {
	return &history{acks: map[string]ackedRecord{}, first: map[int32]time.Time{}, fails: map[string]int{}}
}

func (h *history) record(r *kgo.Record, err error) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.fails[err.Error()]++
		return
	}
	h.acks[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
	if !h.mark.IsZero() && r.Timestamp.After(h.mark) {
		if _, ok := h.first[r.Partition]; !ok {
			h.first[r.Partition] = now
		}
	}
}

func (h *history) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acks)
}

// setMark starts measuring the window from now.
func (h *history) setMark() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mark = time.Now()
	clear(h.first)
	return h.mark
}

// window is the time from the mark to the first acknowledgement of a record produced
// after it, on the slowest of partitions; ok is false while a partition has none.
func (h *history) window(partitions int32) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var w time.Duration
	for p := range partitions {
		at, ok := h.first[p]
		if !ok {
			return 0, false
		}
		w = max(w, at.Sub(h.mark))
	}
	return w, true
}

// load is a set of idempotent acks=all producers, one goroutine each, every producer
// writing "producer-partition-seq" values to every partition in turn.
type load struct {
	h       *history
	cls     []*kgo.Client
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

func startLoad(t *testing.T, c *procCluster, topic string, partitions int32, producers int) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{h: newHistory(), cancel: cancel}
	for p := range producers {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(0), kgo.MaxBufferedRecords(64), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			// kgo's defaults would dominate the window: metadata at most every 5 s, and
			// 10 s + 10 s before it gives up on a produce to a stopped (not killed) leader.
			kgo.MetadataMinAge(100*time.Millisecond), kgo.ProduceRequestTimeout(3*time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		l.cls = append(l.cls, cl)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; ctx.Err() == nil; seq++ {
				part := int32(seq) % partitions
				r := &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "%d-%d-%d", p, part, seq), Timestamp: time.Now()}
				cl.Produce(ctx, r, l.h.record) // blocks while 64 records are buffered
			}
		}()
	}
	t.Cleanup(func() { // a test that failed before stop
		if !l.stopped {
			l.cancel()
			l.wg.Wait()
			for _, cl := range l.cls {
				cl.Close()
			}
		}
	})
	return l
}

// stop ends the load: no new record, records not yet sent fail (canceled, never
// acknowledged), and those in flight get until the deadline of ctx.
func (l *load) stop(t *testing.T, ctx context.Context) {
	t.Helper()
	l.stopped = true
	l.cancel()
	l.wg.Wait()
	for _, cl := range l.cls {
		if err := cl.Flush(ctx); err != nil {
			t.Logf("flush: %v (records still in flight are not acknowledged)", err)
		}
		cl.Close()
	}
}

// waitAcks waits until the history has n more acknowledgements than now.
func (l *load) waitAcks(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	want := l.h.count() + n
	for l.h.count() < want {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d acknowledgements", l.h.count(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createRF3 creates topic with partitions of replication factor 3 through node i+1.
func createRF3(t *testing.T, ctx context.Context, c *procCluster, i int, topic string, partitions int32) {
	t.Helper()
	r := kmsg.NewPtrCreateTopicsRequest()
	r.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 3
	r.Topics = append(r.Topics, rt)
	resp, err := req[*kmsg.CreateTopicsResponse](ctx, c.client(t, i), r)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %v", topic, err, kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
}

// partitionsOf returns node i+1's view of topic's partitions.
func partitionsOf(m *kmsg.MetadataResponse, topic string) []kmsg.MetadataResponseTopicPartition {
	for _, tp := range m.Topics {
		if *tp.Topic == topic {
			return tp.Partitions
		}
	}
	return nil
}

// waitInSync waits until node i+1 sees every partition of topic led, with all three
// replicas in the ISR.
func (c *procCluster) waitInSync(t *testing.T, ctx context.Context, i int, topic string, partitions int32) *kmsg.MetadataResponse {
	t.Helper()
	return c.waitMetadata(t, ctx, i, topic+" fully in sync", func(m *kmsg.MetadataResponse) bool {
		ps := partitionsOf(m, topic)
		if len(ps) != int(partitions) {
			return false
		}
		for _, p := range ps {
			if p.Leader < 0 || len(p.ISR) != 3 || p.ErrorCode != 0 {
				return false
			}
		}
		return true
	})
}

// check reads every partition of topic from its leader up to the high watermark and
// verifies the history against it: every acknowledged value present exactly once, at
// its acknowledged offset; no value twice; each producer's values in a partition in
// sequence order.
func check(t *testing.T, ctx context.Context, c *procCluster, topic string, partitions int32, h *history) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	start := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	for p := range partitions {
		o, ok := ends.Lookup(topic, p)
		if !ok {
			t.Fatalf("no end offset of partition %d", p)
		}
		want[p] = o.Offset
		start[p] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: start})
	seen := map[string]ackedRecord{}
	next := map[int32]int64{} // next offset expected per partition
	last := map[string]int{}  // producer-partition -> last sequence read
	dups, reorders := 0, 0
	for done := false; !done; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading back: %v (read up to %v of %v)", ctx.Err(), next, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			v := string(r.Value)
			if prev, ok := seen[v]; ok {
				dups++
				if dups <= 10 {
					t.Errorf("value %s at partition %d offsets %d and %d", v, r.Partition, prev.offset, r.Offset)
				}
				return
			}
			seen[v] = ackedRecord{r.Partition, r.Offset}
			i := strings.LastIndexByte(v, '-')
			key := v[:i]
			seq, _ := strconv.Atoi(v[i+1:])
			if s, ok := last[key]; ok && seq <= s {
				reorders++
				if reorders <= 10 {
					t.Errorf("partition %d offset %d: %s after sequence %d", r.Partition, r.Offset, v, s)
				}
			}
			last[key] = seq
		})
		done = true
		for p, end := range want {
			if next[p] < end {
				done = false
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	lost := 0
	for v, a := range h.acks {
		got, ok := seen[v]
		switch {
		case !ok:
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged %s (partition %d offset %d) lost", v, a.partition, a.offset)
			}
		case got != a:
			t.Errorf("acknowledged %s at partition %d offset %d, read at partition %d offset %d", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	t.Logf("checker: %d acknowledged, %d read, %d lost, %d duplicated, %d out of order; failed records by error: %v",
		len(h.acks), len(seen), lost, dups, reorders, h.fails)
}

const jepsenTopic, jepsenPartitions = "jepsen", 3

// jepsenStart starts a three-process cluster, creates the RF 3 topic (its leaders one
// per broker), waits until it is in sync, and starts three producers; it returns once
// they have 300 acknowledgements.
func jepsenStart(t *testing.T) (*procCluster, context.Context, *load) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs three strata processes")
	}
	c := startProcCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	t.Cleanup(cancel)
	c.waitMetadata(t, ctx, 0, "three brokers", func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
	createRF3(t, ctx, c, 0, jepsenTopic, jepsenPartitions)
	c.waitInSync(t, ctx, 0, jepsenTopic, jepsenPartitions)
	l := startLoad(t, c, jepsenTopic, jepsenPartitions, 3)
	l.waitAcks(t, ctx, 300)
	return c, ctx, l
}

// waitWindow waits until every partition has acknowledged a record produced after the
// history's mark and returns the window; it fails the test after limit.
func (l *load) waitWindow(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if w, ok := l.h.window(jepsenPartitions); ok {
			l.h.mu.Lock()
			for p, at := range l.h.first {
				t.Logf("partition %d: first acknowledgement after %v", p, at.Sub(l.h.mark))
			}
			l.h.mu.Unlock()
			return w
		}
		if time.Since(start) > limit {
			t.Fatalf("no acks=all produce on every partition within %v", limit)
		}
	}
}

// finish stops the load (buffered records get 20 s), waits until node i+1 sees every
// partition in sync, and runs the checker and the replica comparison.
func (l *load) finish(t *testing.T, ctx context.Context, c *procCluster, i int) {
	t.Helper()
	flushCtx, flushCancel := context.WithTimeout(ctx, 20*time.Second)
	l.stop(t, flushCtx)
	flushCancel()
	c.waitInSync(t, ctx, i, jepsenTopic, jepsenPartitions)
	check(t, ctx, c, jepsenTopic, jepsenPartitions, l.h)
	c.sameReplicas(t, ctx, jepsenTopic)
	for p := range int32(jepsenPartitions) {
		if diff, err := diffReplicas(c.dirs, jepsenTopic, p); err != nil || diff != "" {
			t.Errorf("replicas of %s-%d: %s%v", jepsenTopic, p, diff, err)
		}
	}
}

// diffReplicas compares the replicas of partition p of topic in the data directories
// dirs byte for byte: each one's segment files (<base>.log, batches back to back with
// nothing else, in base-offset order) concatenated, which is the partition's log from
// its start. It returns "" when they are all equal, else where the first one that
// differs from the first directory's does. Called when the replicas are quiescent and of
// one size (sameReplicas), the high watermark being every log's end, it checks that
// every replica equals the leader's log up to the high watermark.
func diffReplicas(dirs []string, topic string, p int32) (string, error) {
	var first []byte
	for i, dir := range dirs {
		pdir := filepath.Join(dir, metadata.PartitionDir(topic, p))
		names, err := filepath.Glob(filepath.Join(pdir, "*.log"))
		if err != nil {
			return "", err
		}
		if len(names) == 0 {
			return "", fmt.Errorf("%s: no segment", pdir)
		}
		slices.Sort(names) // 20-digit base offsets: name order is offset order
		var log []byte
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return "", err
			}
			log = append(log, b...)
		}
		if i == 0 {
			first = log
			continue
		}
		if !bytes.Equal(log, first) {
			at := 0
			for at < min(len(log), len(first)) && log[at] == first[at] {
				at++
			}
			return fmt.Sprintf("the log in %s (%d bytes) differs from the one in %s (%d bytes) from byte %d", dir, len(log), dirs[0], len(first), at), nil
		}
	}
	return "", nil
}

// sameReplicas waits until the three brokers report the same size for each partition of
// topic in DescribeLogDirs (the followers have fetched everything the leader has).
func (c *procCluster) sameReplicas(t *testing.T, ctx context.Context, topic string) {
	t.Helper()
	var sizes map[int32][]int64
	for ctx.Err() == nil {
		sizes = map[int32][]int64{}
		for i := range 3 {
			resp, err := req[*kmsg.DescribeLogDirsResponse](ctx, c.client(t, i), kmsg.NewPtrDescribeLogDirsRequest())
			if err != nil {
				continue
			}
			for _, d := range resp.Dirs {
				for _, tp := range d.Topics {
					if tp.Topic == topic {
						for _, p := range tp.Partitions {
							sizes[p.Partition] = append(sizes[p.Partition], p.Size)
						}
					}
				}
			}
		}
		same := len(sizes) == jepsenPartitions
		for _, s := range sizes {
			same = same && len(s) == 3 && s[0] == s[1] && s[1] == s[2]
		}
		if same {
			t.Logf("replicas of %s: sizes %v on every broker", topic, sizes)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replicas of %s differ: sizes per partition %v", topic, sizes)
}

// TestJepsenProcessKillLeader kills -9 the broker leading a partition of an RF 3 topic
// under idempotent acks=all load — a broker that is not the controller, and the
// controller (a Raft election comes first) — : a new leader serves produce without
// waiting on a timeout (the window is logged: docs/benchmarks.md measures the 2 s goal
// from it; see failoverBound), the killed node restarts and rejoins the ISR, and the
// checker finds every acknowledged record exactly once, in order, and every replica's
// log the same byte for byte.
func TestJepsenProcessKillLeader(t *testing.T) {
	for _, controller := range []bool{false, true} {
		t.Run(fmt.Sprintf("controller=%v", controller), func(t *testing.T) {
			c, ctx, l := jepsenStart(t)
			m, err := c.metadata(ctx, c.client(t, 0))
			if err != nil {
				t.Fatal(err)
			}
			var leader int32 = -1
			for _, p := range partitionsOf(m, jepsenTopic) {
				if (p.Leader == m.ControllerID) == controller {
					leader = p.Leader
				}
			}
			if leader < 0 {
				t.Fatalf("no partition led by a broker that is the controller (%v): %+v", controller, partitionsOf(m, jepsenTopic))
			}
			dead := int(leader - 1)
			l.h.setMark()
			c.nodes[dead].kill(t)
			window := l.waitWindow(t, 30*time.Second)
			t.Logf("leader %d (controller %d) killed: every partition acknowledged an acks=all produce after %v", leader, m.ControllerID, window)
			if window > failoverBound {
				t.Errorf("failover window %v, want < %v (a failover that waited on a timeout)", window, failoverBound)
			}
			l.waitAcks(t, ctx, 300)
			c.nodes[dead] = c.launch(t, dead)
			c.nodes[dead].waitReady(t)
			l.waitAcks(t, ctx, 300)
			l.finish(t, ctx, c, (dead+1)%3)
		})
	}
}

// failoverBound is what TestJepsenProcessKillLeader allows from the kill to an acks=all
// produce acknowledged on every partition. The test is about what a failover keeps (every
// acknowledged record), not its speed: the 2 s goal (about 1–1.6 s measured) is the
// benchmark's, docs/benchmarks.md. By the settings, the fast path takes at most a Raft
// election (heartbeat timeout 0.5–1 s, then a pre-vote and a vote), the fencing of the
// killed broker (at most broker.session.timeout.ms, 1.5 s), a follower's fetch retry
// (at most replica.fetch.backoff.ms, 1 s) and the client's metadata refresh (100 ms):
// about 4 s, which a loaded 2-core machine stretched to 6 s. A failover that falls back
// on a timeout instead — the client waiting out its request timeout (3 s + 2 s) on the
// dead broker, an election that failed and was retried — takes longer than this.
const failoverBound = 10 * time.Second

// TestJepsenProcessKillAll kills -9 the three nodes at once under load and restarts
// them: produce resumes, and every acknowledged record is there exactly once, in order,
// with the same bytes on every replica.
func TestJepsenProcessKillAll(t *testing.T) {
	c, ctx, l := jepsenStart(t)
	for _, b := range c.nodes {
		if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range c.nodes {
		err := <-b.done // reaped
		b.done <- err
		c.nodes[i] = c.launch(t, i)
	}
	l.h.setMark()
	for _, b := range c.nodes {
		b.waitReady(t)
	}
	t.Logf("all three killed and restarted: every partition acknowledged a produce %v after the restart", l.waitWindow(t, 60*time.Second))
	l.waitAcks(t, ctx, 300)
	l.finish(t, ctx, c, 0)
}

// TestJepsenProcessStopFollower stops (SIGSTOP) one node under load: each partition it
// follows drops it from the ISR and each it leads fails over, and produce continues on
// every partition; on SIGCONT it rejoins every ISR, and the checker passes.
func TestJepsenProcessStopFollower(t *testing.T) {
	c, ctx, l := jepsenStart(t)
	m, err := c.metadata(ctx, c.client(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	stopped := int(m.ControllerID) % 3 // not the controller: node stopped+1
	watch := (stopped + 1) % 3
	if err := c.nodes[stopped].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	l.h.setMark()
	window := l.waitWindow(t, 40*time.Second)
	t.Logf("node %d stopped: every partition acknowledged a produce after %v", stopped+1, window)
	// Fencing takes ~1.5 s; the client may then spend up to two of its 5 s request
	// timeouts on the stopped node (the produce in flight, then a metadata or produce
	// retry sent there before it learns the new leader): 11 s was seen in CI.
	if window > 16*time.Second {
		t.Errorf("produce stalled %v with one node stopped, want < 16 s (fencing + at most two of the client's 5 s request timeouts)", window)
	}
	c.waitMetadata(t, ctx, watch, "the stopped node out of every ISR", func(m *kmsg.MetadataResponse) bool {
		for _, p := range partitionsOf(m, jepsenTopic) {
			if slices.Contains(p.ISR, int32(stopped+1)) || p.Leader < 0 {
				return false
			}
		}
		return true
	})
	l.waitAcks(t, ctx, 300)
	if err := c.nodes[stopped].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c.waitInSync(t, ctx, watch, jepsenTopic, jepsenPartitions)
	l.waitAcks(t, ctx, 300)
	l.finish(t, ctx, c, watch)
}

// TestJepsenProcessStopTwo stops (SIGSTOP) two of the three nodes under load: with the
// controller quorum gone the ISR cannot shrink, so no record produced after the stop
// is acknowledged while they are stopped (longer than the session timeout); after
// SIGCONT produce is acknowledged on every partition within 30 s, and the checker
// passes.
func TestJepsenProcessStopTwo(t *testing.T) {
	c, ctx, l := jepsenStart(t)
	stopped := []int{0, 1}
	for _, i := range stopped {
		if err := c.nodes[i].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	l.h.setMark()
	time.Sleep(time.Second) // answers already on their way arrive
	before := l.h.count()
	time.Sleep(4 * time.Second) // the fault's length: past broker.session.timeout.ms
	l.h.mu.Lock()
	during, acked := len(l.h.first), len(l.h.acks)-before
	l.h.mu.Unlock()
	if during != 0 || acked != 0 {
		t.Errorf("with two of three nodes stopped, %d acks=all acknowledgements (%d partitions acknowledged a record produced after the stop)", acked, during)
	}
	for _, i := range stopped {
		if err := c.nodes[i].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	l.h.setMark()
	t.Logf("two nodes continued: every partition acknowledged a produce after %v", l.waitWindow(t, 30*time.Second))
	l.waitAcks(t, ctx, 300)
	l.finish(t, ctx, c, 2)
}

// TestJepsenDiffReplicas: the replica comparison finds equal logs equal whatever their
// segments, and reports the first byte where one replica's log differs, or where one is
// shorter.
func TestJepsenDiffReplicas(t *testing.T) {
	write := func(segments map[string]string) string {
		dir := t.TempDir()
		pdir := filepath.Join(dir, metadata.PartitionDir("j", 0))
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range segments {
			if err := os.WriteFile(filepath.Join(pdir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	const a, b = "00000000000000000000.log", "00000000000000000100.log"
	one := write(map[string]string{a: "abc", b: "def", "00000000000000000000.index": "x"})
	rolled := write(map[string]string{a: "abcdef"}) // the same bytes in one segment
	flipped := write(map[string]string{a: "abc", b: "dXf"})
	short := write(map[string]string{a: "abc", b: "de"})
	for _, tc := range []struct {
		dirs []string
		want string // "" : equal
	}{
		{[]string{one, rolled, one}, ""},
		{[]string{one, one, flipped}, "from byte 4"},
		{[]string{one, short}, "(5 bytes) differs from the one in " + one + " (6 bytes) from byte 5"},
	} {
		diff, err := diffReplicas(tc.dirs, "j", 0)
		if err != nil || (tc.want == "") != (diff == "") || !strings.Contains(diff, tc.want) {
			t.Errorf("%v: %q %v, want %q", tc.dirs, diff, err, tc.want)
		}
	}
	if _, err := diffReplicas([]string{one, t.TempDir()}, "j", 0); err == nil {
		t.Error("a replica without segments: no error")
	}
}

// commits is what the members of a group were told about their offset commits: the
// highest offset acknowledged per partition, and how many commits succeeded since the
// mark.
type commits struct {
	mu        sync.Mutex
	max       map[int32]int64
	sinceMark int
	marked    bool
}

// note records the partitions of an OffsetCommit answer that succeeded.
func (c *commits) note(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := map[int32]int64{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			sent[rp.Partition] = rp.Offset
		}
	}
	ok := false
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode == 0 {
				ok = true
				c.max[rp.Partition] = max(c.max[rp.Partition], sent[rp.Partition])
			}
		}
	}
	if ok && c.marked {
		c.sinceMark++
	}
}

func (c *commits) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.sinceMark }

// TestJepsenProcessKillCoordinator kills -9 the coordinator of a consumer group while two
// members of the group consume the RF 3 topic under acks=all load and commit what they
// polled after each poll: the group's partition of __consumer_offsets (RF 3) moves to an
// in-sync replica, whose broker rebuilds the group by replay; the members find the new
// coordinator and go on committing; after the killed node's restart the committed offset
// of every partition (OffsetFetch) is at least the highest commit acknowledged to a
// member — an acknowledged commit is never lost — and the checker passes.
func TestJepsenProcessKillCoordinator(t *testing.T) {
	c, ctx, l := jepsenStart(t)
	const group = "jepsen-group"
	acked := &commits{max: map[int32]int64{}}
	cctx, stopMembers := context.WithCancel(ctx)
	defer stopMembers()
	var wg sync.WaitGroup
	for range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(jepsenTopic),
			kgo.DisableAutoCommit(), kgo.MetadataMinAge(100*time.Millisecond), kgo.FetchMaxWait(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.CloseAllowingRebalance()
			for cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				next := map[int32]kgo.EpochOffset{}
				fs.EachRecord(func(r *kgo.Record) {
					next[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
				})
				if len(next) == 0 {
					continue
				}
				cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{jepsenTopic: next},
					func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
						if err == nil {
							acked.note(req, resp)
						}
					})
			}
		}()
	}
	waitCommits := func(what string) {
		t.Helper()
		acked.mu.Lock()
		acked.marked, acked.sinceMark = true, 0
		acked.mu.Unlock()
		for start := time.Now(); acked.count() < 20; time.Sleep(10 * time.Millisecond) {
			if time.Since(start) > 60*time.Second {
				t.Fatalf("%s: %d commits acknowledged in 60 s", what, acked.count())
			}
		}
	}
	waitCommits("before the kill")

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = group
	resp, err := fc.RequestWith(ctx, c.client(t, 0))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("FindCoordinator: %v %+v", err, resp)
	}
	dead := int(resp.NodeID - 1)
	c.nodes[dead].kill(t)
	start := time.Now()
	waitCommits("after the coordinator's kill")
	t.Logf("coordinator %d killed: 20 commits acknowledged again after %v", resp.NodeID, time.Since(start))
	c.nodes[dead] = c.launch(t, dead)
	c.nodes[dead].waitReady(t)
	waitCommits("after the restart")
	stopMembers()
	wg.Wait()

	adm := kadm.NewClient(c.client(t, (dead+1)%3))
	var offs kadm.OffsetResponses
	for ctx.Err() == nil { // the coordinator may be moving still
		if offs, err = adm.FetchOffsets(ctx, group); err == nil && offs.Error() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || offs.Error() != nil {
		t.Fatalf("OffsetFetch: %v %v", err, offs.Error())
	}
	acked.mu.Lock()
	for p, want := range acked.max {
		got, ok := offs.Lookup(jepsenTopic, p)
		if !ok || got.At < want {
			t.Errorf("partition %d: committed offset %d, behind the acknowledged commit of %d", p, got.At, want)
		}
	}
	t.Logf("acknowledged commits up to %v; committed %v", acked.max, offs)
	acked.mu.Unlock()
	l.finish(t, ctx, c, (dead+1)%3)
}
