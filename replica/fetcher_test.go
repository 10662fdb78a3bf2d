package replica

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/pagecache"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/segment"
)

// fakeLeader is a leader broker for the fetcher's tests: it answers Fetch and
// OffsetForLeaderEpoch from its partitions as the server does (a follower's fetch reads
// to the log end, long-polls on the durable end, and checks the leader epoch), and
// records the fetch offsets followers send.
type fakeLeader struct {
	mu      sync.Mutex
	parts   map[tp]*partition.Partition
	fetched map[tp]int64 // the last fetch offset of each partition
	durable map[tp]int64 // the last durable offset (DurableOffset) of each partition
	fail    error        // every request fails with it while set
	omit    bool         // OffsetForLeaderEpoch answers no partition
	asked   int          // OffsetForLeaderEpoch requests received
	listed  int          // ListOffsets requests received
	last    *kmsg.FetchRequest
}

func (l *fakeLeader) Request(ctx context.Context, broker int32, req kmsg.Request) (kmsg.Response, error) {
	l.mu.Lock()
	fail := l.fail
	l.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		l.mu.Lock()
		l.last = r
		l.mu.Unlock()
		return l.fetch(ctx, r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return l.offsetForEpoch(r), nil
	case *kmsg.ListOffsetsRequest:
		return l.earliest(r), nil
	}
	return nil, fmt.Errorf("unexpected %T", req)
}

func (l *fakeLeader) part(id metadata.TopicID, index int32) *partition.Partition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts[tp{id, index}]
}

func (l *fakeLeader) fetch(ctx context.Context, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	wake := make(chan struct{}, 1)
	timer := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	defer timer.Stop()
	for {
		resp.Topics = nil
		var n int
		var stops []func()
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				p := l.part(rt.TopicID, rp.Partition)
				switch {
				case p == nil || !p.IsLeader():
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				case p.CheckLeaderEpoch(rp.CurrentLeaderEpoch) != nil:
					sp.ErrorCode = kerr.FencedLeaderEpoch.Code
				default:
					l.mu.Lock()
					l.fetched[tp{rt.TopicID, rp.Partition}] = rp.FetchOffset
					if l.durable != nil {
						l.durable[tp{rt.TopicID, rp.Partition}] = DurableOffset(&rp)
					}
					l.mu.Unlock()
					res, err := p.Read(rp.FetchOffset, int(rp.PartitionMaxBytes), partition.ReadLogEnd)
					if err != nil {
						sp.ErrorCode = kerr.OffsetOutOfRange.Code
						break
					}
					sp.HighWatermark, sp.LogStartOffset, sp.RecordBatches = res.HighWatermark, res.LogStartOffset, res.Records
					n += len(res.Records)
					stops = append(stops, p.NotifyDurable(rp.FetchOffset, wake))
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if n > 0 {
			for _, stop := range stops {
				stop()
			}
			return resp
		}
		done := false
		select {
		case <-wake:
		case <-timer.C:
			done = true
		case <-ctx.Done():
			done = true
		}
		for _, stop := range stops {
			stop()
		}
		if done {
			return resp
		}
	}
}

func (l *fakeLeader) offsetForEpoch(req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	l.mu.Lock()
	l.asked++
	omit := l.omit
	l.mu.Unlock()
	if omit {
		return resp
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			var p *partition.Partition
			l.mu.Lock()
			for k, q := range l.parts {
				if q.Topic() == rt.Topic && k.index == rp.Partition {
					p = q
				}
			}
			l.mu.Unlock()
			if p == nil || !p.IsLeader() {
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			} else if e, end, err := p.EndOffsetForEpoch(rp.LeaderEpoch); err == nil {
				sp.LeaderEpoch, sp.EndOffset = e, end
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// earliest answers a ListOffsets request for the earliest offsets (the log starts).
func (l *fakeLeader) earliest(req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	l.mu.Lock()
	l.listed++
	l.mu.Unlock()
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition, sp.Timestamp, sp.Offset = rp.Partition, -1, -1
			var p *partition.Partition
			for k, lp := range l.parts {
				if lp.Topic() == rt.Topic && k.index == rp.Partition {
					p = lp
				}
			}
			if p == nil || rp.Timestamp != -2 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				sp.Offset = p.LogStartOffset()
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// openTestPartition opens a durable partition of topic t in memory.
func openTestPartition(t *testing.T, topic string, index int32) *partition.Partition {
	t.Helper()
	fs := vfs.NewMem()
	p, err := partition.Open("/p", &partition.Options{Topic: topic, Index: index, Logger: quietLogger(),
		Log: log.Options{FS: fs, Logger: quietLogger(), SegmentBytes: 1 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// openLeaderFollower opens partition 0 of topic a twice: a leader and a follower (HW
// from the leader), both at leader epoch 2.
func openLeaderFollower(t *testing.T) (leader, follower *partition.Partition) {
	t.Helper()
	leader, follower = openTestPartition(t, "a", 0), openTestPartition(t, "a", 0)
	if err := leader.MakeLeader(2); err != nil {
		t.Fatal(err)
	}
	if err := follower.MakeFollower(2); err != nil {
		t.Fatal(err)
	}
	follower.SetHWPolicy(partition.HWExternal)
	return leader, follower
}

// openFollower opens partition 0 of topic a in dir with the log options o, a follower
// at leader epoch 2 (HW from the leader).
func openFollower(t *testing.T, dir string, o log.Options) *partition.Partition {
	t.Helper()
	p, err := partition.Open(dir, &partition.Options{Topic: "a", Index: 0, Logger: quietLogger(), Log: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.MakeFollower(2); err != nil {
		t.Fatal(err)
	}
	p.SetHWPolicy(partition.HWExternal)
	return p
}

// readAll returns the partition's whole log.
func readAll(t *testing.T, p *partition.Partition) []byte {
	t.Helper()
	var out []byte
	for off := p.LogStartOffset(); off < p.EndOffset(); {
		res, err := p.Read(off, 1<<20, partition.ReadLogEnd)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) == 0 {
			break
		}
		out = append(out, res.Records...)
		for rest := res.Records; len(rest) > 0; {
			sz, _ := batch.Next(rest)
			h, _ := batch.ParseHeader(rest[:sz])
			off = h.LastOffset() + 1
			rest = rest[sz:]
		}
	}
	return out
}

func appendN(t *testing.T, p *partition.Partition, batches, records int, seed byte) {
	t.Helper()
	for i := range batches {
		res, err := p.Append(testutil.Batch(testutil.BatchOptions{Records: records, Seed: seed + byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
}

// caughtUp waits until follower f holds leader l's log byte for byte, its durable end
// is the log end and its high watermark the leader's.
func caughtUp(t *testing.T, l, f *partition.Partition) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("follower end %d durable %d HW %d, leader end %d HW %d", f.EndOffset(), f.DurableEnd(), f.HighWatermark(), l.EndOffset(), l.HighWatermark())
		}
	})
	waitFor(t, "the follower to catch up", func() bool {
		return f.EndOffset() == l.EndOffset() && f.DurableEnd() == f.EndOffset() && f.HighWatermark() == l.HighWatermark()
	})
	if !bytes.Equal(readAll(t, f), readAll(t, l)) {
		t.Fatal("the follower's log differs from the leader's")
	}
}

var (
	idA = metadata.TopicID{1}
	idB = metadata.TopicID{2}
)

// TestFetcherReplicates: one fetcher replicates two partitions of two topics from their
// leader byte for byte, offsets and leader epochs kept, with the leader's high
// watermark; it reports durable fetch offsets; new appends arrive through the leader's
// long poll; a failing transport is retried after the backoff.
func TestFetcherReplicates(t *testing.T) {
	la, lb := openTestPartition(t, "a", 0), openTestPartition(t, "b", 3)
	fa, fb := openTestPartition(t, "a", 0), openTestPartition(t, "b", 3)
	for _, p := range []*partition.Partition{la, lb} {
		if err := p.MakeLeader(2); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*partition.Partition{fa, fb} {
		if err := p.MakeFollower(2); err != nil {
			t.Fatal(err)
		}
		p.SetHWPolicy(partition.HWExternal)
	}
	appendN(t, la, 20, 5, 1)
	appendN(t, lb, 3, 100, 7)
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la, {idB, 3}: lb}, fetched: map[tp]int64{}}
	f := newFetcher(1, 2, leader, FetchOptions{MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, PartitionMaxBytes: 512}, fetchThrottle{}, quietLogger())
	defer f.close()
	f.set(tp{idA, 0}, "a", fa, 2)
	f.set(tp{idB, 3}, "b", fb, 2)
	caughtUp(t, la, fa)
	caughtUp(t, lb, fb)
	if e := fa.LatestEpoch(); e != 2 {
		t.Fatalf("follower's latest epoch %d, want the leader's 2", e)
	}

	leader.mu.Lock()
	leader.fail = fmt.Errorf("connection refused")
	leader.mu.Unlock()
	appendN(t, la, 2, 1, 40)
	time.Sleep(50 * time.Millisecond) // a few failed rounds
	leader.mu.Lock()
	leader.fail = nil
	leader.mu.Unlock()
	caughtUp(t, la, fa)
	waitFor(t, "the follower's durable end as its fetch offset", func() bool {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		return leader.fetched[tp{idA, 0}] == la.EndOffset()
	})

	// Records the leader deletes go on the follower too.
	if _, err := la.DeleteRecords(10); err != nil {
		t.Fatal(err)
	}
	appendN(t, la, 1, 1, 50)
	waitFor(t, "the follower's log start to follow the leader's", func() bool { return fa.LogStartOffset() == 10 })

	// A partition removed is no longer written.
	f.remove(tp{idB, 3})
	end := fb.EndOffset()
	appendN(t, lb, 2, 1, 90)
	appendN(t, la, 1, 1, 91)
	caughtUp(t, la, fa)
	if fb.EndOffset() != end {
		t.Fatalf("a removed partition was appended to: end %d, was %d", fb.EndOffset(), end)
	}
}

// TestFetcherTruncates: a follower whose log diverges from the new leader's (records of
// the old epoch the new leader never got) cuts its tail at the leader's epoch boundary
// (OffsetForLeaderEpoch) before it fetches, and ends up with the leader's log. Also the
// case where the follower does not know the epoch the leader answers (KIP-279: two
// requests).
func TestFetcherTruncates(t *testing.T) {
	for _, tc := range []struct {
		name string
		// followerEpochs: the epochs of the follower's divergent batches after the
		// common prefix (at epoch 1).
		followerEpochs []int32
	}{
		{"same epoch", []int32{1, 1}},
		{"unknown to the leader", []int32{1, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, f := openTestPartition(t, "a", 0), openTestPartition(t, "a", 0)
			if err := l.MakeLeader(1); err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 4, 5, 1) // offsets 0-19 at epoch 1
			common := readAll(t, l)
			if err := f.MakeFollower(1); err != nil {
				t.Fatal(err)
			}
			if _, err := f.AppendAt(common); err != nil {
				t.Fatal(err)
			}
			off := l.EndOffset()
			for i, e := range tc.followerEpochs { // the divergent tail
				b := testutil.Batch(testutil.BatchOptions{Records: 3, Seed: 100 + byte(i)})
				batch.SetBaseOffset(b, off)
				batch.SetLeaderEpoch(b, e)
				if _, err := f.AppendAt(b); err != nil {
					t.Fatal(err)
				}
				off += 3
			}
			if err := l.MakeLeader(4); err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 2, 2, 50) // offsets 20-23 at epoch 4
			if err := f.MakeFollower(4); err != nil {
				t.Fatal(err)
			}
			f.SetHWPolicy(partition.HWExternal)

			leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: l}, fetched: map[tp]int64{}}
			fe := newFetcher(1, 2, leader, FetchOptions{MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond}, fetchThrottle{}, quietLogger())
			defer fe.close()
			fe.set(tp{idA, 0}, "a", f, 4)
			caughtUp(t, l, f)
			if e, end, err := f.EndOffsetForEpoch(1); err != nil || e != 1 || end != 20 {
				t.Fatalf("follower's epoch 1 ends at %d (epoch %d, %v), want 20", end, e, err)
			}
		})
	}
}

// TestFetcherLeaderRefuses: a partition the source refuses (not its leader, or a fenced
// epoch) backs off and is retried; the others keep replicating.
func TestFetcherLeaderRefuses(t *testing.T) {
	l, f := openTestPartition(t, "a", 0), openTestPartition(t, "a", 0)
	if err := l.MakeLeader(3); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 2, 2, 1)
	stale := openTestPartition(t, "b", 0)
	if err := stale.MakeFollower(1); err != nil {
		t.Fatal(err)
	}
	notLeader := openTestPartition(t, "b", 0)
	if err := notLeader.MakeFollower(1); err != nil {
		t.Fatal(err)
	}
	if err := f.MakeFollower(3); err != nil {
		t.Fatal(err)
	}
	f.SetHWPolicy(partition.HWExternal)
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: l, {idB, 0}: notLeader}, fetched: map[tp]int64{}}
	fe := newFetcher(1, 2, leader, FetchOptions{MaxWait: 20 * time.Millisecond, Backoff: 10 * time.Millisecond}, fetchThrottle{}, quietLogger())
	defer fe.close()
	fe.set(tp{idB, 0}, "b", stale, 1)
	fe.set(tp{idA, 0}, "a", f, 3)
	caughtUp(t, l, f)
	if stale.EndOffset() != 0 {
		t.Fatalf("a partition its source does not lead got records: end %d", stale.EndOffset())
	}
}

// TestFetcherUnansweredTruncation: a partition the leader leaves out of its
// OffsetForLeaderEpoch answer backs off like a refused one (no busy loop of requests),
// and is truncated and replicated once the leader answers.
func TestFetcherUnansweredTruncation(t *testing.T) {
	l, f := openTestPartition(t, "a", 0), openTestPartition(t, "a", 0)
	if err := l.MakeLeader(1); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 2, 2, 1)
	if err := f.MakeFollower(1); err != nil {
		t.Fatal(err)
	}
	f.SetHWPolicy(partition.HWExternal)
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: l}, fetched: map[tp]int64{}, omit: true}
	fe := newFetcher(1, 2, leader, FetchOptions{MaxWait: 20 * time.Millisecond, Backoff: 50 * time.Millisecond}, fetchThrottle{}, quietLogger())
	defer fe.close()
	fe.set(tp{idA, 0}, "a", f, 1)
	time.Sleep(200 * time.Millisecond)
	leader.mu.Lock()
	asked := leader.asked
	leader.omit = false
	leader.mu.Unlock()
	if asked > 20 { // about 4 with the backoff; a busy loop sends thousands
		t.Fatalf("%d OffsetForLeaderEpoch requests in 200 ms with a 50 ms backoff", asked)
	}
	caughtUp(t, l, f)
}

// TestFetcherRequestSettings: the fetcher's Fetch requests carry its options
// (replica.fetch.wait.max.ms, replica.fetch.min.bytes, replica.fetch.response.max.bytes,
// replica.fetch.max.bytes), and the defaults are Kafka's.
func TestFetcherRequestSettings(t *testing.T) {
	for _, tc := range []struct {
		opts                    FetchOptions
		wait, min, max, partMax int32
	}{
		{FetchOptions{}, 500, 1, 10 << 20, 1 << 20},
		{FetchOptions{MaxWait: 40 * time.Millisecond, MinBytes: 3000, ResponseMaxBytes: 9000, PartitionMaxBytes: 700}, 40, 3000, 9000, 700},
	} {
		l, fl := openTestPartition(t, "a", 0), openTestPartition(t, "a", 0)
		if err := l.MakeLeader(1); err != nil {
			t.Fatal(err)
		}
		if err := fl.MakeFollower(1); err != nil {
			t.Fatal(err)
		}
		fl.SetHWPolicy(partition.HWExternal)
		leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: l}, fetched: map[tp]int64{}}
		tc.opts.ensureDefaults()
		f := newFetcher(1, 2, leader, tc.opts, fetchThrottle{}, quietLogger())
		f.set(tp{idA, 0}, "a", fl, 1)
		appendN(t, l, 1, 1, 1)
		caughtUp(t, l, fl)
		f.close()
		r := leader.last
		if r == nil || r.MaxWaitMillis != tc.wait || r.MinBytes != tc.min || r.MaxBytes != tc.max ||
			len(r.Topics) != 1 || r.Topics[0].Partitions[0].PartitionMaxBytes != tc.partMax {
			t.Errorf("%+v: request %+v", tc.opts, r)
		}
	}
}

// TestFetcherBehindLogStart: a follower whose log ends below the leader's log start
// (records the leader deleted while the follower was away) gets OFFSET_OUT_OF_RANGE,
// asks the leader for its log start (ListOffsets), empties its log and fetches from
// there (Kafka's truncateFullyAndStartAt): it catches up byte for byte and its log start
// follows the leader's. A follower whose fetch offset is in range is not affected.
func TestFetcherBehindLogStart(t *testing.T) {
	la, fa := openLeaderFollower(t)
	appendN(t, la, 5, 2, 1) // offsets 0-9
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la}, fetched: map[tp]int64{}}
	opts := FetchOptions{MaxWait: 20 * time.Millisecond, Backoff: 20 * time.Millisecond}
	f := newFetcher(1, 2, leader, opts, fetchThrottle{}, quietLogger())
	f.set(tp{idA, 0}, "a", fa, 2)
	caughtUp(t, la, fa)
	f.close()
	if leader.listed != 0 {
		t.Errorf("%d ListOffsets requests while in range", leader.listed)
	}

	appendN(t, la, 10, 2, 20) // 10-29
	if _, err := la.DeleteRecords(24); err != nil {
		t.Fatal(err)
	}
	appendN(t, la, 2, 2, 40) // 30-33
	f = newFetcher(1, 2, leader, opts, fetchThrottle{}, quietLogger())
	defer f.close()
	f.set(tp{idA, 0}, "a", fa, 2)
	caughtUp(t, la, fa)
	waitFor(t, "the follower's log start to follow the leader's", func() bool { return fa.LogStartOffset() == 24 })
	if !bytes.Equal(readAll(t, fa), readAll(t, la)) {
		t.Fatal("the follower's log differs from the leader's")
	}
	appendN(t, la, 1, 1, 50)
	caughtUp(t, la, fa)
}

// TestFetcherBackoffGrows: a partition's first error is retried after 25 ms (a new leader
// that has not applied its leadership yet refuses for milliseconds only), each further
// one after twice as long, up to replica.fetch.backoff.ms; a success starts over.
func TestFetcherBackoffGrows(t *testing.T) {
	f := &fetcher{opts: FetchOptions{Backoff: time.Second}, log: quietLogger()}
	fl := &follow{p: openTestPartition(t, "a", 0), topic: "a"}
	for _, want := range []time.Duration{25, 50, 100, 200, 400, 800, 1000, 1000} {
		before := time.Now()
		f.backoffLocked(fl, "refused", nil)
		if got := fl.retryAt.Sub(before); got < want*time.Millisecond || got > want*time.Millisecond+time.Second/10 {
			t.Fatalf("backoff %v after %d errors, want %v ms", got, fl.errors, want)
		}
	}
	fl.errors = 0 // what a successful round does
	before := time.Now()
	f.backoffLocked(fl, "refused", nil)
	if got := fl.retryAt.Sub(before); got > 25*time.Millisecond+time.Second/10 {
		t.Fatalf("backoff %v after a success, want 25 ms", got)
	}
}

// TestFetcherPipelinesFlush: a follower fetches further as soon as it has appended, while
// its flush runs, and reports in each fetch only what is on disk (DurableOffsetTag, below
// the fetch offset): with its log's fsyncs held, it appends the leader's whole log (many
// rounds of PartitionMaxBytes) but reports none of it durable; once the fsyncs go, it
// reports the log end durable without waiting for new data on the leader.
func TestFetcherPipelinesFlush(t *testing.T) {
	la := openTestPartition(t, "a", 0)
	if err := la.MakeLeader(2); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{}) // open: the follower's segment fsyncs wait until it closes
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if op == errorfs.OpSync && strings.HasSuffix(name, ".log") {
			<-gate
		}
		return nil
	}))
	fa := openFollower(t, "/p", log.Options{FS: fs, Logger: quietLogger(), SegmentBytes: 1 << 16})
	appendN(t, la, 20, 5, 1)

	release := sync.OnceFunc(func() { close(gate) })
	defer release()
	leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la}, fetched: map[tp]int64{}, durable: map[tp]int64{}}
	f := newFetcher(1, 2, leader, FetchOptions{MaxWait: time.Hour, PartitionMaxBytes: 512}, fetchThrottle{}, quietLogger())
	defer f.close()
	f.set(tp{idA, 0}, "a", fa, 2)
	waitFor(t, "the follower to append the leader's log with its fsyncs held", func() bool {
		return fa.EndOffset() == la.EndOffset()
	})
	leader.mu.Lock()
	fetched, durable := leader.fetched[tp{idA, 0}], leader.durable[tp{idA, 0}]
	leader.mu.Unlock()
	if fetched != la.EndOffset() || durable != 0 || fa.DurableEnd() != 0 {
		t.Fatalf("fsyncs held: fetch offset %d (want %d), reported durable %d, durable end %d (want 0)",
			fetched, la.EndOffset(), durable, fa.DurableEnd())
	}

	release()
	// The leader gets no new data and its long poll is an hour: the report comes from the
	// follower's flush.
	waitFor(t, "the follower to report its log end durable", func() bool {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		return leader.durable[tp{idA, 0}] == la.EndOffset()
	})
	caughtUp(t, la, fa)
}

// bufferLeader is a fakeLeader behind a BufferTransport: it records the buffer of each
// request and answers with a new one.
type bufferLeader struct {
	*fakeLeader
	mu       sync.Mutex
	given    [][]byte // the buffer passed with each request
	returned [][]byte // the buffer returned with each answer
}

func (l *bufferLeader) RequestBuffer(ctx context.Context, broker int32, req kmsg.Request, buf []byte) (kmsg.Response, []byte, error) {
	resp, err := l.Request(ctx, broker, req)
	out := make([]byte, 0, 64)
	l.mu.Lock()
	l.given, l.returned = append(l.given, buf), append(l.returned, out)
	l.mu.Unlock()
	return resp, out, err
}

// TestFetcherReusesBuffer: over a BufferTransport a fetcher gives each Fetch the buffer
// the previous answer was read into.
func TestFetcherReusesBuffer(t *testing.T) {
	la, fa := openLeaderFollower(t)
	appendN(t, la, 10, 5, 1)
	leader := &bufferLeader{fakeLeader: &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la}, fetched: map[tp]int64{}}}
	f := newFetcher(1, 2, leader, FetchOptions{MaxWait: 10 * time.Millisecond, PartitionMaxBytes: 512}, fetchThrottle{}, quietLogger())
	defer f.close()
	f.set(tp{idA, 0}, "a", fa, 2)
	caughtUp(t, la, fa)
	f.close()
	leader.mu.Lock()
	defer leader.mu.Unlock()
	if len(leader.given) < 3 {
		t.Fatalf("%d fetches through RequestBuffer, want several", len(leader.given))
	}
	for i := 1; i < len(leader.given); i++ {
		if g, r := leader.given[i], leader.returned[i-1]; cap(g) != cap(r) || &g[:1][0] != &r[:1][0] {
			t.Fatalf("fetch %d was given another buffer than the one fetch %d returned", i, i-1)
		}
	}
}

// TestFetcherDropsPageCache: a follower's fetcher drops its replica's records from the
// page cache once they are on disk, and keeps them with KeepPageCache.
func TestFetcherDropsPageCache(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			la := openTestPartition(t, "a", 0)
			if err := la.MakeLeader(2); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			fa := openFollower(t, dir, log.Options{Logger: quietLogger(), SegmentBytes: 8 << 20})
			for i := range 20 {
				if _, err := la.Append(testutil.Batch(testutil.BatchOptions{Records: 10, ValueSize: 1000, Seed: byte(i)})); err != nil {
					t.Fatal(err)
				}
			}
			leader := &fakeLeader{parts: map[tp]*partition.Partition{{idA, 0}: la}, fetched: map[tp]int64{}, durable: map[tp]int64{}}
			f := newFetcher(1, 2, leader, FetchOptions{MaxWait: 10 * time.Millisecond, PartitionMaxBytes: 64 << 10, KeepPageCache: keep}, fetchThrottle{}, quietLogger())
			defer f.close()
			f.set(tp{idA, 0}, "a", fa, 2)
			defer caughtUp(t, la, fa) // at the end: it reads the follower's log into the cache
			waitFor(t, "the follower to report its log end durable", func() bool {
				leader.mu.Lock()
				defer leader.mu.Unlock()
				return leader.durable[tp{idA, 0}] == la.EndOffset()
			})
			path := filepath.Join(dir, segment.BaseName(0)+segment.LogSuffix)
			if keep {
				if res, pages := pagecache.Resident(t, path); res != pages || pages < 40 {
					t.Fatalf("KeepPageCache: %d of %d pages of the follower's log cached, want all of 40 or more", res, pages)
				}
				return
			}
			waitFor(t, "the follower's durable pages to leave the page cache", func() bool {
				res, _ := pagecache.Resident(t, path)
				return res <= 1 // the last page is not whole
			})
		})
	}
}
