package replica

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/segment"
)

// countingFS wraps fs and counts its Syncs (of files and directories, except the
// segments' .log files, which the logs' flushers sync in the background once their
// appends are durable) and its mutations.
type countingFS struct {
	*errorfs.FS
	syncs, mutations atomic.Int64
	hook             atomic.Pointer[func(op errorfs.Op, name string)]
}

func newCountingFS(fs vfs.FS) *countingFS {
	c := &countingFS{}
	c.FS = errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if op == errorfs.OpSync && !strings.HasSuffix(name, segment.LogSuffix) {
			c.syncs.Add(1)
		}
		if op.IsMutation() {
			c.mutations.Add(1)
		}
		if h := c.hook.Load(); h != nil {
			(*h)(op, name)
		}
		return nil
	}))
	return c
}

// small keeps the in-memory indexes small (MemFS files are not memory-mapped).
var small = map[string]string{"log.index.size.max.bytes": "4096"}

// crashImage runs f and returns a crash image of mem taken right before the k-th (from
// 0) file-system mutation that f makes through fs, and which one; nil if f makes fewer.
func crashImage(fs *countingFS, mem *vfs.MemFS, k int64, f func()) (img *vfs.MemFS, where string) {
	var once sync.Once
	start := fs.mutations.Load()
	hook := func(op errorfs.Op, name string) {
		if op.IsMutation() && fs.mutations.Load()-1-start == k {
			once.Do(func() { img, where = mem.CrashClone(), fmt.Sprintf("%s %s", op, name) })
		}
	}
	fs.hook.Store(&hook)
	defer fs.hook.Store(nil)
	f()
	return img, where
}

// record is a batch of one small record.
func record(seed byte) []byte {
	return testutil.Batch(testutil.BatchOptions{Records: 1, ValueSize: 20, Seed: seed})
}

// checkRecords checks that every partition of t holds n one-record batches, readable and
// valid.
func checkRecords(t *testing.T, tp *testTopic, n int64) {
	t.Helper()
	for _, p := range tp.Partitions() {
		if got := p.EndOffset(); got != n {
			t.Fatalf("%s-%d: end offset %d, want %d", p.Topic(), p.Index(), got, n)
		}
		if n == 0 {
			continue
		}
		r, err := p.Read(0, 1<<20, partition.ReadHighWatermark)
		if err != nil {
			t.Fatalf("%s-%d: read: %v", p.Topic(), p.Index(), err)
		}
		var count int64
		for b := r.Records; len(b) > 0; count++ {
			size, err := batch.Next(b)
			if err == nil {
				_, err = batch.Validate(b[:size])
			}
			if err != nil {
				t.Fatalf("%s-%d: read: batch %d: %v", p.Topic(), p.Index(), count, err)
			}
			b = b[size:]
		}
		if count != n {
			t.Fatalf("%s-%d: read %d batches, want %d", p.Topic(), p.Index(), count, n)
		}
		if err := p.Log().Check(); err != nil {
			t.Fatalf("%s-%d: %v", p.Topic(), p.Index(), err)
		}
	}
}

// TestManagerSyncsPerTopic: creating, closing, reopening after a clean shutdown and
// deleting a topic cost the same number of fsyncs whatever its partition count.
func TestManagerSyncsPerTopic(t *testing.T) {
	phases := []string{"create", "close", "open", "close after writes", "delete"}
	count := func(partitions int32) map[string]int64 {
		fs := newCountingFS(vfs.NewMem())
		m := openTestManager(t, fs, small)
		out := map[string]int64{}
		measure := func(phase string, f func() error) {
			before := fs.syncs.Load()
			if err := f(); err != nil {
				t.Fatalf("%d partitions: %s: %v", partitions, phase, err)
			}
			out[phase] = fs.syncs.Load() - before
		}
		measure("create", func() error { _, err := m.CreateTopic("many", partitions, nil, false); return err })
		measure("close", m.Close)
		measure("open", func() error { m = openTestManager(t, fs, small); return nil })
		if !m.CleanShutdown() {
			t.Fatal("no clean shutdown after Close")
		}
		tp, _ := m.Topic("many")
		for _, p := range tp.Partitions() {
			appendDurable(t, p, record(1))
		}
		measure("close after writes", m.Close)
		m = openTestManager(t, fs, small)
		measure("delete", func() error { return m.DeleteTopic("many") })
		closeManager(t, m)
		return out
	}
	one, many := count(1), count(64)
	for _, ph := range phases {
		if one[ph] != many[ph] {
			t.Errorf("%s: %d fsyncs with 1 partition, %d with 64", ph, one[ph], many[ph])
		}
	}
	t.Logf("fsyncs per phase: %v", one)
}

// TestManagerCleanShutdownMarker: Close writes the marker only when every partition closed
// cleanly; open removes it; without it the partitions are recovered.
func TestManagerCleanShutdownMarker(t *testing.T) {
	mem := vfs.NewMem()
	marker := filepath.Join("/data", cleanShutdownFile)
	m := openTestManager(t, mem, small)
	if m.CleanShutdown() {
		t.Fatal("a new data directory reported a clean shutdown")
	}
	tp, err := m.CreateTopic("t", 3, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tp.Partitions() {
		appendDurable(t, p, record(1))
	}
	crashed := mem.CrashClone()
	closeManager(t, m)
	if _, err := mem.Stat(marker); err != nil {
		t.Fatalf("marker after Close: %v", err)
	}
	m = openTestManager(t, mem, small)
	if !m.CleanShutdown() {
		t.Fatal("clean shutdown not seen")
	}
	if _, err := mem.Stat(marker); err == nil {
		t.Fatal("marker left after open")
	}
	tp, _ = m.Topic("t")
	checkRecords(t, tp, 1)
	closeManager(t, m)

	m = openTestManager(t, crashed, small)
	if m.CleanShutdown() {
		t.Fatal("crash image reported a clean shutdown")
	}
	tp, _ = m.Topic("t")
	checkRecords(t, tp, 1)
	closeManager(t, m)

	// A partition whose close fails (its final fsync): no marker.
	fail := errorfs.OnKinds(errorfs.OpSync)
	fail.Enabled.Store(false)
	m = openTestManager(t, errorfs.Wrap(mem, fail), map[string]string{"log.flush.interval.messages": "1000", "log.index.size.max.bytes": "4096"})
	tp, _ = m.Topic("t")
	if _, err := tp.Partitions()[1].Append(testutil.Batch(testutil.BatchOptions{Records: 1})); err != nil {
		t.Fatal(err)
	}
	fail.Enabled.Store(true)
	if err := m.Close(); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("close with a failing fsync: %v", err)
	}
	if _, err := mem.Stat(marker); err == nil {
		t.Fatal("marker written after a failed close")
	}
	m = openTestManager(t, mem, small)
	defer closeManager(t, m)
	if m.CleanShutdown() {
		t.Fatal("clean shutdown after a failed close")
	}
	tp, _ = m.Topic("t")
	for _, p := range tp.Partitions() { // recovered: partition 1 keeps its unflushed record or not
		if end := p.EndOffset(); end < 1 || end > 2 || (p.Index() != 1 && end != 1) {
			t.Fatalf("partition %d: end offset %d after recovery", p.Index(), end)
		}
		if err := p.Log().Check(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestManagerCrashCreateTopic takes a crash image before each file-system mutation of
// CreateTopic (and right after it returns): reopened, the image has no topic or the whole
// topic, every partition of which takes appends; an image taken after durable appends to
// the new topic keeps them.
func TestManagerCrashCreateTopic(t *testing.T) {
	const parts = 4
	for k := int64(0); ; k++ {
		mem := vfs.NewMem()
		fs := newCountingFS(mem)
		m := openTestManager(t, fs, small)
		var tp *testTopic
		var err error
		img, where := crashImage(fs, mem, k, func() { tp, err = m.CreateTopic("t", parts, nil, false) })
		if err != nil {
			t.Fatal(err)
		}
		done := img == nil
		if done {
			img, where = mem.CrashClone(), "after CreateTopic returned"
			for _, p := range tp.Partitions() {
				appendDurable(t, p, record(1))
			}
		}
		m2 := openTestManager(t, img, small)
		if got, ok := m2.Topic("t"); ok {
			if got.ID != tp.ID || got.NumPartitions() != parts {
				t.Fatalf("crash before mutation %d (%s): topic %x with %d partitions", k, where, got.ID, got.NumPartitions())
			}
			checkRecords(t, got, 0)
			for _, p := range got.Partitions() {
				appendDurable(t, p, record(2))
			}
			checkRecords(t, got, 1)
		} else if done {
			t.Fatal("the topic is lost in a crash after CreateTopic returned")
		}
		closeManager(t, m2)
		if done {
			m3 := openTestManager(t, mem.CrashClone(), small)
			got, ok := m3.Topic("t")
			if !ok {
				t.Fatal("topic lost in a crash after appends")
			}
			checkRecords(t, got, 1)
			closeManager(t, m3)
			closeManager(t, m)
			t.Logf("crashed before each of %d mutations", k)
			return
		}
		closeManager(t, m)
	}
}

// TestManagerCrashDeleteTopic takes a crash image before each file-system mutation of
// DeleteTopic: reopened, the topic is gone or whole, with its records.
func TestManagerCrashDeleteTopic(t *testing.T) {
	const parts = 3
	for k := int64(0); ; k++ {
		mem := vfs.NewMem()
		fs := newCountingFS(mem)
		m := openTestManager(t, fs, small)
		tp, err := m.CreateTopic("t", parts, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tp.Partitions() {
			appendDurable(t, p, record(1))
		}
		img, where := crashImage(fs, mem, k, func() { err = m.DeleteTopic("t") })
		if err != nil {
			t.Fatal(err)
		}
		closeManager(t, m)
		if img == nil {
			t.Logf("crashed before each of %d mutations", k)
			return
		}
		m2 := openTestManager(t, img, small)
		if got, ok := m2.Topic("t"); ok {
			if got.NumPartitions() != parts {
				t.Fatalf("crash before mutation %d (%s): %d partitions", k, where, got.NumPartitions())
			}
			checkRecords(t, got, 1)
		}
		closeManager(t, m2)
	}
}

// TestManagerRepairsPartitionMetadata: a partition.metadata that a crash left empty or
// cut is rewritten from the topic metadata at open; one naming another topic still stops
// the open.
func TestManagerRepairsPartitionMetadata(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, small)
	tp, err := m.CreateTopic("t", 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	closeManager(t, m)
	path := "/data/t-1/partition.metadata"
	for _, content := range []string{"", "version: 0\ntopic_"} {
		f, err := mem.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(content))
		f.Close()
		m = openTestManager(t, mem, small)
		if got, ok := m.Topic("t"); !ok || got.NumPartitions() != 2 {
			t.Fatalf("topic after repair of %q: %v", content, ok)
		}
		closeManager(t, m)
		data, err := vfs.ReadSmallFile(mem, path, 1<<10)
		if err != nil || string(data) != string(metadata.EncodePartitionMetadata(tp.ID)) {
			t.Fatalf("partition.metadata after repair of %q: %q, %v", content, data, err)
		}
	}
	if err := vfs.WriteFileAtomic(mem, path, metadata.EncodePartitionMetadata(metadata.TopicID{9})); err != nil {
		t.Fatal(err)
	}
	if m, err := openNode(mem, nil, nil); err == nil {
		closeManager(t, m)
		t.Fatal("opened a partition directory of another topic")
	}
}

// TestManagerRecoveryThreads: num.recovery.threads.per.data.dir is how many partitions
// the Manager opens, creates, closes or deletes at once (internal/parallel.ForEach bounds
// it); 0 is refused.
func TestManagerRecoveryThreads(t *testing.T) {
	for _, workers := range []int{1, 3} {
		m := openTestManager(t, vfs.NewMem(), map[string]string{"num.recovery.threads.per.data.dir": fmt.Sprint(workers)})
		if m.workers != workers {
			t.Errorf("num.recovery.threads.per.data.dir=%d: %d workers", workers, m.workers)
		}
		closeManager(t, m)
	}
	if err := config.ValidateBroker(map[string]string{"num.recovery.threads.per.data.dir": "0"}); err == nil {
		t.Fatal("0 threads accepted")
	}
}

// TestManagerCrashClose takes a crash image before each file-system mutation of Close
// after writes (the logs close without syncing their indexes, the manager syncs the
// whole directory, then writes the marker): reopened, every partition holds every record
// (recovered when the marker is missing, trusted once it is there).
func TestManagerCrashClose(t *testing.T) {
	const parts, batches = 3, 40
	for k := int64(0); ; k++ {
		mem := vfs.NewMem()
		fs := newCountingFS(mem)
		m := openTestManager(t, fs, map[string]string{"log.index.size.max.bytes": "4096", "log.index.interval.bytes": "64"})
		tp, err := m.CreateTopic("t", parts, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batches {
			for _, p := range tp.Partitions() {
				appendDurable(t, p, record(byte(i)))
			}
		}
		img, where := crashImage(fs, mem, k, func() { err = m.Close() })
		if err != nil {
			t.Fatal(err)
		}
		done := img == nil
		if done {
			img, where = mem.CrashClone(), "after Close returned"
			if diff := diffTrees(t, mem, img, "/data"); diff != "" {
				t.Fatalf("a crash right after Close loses %s", diff)
			}
		}
		m2 := openTestManager(t, img, small)
		if done && !m2.CleanShutdown() {
			t.Fatal("no clean shutdown seen after Close returned")
		}
		got, ok := m2.Topic("t")
		if !ok {
			t.Fatalf("crash before mutation %d (%s): topic lost", k, where)
		}
		checkRecords(t, got, batches)
		closeManager(t, m2)
		if done {
			t.Logf("crashed before each of %d mutations", k)
			return
		}
	}
}

// diffTrees names the first file below dir whose content differs between a and b, or
// which only one of them has; "" when the trees are the same.
func diffTrees(t *testing.T, a, b *vfs.MemFS, dir string) string {
	t.Helper()
	na, erra := a.List(dir)
	nb, errb := b.List(dir)
	if erra != nil || errb != nil || !slices.Equal(na, nb) {
		return fmt.Sprintf("entries of %s: %v (%v) vs %v (%v)", dir, na, erra, nb, errb)
	}
	for _, n := range na {
		p := filepath.Join(dir, n)
		if fi, err := a.Stat(p); err == nil && fi.IsDir() {
			if d := diffTrees(t, a, b, p); d != "" {
				return d
			}
			continue
		}
		da, erra := vfs.ReadSmallFile(a, p, 1<<20)
		db, errb := vfs.ReadSmallFile(b, p, 1<<20)
		if erra != nil || errb != nil || !bytes.Equal(da, db) {
			return fmt.Sprintf("%s: %d bytes (%v) vs %d bytes (%v)", p, len(da), erra, len(db), errb)
		}
	}
	return ""
}
