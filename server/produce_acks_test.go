package server_test

import (
	"encoding/binary"
	"net"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/wire"
)

// syncGate is an errorfs injector acting on the fsyncs of one partition's segment files
// (names under dir ending in .log): while failing is set they fail, while blocked is
// set they wait until it is cleared (the test's cleanup clears it).
type syncGate struct {
	dir      string
	failing  atomic.Bool
	blocked  atomic.Bool
	released chan struct{}
}

func (g *syncGate) MaybeError(op errorfs.Op, name string) error {
	if op != errorfs.OpSync || !strings.HasPrefix(name, g.dir) || !strings.HasSuffix(name, ".log") {
		return nil
	}
	if g.blocked.Load() {
		<-g.released
	}
	if g.failing.Load() {
		return errorfs.ErrInjected
	}
	return nil
}

// TestProduceAcks1Durable: acks=1 is answered once the leader's append is durable
// (fsynced), not from the page cache as Kafka does: with the partition's fsync failing
// the answer is KAFKA_STORAGE_ERROR, with the fsync stuck it is REQUEST_TIMED_OUT at the
// request's timeout, and a working fsync answers success. acks=all answers the same.
func TestProduceAcks1Durable(t *testing.T) {
	dir := t.TempDir()
	gate := &syncGate{dir: filepath.Join(dir, "acks-0") + string(filepath.Separator), released: make(chan struct{})}
	s := startBrokerFS(t, dir, errorfs.Wrap(vfs.Default, gate), nil)
	t.Cleanup(func() { gate.blocked.Store(false); close(gate.released) }) // before the broker's shutdown
	createTopic(t, s, "acks", 1, nil)
	produce := func(acks int16, timeoutMs int32, seed byte) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, acks, timeoutMs
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "acks"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 100, Seed: seed})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return wireRequest(t, s, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	for _, acks := range []int16{1, -1} {
		if c := produce(acks, 10000, 1); c != 0 {
			t.Fatalf("acks=%d: code %d (%v)", acks, c, kerr.ErrorForCode(c))
		}
		gate.failing.Store(true)
		if c := produce(acks, 10000, 2); c != kerr.KafkaStorageError.Code {
			t.Errorf("acks=%d with the fsync failing: code %d (%v), want KAFKA_STORAGE_ERROR", acks, c, kerr.ErrorForCode(c))
		}
		gate.failing.Store(false)
		if c := produce(acks, 10000, 3); c != 0 {
			t.Fatalf("acks=%d once the fsync works again: code %d (%v)", acks, c, kerr.ErrorForCode(c))
		}
	}
	gate.blocked.Store(true)
	if c := produce(1, 200, 4); c != kerr.RequestTimedOut.Code {
		t.Errorf("acks=1 with the fsync stuck: code %d (%v), want REQUEST_TIMED_OUT", c, kerr.ErrorForCode(c))
	}
}

// TestProduceAcksAllWaitsWithoutGoroutines: an acks=all produce request waits for its
// fsync without a goroutine of its own (issue 20): the flusher completes the response
// with a callback. For 60 requests pipelined on one connection the broker creates only a
// handful of goroutines (none per request).
func TestProduceAcksAllWaitsWithoutGoroutines(t *testing.T) {
	s := startBrokerFS(t, t.TempDir(), vfs.Default, nil)
	createTopic(t, s, "nogo", 1, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))

	created := func() uint64 {
		m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(m)
		return m[0].Value.Uint64()
	}
	const n = 60
	before := created()
	var frames []byte
	for i := range n {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "nogo"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: 10, Seed: byte(i)})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		frames = wire.AppendRequest(frames, int32(i), "nogo", req)
	}
	if _, err := nc.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		frame, err := wire.ReadFrame(nc, nil, 1<<20)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		if corr := int32(binary.BigEndian.Uint32(frame)); corr != int32(i) {
			t.Fatalf("response %d: correlation id %d", i, corr)
		}
		if err := resp.ReadFrom(frame[5:]); err != nil { // correlation id, tagged fields none (v9 is flexible: one byte)
			t.Fatalf("response %d: %v", i, err)
		}
		if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
			t.Fatalf("response %d: code %d (%v)", i, c, kerr.ErrorForCode(c))
		}
	}
	if d := created() - before; d > n/4 {
		t.Errorf("%d goroutines created for %d acks=all produce requests; want far fewer than one each", d, n)
	}
}

// TestFsyncHistogram: the flushes that make an acks=all append durable are counted in
// the broker's fsync histogram (strata_fsync_duration_seconds, the StrataFsyncSlow
// alert's source), which no partition fed before.
func TestFsyncHistogram(t *testing.T) {
	s := startBrokerFS(t, t.TempDir(), nil, nil)
	createTopic(t, s, "fsynced", 1, nil)
	before := s.Metrics().Fsync.Count
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "fsynced"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 100, Seed: 1})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if c := wireRequest(t, s, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("acks=all: code %d (%v)", c, kerr.ErrorForCode(c))
	}
	if h := s.Metrics().Fsync; h.Count <= before || h.Sum <= 0 {
		t.Fatalf("fsync histogram after an acks=all produce: %d flushes (%d before), %v in all", h.Count, before, h.Sum)
	}
}
