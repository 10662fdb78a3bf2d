package server_test

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
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
