package coord

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// kvShard is a test coordinator: a key/value map per partition, rebuilt by replay.
// Keys starting with "bad" cannot be replayed.
type kvShard struct {
	p *Partition

	mu       sync.Mutex
	kv       map[string]string
	metas    []Meta
	loaded   int
	unloaded int
}

func newKV(p *Partition) *kvShard { return &kvShard{p: p, kv: map[string]string{}} }

func (s *kvShard) Replay(m Meta, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(string(r.Key), "bad") {
		return errors.New("unreadable")
	}
	s.metas = append(s.metas, m)
	if m.Control {
		return nil
	}
	if r.Value == nil {
		delete(s.kv, string(r.Key))
	} else {
		s.kv[string(r.Key)] = string(r.Value)
	}
	return nil
}

func (s *kvShard) Loaded()   { s.mu.Lock(); s.loaded++; s.mu.Unlock() }
func (s *kvShard) Unloaded() { s.mu.Lock(); s.unloaded++; s.mu.Unlock() }

func (s *kvShard) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[k]
	return v, ok
}

// put writes and applies, as a coordinator does.
func (s *kvShard) put(k string, v *string) error {
	r := Record{Key: []byte(k)}
	if v != nil {
		r.Value = []byte(*v)
	}
	if err := s.p.Write([]Record{r}); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.kv, k)
	} else {
		s.kv[k] = *v
	}
	return nil
}

func strp(s string) *string { return &s }

type env struct {
	t    *testing.T
	logs []*MemLog
	rt   *Runtime[*kvShard]
}

func newTestEnv(t *testing.T, n int32, mod func(*Options)) *env {
	t.Helper()
	e := &env{t: t, logs: make([]*MemLog, n)}
	for i := range e.logs {
		e.logs[i] = NewMemLog()
	}
	o := &Options{Topic: "__test", NumPartitions: n, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(p int32) (Log, error) { return e.logs[p], nil }}
	if mod != nil {
		mod(o)
	}
	rt, err := New(o, newKV)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	t.Cleanup(func() { rt.Close() })
	return e
}

func (e *env) shard(p int32) *kvShard {
	e.t.Helper()
	s, err := e.rt.Shard(p)
	if err != nil {
		e.t.Fatalf("shard %d: %v", p, err)
	}
	return s
}

func TestCoordPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int32
		want int32
	}{
		{"abc", 50, 96354 % 50},                   // "abc".hashCode() == 96354
		{"polygenelubricants", 50, 0},             // hashCode() == Integer.MIN_VALUE
		{"", 50, 0},                               // hashCode() == 0
		{"\U0001F600", 7, (55357*31 + 56832) % 7}, // surrogate pair
		{"group-é", 50, 293427483 % 50},           // one UTF-16 unit for é (hashing its UTF-8 bytes gives 22)
	} {
		if got := PartitionFor(tc.key, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

// TestCoordLoadWriteReplay: what a shard writes comes back by replay when the partition
// is loaded again (a new leader epoch), tombstones included, with offsets, for every
// codec the runtime may write with.
func TestCoordLoadWriteReplay(t *testing.T) {
	for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		t.Run(records.CodecName(codec), func(t *testing.T) {
			e := newTestEnv(t, 3, func(o *Options) { o.Compression = codec })
			for p := int32(0); p < 3; p++ {
				if err := e.rt.Load(p, 0); err != nil {
					t.Fatal(err)
				}
			}
			p := e.rt.PartitionFor("k1")
			s := e.shard(p)
			if s.loaded != 1 || s.p.Index() != p || s.p.Epoch() != 0 {
				t.Fatalf("shard %+v", s)
			}
			for i, kv := range []struct {
				k string
				v *string
			}{{"k1", strp("a")}, {"k1", strp("b")}, {"gone", strp("x")}, {"gone", nil}, {"empty", strp("")}} {
				if err := s.put(kv.k, kv.v); err != nil {
					t.Fatalf("put %d: %v", i, err)
				}
			}
			if err := s.p.Write([]Record{{Key: []byte("m1"), Value: []byte("1")}, {Key: []byte("m2"), Value: []byte("2")}}); err != nil {
				t.Fatal(err)
			}
			var codecs []int
			e.logs[p].Replay(func(b []byte) error {
				h, err := batch.Validate(b)
				if err != nil {
					t.Fatal(err)
				}
				codecs = append(codecs, h.Codec())
				return nil
			})
			if len(codecs) != 6 || codecs[0] != codec {
				t.Fatalf("stored batches' codecs %v, want 6 × %d", codecs, codec)
			}

			e.rt.Unload(p, 1)
			if s.unloaded != 1 {
				t.Fatalf("Unloaded called %d times", s.unloaded)
			}
			if err := e.rt.Load(p, 1); err != nil {
				t.Fatal(err)
			}
			s2 := e.shard(p)
			if s2 == s || s2.p.Epoch() != 1 {
				t.Fatal("not a new shard at epoch 1")
			}
			for k, want := range map[string]string{"k1": "b", "empty": "", "m1": "1", "m2": "2"} {
				if v, ok := s2.get(k); !ok || v != want {
					t.Errorf("%s after replay: %q %v, want %q", k, v, ok, want)
				}
			}
			if _, ok := s2.get("gone"); ok {
				t.Error("tombstoned key came back")
			}
			if len(s2.metas) != 7 {
				t.Fatalf("%d records replayed, want 7", len(s2.metas))
			}
			for i, m := range s2.metas {
				if m.Offset != int64(i) || m.ProducerID != -1 || m.Transactional || m.Control {
					t.Fatalf("meta %d: %+v", i, m)
				}
			}
		})
	}
}

// blockingLog holds Replay until release is closed.
type blockingLog struct {
	*MemLog
	once    sync.Once
	started chan struct{} // closed by the first Replay
	release chan struct{}
}

func (l *blockingLog) Replay(fn func([]byte) error) error {
	l.once.Do(func() { close(l.started) })
	<-l.release
	return l.MemLog.Replay(fn)
}

// TestCoordStates: requests see NOT_COORDINATOR before the load, LOAD_IN_PROGRESS during
// it, the shard after it, NOT_COORDINATOR after an unload, COORDINATOR_NOT_AVAILABLE
// after Close.
func TestCoordStates(t *testing.T) {
	bl := &blockingLog{MemLog: NewMemLog(), started: make(chan struct{}), release: make(chan struct{})}
	rt, err := New(&Options{Topic: "__test", NumPartitions: 2, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(p int32) (Log, error) {
			if p == 1 {
				return bl, nil
			}
			return NewMemLog(), nil
		}}, newKV)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Shard(0); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("before load: %v", err)
	}
	if _, err := rt.Shard(7); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("no such partition: %v", err)
	}
	if err := rt.Load(9, 0); err == nil {
		t.Fatal("load of a partition out of range")
	}
	if err := rt.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- rt.Load(1, 0) }()
	<-bl.started
	if _, err := rt.Shard(1); !errors.Is(err, ErrLoadInProgress) {
		t.Fatalf("while loading: %v", err)
	}
	if ss, err := rt.Shards(); !errors.Is(err, ErrLoadInProgress) || len(ss) != 1 {
		t.Fatalf("Shards while loading: %d %v", len(ss), err)
	}
	close(bl.release)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	s1, err := rt.Shard(1)
	if err != nil || s1.loaded != 1 {
		t.Fatalf("after load: %v", err)
	}
	if ss, err := rt.Shards(); err != nil || len(ss) != 2 || ss[1] != s1 {
		t.Fatalf("Shards: %d %v", len(ss), err)
	}

	rt.Unload(1, -1)
	if _, err := rt.Shard(1); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("after unload: %v", err)
	}
	select {
	case <-s1.p.Done():
	default:
		t.Fatal("Done not closed by the unload")
	}
	if !errors.Is(s1.p.Err(), ErrNotCoordinator) || !errors.Is(s1.p.Write([]Record{{Key: []byte("k")}}), ErrNotCoordinator) {
		t.Fatalf("handle after unload: %v", s1.p.Err())
	}
	if bl.Len() != 0 {
		t.Fatal("a refused write reached the log")
	}

	s0, _ := rt.Shard(0)
	if rt.Closed() {
		t.Fatal("closed before Close")
	}
	rt.Close()
	if !errors.Is(s0.p.Err(), ErrNotAvailable) || s0.unloaded != 1 {
		t.Fatalf("after close: %v, unloaded %d", s0.p.Err(), s0.unloaded)
	}
	if _, err := rt.Shard(0); !errors.Is(err, ErrNotAvailable) || !rt.Closed() {
		t.Fatalf("lookup after close: %v", err)
	}
	if _, err := rt.Shards(); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("Shards after close: %v", err)
	}
	if err := rt.Load(0, 1); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("load after close: %v", err)
	}
	rt.Close() // idempotent
}

// TestCoordEpochs: loads and unloads carry the leader epoch; stale notices are ignored.
func TestCoordEpochs(t *testing.T) {
	e := newTestEnv(t, 1, nil)
	if err := e.rt.Load(0, 3); err != nil {
		t.Fatal(err)
	}
	s := e.shard(0)
	if err := e.rt.Load(0, 2); err != nil || e.shard(0) != s || s.loaded != 1 {
		t.Fatalf("older load: %v", err)
	}
	if err := e.rt.Load(0, 5); err != nil || e.shard(0) != s || s.loaded != 1 {
		t.Fatalf("newer load of a hosted partition reloaded it: %v", err)
	}
	e.rt.Unload(0, 5) // not above the hosted epoch (5): ignored
	if e.shard(0) != s {
		t.Fatal("stale unload unloaded")
	}
	e.rt.Unload(0, 6)
	if _, err := e.rt.Shard(0); !errors.Is(err, ErrNotCoordinator) || s.unloaded != 1 {
		t.Fatalf("unload at a newer epoch: %v", err)
	}
	e.rt.Unload(0, 7) // nothing hosted: no-op
	e.rt.Unload(4, -1)
}

// TestCoordUnloadDuringLoad: an unload abandons a load in progress; the shard is never
// served, its Loaded never runs.
func TestCoordUnloadDuringLoad(t *testing.T) {
	bl := &blockingLog{MemLog: NewMemLog(), started: make(chan struct{}), release: make(chan struct{})}
	b, _ := records.Encode(nil, records.NewBatch(0, []records.Record{{Key: []byte("k"), Value: []byte("v")}}), 0)
	bl.Append(b)
	var built *kvShard
	rt, err := New(&Options{Topic: "__test", NumPartitions: 1, Logger: slog.New(slog.DiscardHandler),
		OpenLog: func(int32) (Log, error) { return bl, nil }},
		func(p *Partition) *kvShard { built = newKV(p); return built })
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	loaded := make(chan error, 1)
	go func() { loaded <- rt.Load(0, 1) }()
	<-bl.started
	unloaded := make(chan struct{})
	go func() { rt.Unload(0, 2); close(unloaded) }()
	for !built.p.aborted.Load() { // Unload flags the load before it waits for it
		runtime.Gosched()
	}
	close(bl.release)
	if err := <-loaded; !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("aborted load: %v", err)
	}
	<-unloaded
	if _, err := rt.Shard(0); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("after aborted load: %v", err)
	}
	if built.loaded != 0 || len(built.metas) != 0 || built.unloaded != 0 {
		t.Fatalf("aborted shard: loaded %d, replayed %d, unloaded %d", built.loaded, len(built.metas), built.unloaded)
	}
	// A later load (the broker leads again) succeeds.
	if err := rt.Load(0, 3); err != nil {
		t.Fatal(err)
	}
	if s, _ := rt.Shard(0); s == nil || s.kv["k"] != "v" {
		t.Fatal("reload after an aborted load")
	}
}

// TestCoordTimers: timers run on the runtime's clock; an unload stops the pending ones
// and waits for a running one; none starts afterwards.
func TestCoordTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, 1, nil)
		if err := e.rt.Load(0, 0); err != nil {
			t.Fatal(err)
		}
		s := e.shard(0)
		start := s.p.Now()
		var mu sync.Mutex
		var fired []string
		fire := func(name string) func() {
			return func() { mu.Lock(); fired = append(fired, name); mu.Unlock() }
		}
		s.p.AfterFunc(time.Second, fire("1s"))
		stopped := s.p.AfterFunc(2*time.Second, fire("stopped"))
		s.p.AfterFunc(time.Hour, fire("1h"))
		release := make(chan struct{})
		running := make(chan struct{})
		s.p.AfterFunc(3*time.Second, func() { close(running); <-release; fire("slow")() })
		if !stopped.Stop() || stopped.Stop() {
			t.Fatal("Stop of a pending timer")
		}
		time.Sleep(3 * time.Second)
		<-running
		unloaded := make(chan struct{})
		go func() { e.rt.Unload(0, -1); close(unloaded) }()
		synctest.Wait()
		select {
		case <-unloaded:
			t.Fatal("unload did not wait for the running callback")
		default:
		}
		close(release)
		<-unloaded
		if late := s.p.AfterFunc(0, fire("late")); late.Stop() {
			t.Fatal("a timer set after the unload is pending")
		}
		time.Sleep(2 * time.Hour)
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(fired) != "[1s slow]" {
			t.Fatalf("fired %v", fired)
		}
		if s.p.Now().Sub(start) < 2*time.Hour {
			t.Fatal("clock")
		}
	})
}

// TestCoordWriteErrors: a storage failure is ErrStorage (NOT_COORDINATOR on the wire),
// a log that says this broker no longer leads is ErrNotCoordinator, anything else
// ErrNotAvailable; nothing of a failed write is applied.
func TestCoordWriteErrors(t *testing.T) {
	e := newTestEnv(t, 1, nil)
	if err := e.rt.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	s := e.shard(0)
	for _, tc := range []struct {
		fail error
		want error
		not  error
	}{
		{fmt.Errorf("%w: disk full", ErrStorage), ErrStorage, ErrNotAvailable},
		{fmt.Errorf("partition fenced: %w", ErrNotCoordinator), ErrNotCoordinator, ErrNotAvailable},
		{errors.New("something"), ErrNotAvailable, ErrStorage},
	} {
		e.logs[0].FailAppends(tc.fail)
		err := s.put("k", strp("v"))
		if !errors.Is(err, tc.want) || errors.Is(err, tc.not) || !strings.Contains(err.Error(), "__test-0") {
			t.Errorf("write failing with %v: %v, want %v", tc.fail, err, tc.want)
		}
	}
	if _, ok := s.get("k"); ok || e.logs[0].Len() != 0 {
		t.Fatal("a failed write was applied")
	}
	e.logs[0].FailAppends(nil)
	if err := s.put("k", strp("v")); err != nil || s.p.Write(nil) != nil {
		t.Fatal(err)
	}
}

// TestCoordReplay: records a shard cannot read are skipped, the others applied; control
// and transactional batches reach the shard with their producer fields; empty batches
// (compaction) are skipped; a corrupt batch fails the load and leaves the partition
// unhosted.
func TestCoordReplay(t *testing.T) {
	e := newTestEnv(t, 1, nil)
	enc := func(bt *records.Batch) []byte {
		b, err := records.Encode(nil, bt, batch.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e.logs[0].Append(enc(records.NewBatch(0, []records.Record{
		{Key: []byte("bad1"), Value: []byte("?")}, {Key: []byte("a"), Value: []byte("1")}})))
	txn := records.NewBatch(0, []records.Record{{Key: []byte("t"), Value: []byte("x")}})
	txn.Header.ProducerID, txn.Header.ProducerEpoch, txn.Header.BaseSequence = 42, 3, 0
	txn.Header.Attributes = batch.TransactionalBit
	e.logs[0].Append(enc(txn))
	marker := records.NewBatch(0, []records.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})
	marker.Header.ProducerID, marker.Header.ProducerEpoch = 42, 3
	marker.Header.Attributes = batch.TransactionalBit | batch.ControlBit
	e.logs[0].Append(enc(marker))
	e.logs[0].Append(batch.AppendEmpty(nil, &batch.Header{Magic: 2, LastOffsetDelta: 4, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}))
	e.logs[0].Append(enc(records.NewBatch(0, []records.Record{{Key: []byte("b"), Value: []byte("2")}})))
	if err := e.rt.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	s := e.shard(0)
	if s.kv["a"] != "1" || s.kv["b"] != "2" || s.kv["t"] != "x" || len(s.kv) != 3 {
		t.Fatalf("state %v", s.kv)
	}
	want := []Meta{
		{Offset: 1, ProducerID: -1, ProducerEpoch: -1},
		{Offset: 2, ProducerID: 42, ProducerEpoch: 3, Transactional: true},
		{Offset: 3, ProducerID: 42, ProducerEpoch: 3, Transactional: true, Control: true},
		{Offset: 9, ProducerID: -1, ProducerEpoch: -1},
	}
	if fmt.Sprint(s.metas) != fmt.Sprint(want) {
		t.Fatalf("metas\n got %+v\nwant %+v", s.metas, want)
	}

	bad := enc(records.NewBatch(0, []records.Record{{Key: []byte("c"), Value: []byte("3")}}))
	bad[len(bad)-1] ^= 0xff
	e.logs[0].Append(bad)
	e.rt.Unload(0, -1)
	if err := e.rt.Load(0, 1); !errors.Is(err, batch.ErrCorrupt) {
		t.Fatalf("load of a corrupt partition: %v", err)
	}
	if _, err := e.rt.Shard(0); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("after a failed load: %v", err)
	}
}

func TestCoordOptions(t *testing.T) {
	for _, o := range []*Options{nil, {Topic: "t"}, {Topic: "t", NumPartitions: 1, Compression: 9}} {
		if _, err := New(o, newKV); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	rt, err := New(&Options{Topic: "t", NumPartitions: 2}, newKV) // MemLogs by default
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if rt.NumPartitions() != 2 || rt.PartitionFor("abc") != 0 {
		t.Fatal("accessors")
	}
	if err := rt.Load(1, 0); err != nil {
		t.Fatal(err)
	}
	s, _ := rt.Shard(1)
	if err := s.put("k", strp("v")); err != nil {
		t.Fatal(err)
	}
	rt.Unload(1, -1)
	if err := rt.Load(1, 1); err != nil {
		t.Fatal(err)
	}
	if s, _ = rt.Shard(1); s.kv["k"] != "v" {
		t.Fatal("default MemLog lost the write across unload and load")
	}
}

// TestCoordWriteTxn: WriteTxn's batch carries the producer id and epoch and the
// transactional attribute, no sequence; replay tells its records apart.
func TestCoordWriteTxn(t *testing.T) {
	e := newTestEnv(t, 1, nil)
	if err := e.rt.Load(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.shard(0).p.WriteTxn(7, 2, []Record{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	var h batch.Header
	e.logs[0].Replay(func(b []byte) error { h, _ = batch.ParseHeader(b); return nil })
	if !h.IsTransactional() || h.IsControl() || h.ProducerID != 7 || h.ProducerEpoch != 2 || h.BaseSequence != -1 {
		t.Fatalf("header %+v", h)
	}
	e.rt.Unload(0, -1)
	if err := e.rt.Load(0, 1); err != nil {
		t.Fatal(err)
	}
	if m := e.shard(0).metas; len(m) != 1 || !m[0].Transactional || m[0].ProducerID != 7 {
		t.Fatalf("metas %+v", m)
	}
}
