package log

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
)

// newTestFlusher starts a shared Flusher closed in t.Cleanup (registered first, so it
// runs after the logs' cleanups: logs close before their flusher).
func newTestFlusher(t testing.TB, testRound func()) *Flusher {
	t.Helper()
	f := newFlusher(testRound, unwaitedDelay)
	t.Cleanup(f.Close)
	return f
}

// openShared opens n logs /p0 … on fs sharing f.
func openShared(t testing.TB, fs vfs.FS, f *Flusher, n int, tune func(*Options)) []*Log {
	t.Helper()
	logs := make([]*Log, n)
	for i := range logs {
		o := memOpts(fs)
		o.Flusher = f
		if tune != nil {
			tune(o)
		}
		logs[i] = openLog(t, fmt.Sprintf("/p%d", i), o)
	}
	return logs
}

// TestLogFlusherOneRound: appends to 8 logs queued while a round is held back are all
// made durable by that one round (one sync wait for an 8-partition request).
func TestLogFlusherOneRound(t *testing.T) {
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	var hold atomic.Bool
	hold.Store(true)
	f := newTestFlusher(t, func() {
		if hold.Load() {
			entered <- struct{}{}
			<-gate
		}
	})
	logs := openShared(t, vfs.NewMem(), f, 8, nil)
	ends := make([]int64, len(logs))
	for i, l := range logs {
		info, err := l.Append(mkBatch(2, 100, int64(i), byte(i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = info.LastOffset + 1
		if i == 0 {
			<-entered // the round runs, held before it takes the queue
		}
	}
	for i, l := range logs {
		if d := l.DurableEnd(); d >= ends[i] {
			t.Fatalf("log %d durable to %d before the round", i, d)
		}
	}
	hold.Store(false)
	close(gate)
	for i, l := range logs {
		if err := l.WaitDurable(ends[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.rounds.Load(); n != 1 {
		t.Fatalf("%d rounds for 8 logs queued together, want 1", n)
	}
}

// TestLogFlusherWokenByWaiter: durable appends to 8 logs wake nobody; the first wait
// does, and one round covers all 8 (an 8-partition produce request: one sync wait). An
// append nobody waits for is flushed unwaitedDelay later.
func TestLogFlusherWokenByWaiter(t *testing.T) {
	f := newFlusher(nil, time.Hour)
	t.Cleanup(f.Close)
	logs := openShared(t, vfs.NewMem(), f, 8, nil)
	ends := make([]int64, len(logs))
	for i, l := range logs {
		info, err := l.Append(mkBatch(2, 100, int64(i), byte(i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = info.LastOffset + 1
	}
	time.Sleep(10 * time.Millisecond) // a round now would be wrong, and be counted
	done := make(chan error, len(logs))
	for i, l := range logs {
		l.WhenDurable(ends[i], func(err error) { done <- err })
	}
	for range logs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := f.rounds.Load(); n != 1 {
		t.Fatalf("%d rounds for 8 appends waited for together, want 1", n)
	}

	f2 := newTestFlusher(t, nil)
	l := openShared(t, vfs.NewMem(), f2, 1, nil)[0]
	info, err := l.Append(mkBatch(1, 10, 1, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.DurableEnd() <= info.LastOffset {
		if time.Now().After(deadline) {
			t.Fatal("an append nobody waits for was not flushed in 10 s")
		}
		time.Sleep(time.Millisecond) // unwaitedDelay is 1 ms
	}
}

// TestLogFlusherCrashClone runs durable writers on 8 logs sharing one flusher and takes
// crash images (only fsynced data and entries survive: kill -9 or power loss) while they
// run: every append acknowledged (WaitDurable nil) before an image is in it, on every log.
func TestLogFlusherCrashClone(t *testing.T) {
	fs := vfs.NewMem()
	const nlogs, writers, perWriter = 8, 2, 30
	logs := openShared(t, fs, newTestFlusher(t, nil), nlogs, func(o *Options) { o.SegmentBytes = 8 << 10 })
	var mu sync.Mutex
	acked := make([][]ackedBatch, nlogs)
	ackCh := make(chan struct{}, nlogs*writers*perWriter)
	var wg sync.WaitGroup
	for p, l := range logs {
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					b := mkBatch(1+i%3, 50+(i*17)%300, int64(i), byte(p*31+w*7+i))
					info, err := l.Append(b, 1)
					if err == nil {
						err = l.WaitDurable(info.LastOffset + 1)
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					acked[p] = append(acked[p], ackedBatch{info.BaseOffset, b})
					mu.Unlock()
					ackCh <- struct{}{}
				}
			}()
		}
	}
	type image struct {
		fs    *vfs.MemFS
		acked [][]ackedBatch
	}
	snap := func() image {
		mu.Lock()
		defer mu.Unlock()
		im := image{fs.CrashClone(), make([][]ackedBatch, nlogs)}
		for p := range acked {
			im.acked[p] = append([]ackedBatch(nil), acked[p]...)
		}
		return im
	}
	var images []image
	for i := 1; i <= nlogs*writers*perWriter; i++ {
		<-ackCh
		if i%40 == 0 {
			images = append(images, snap())
		}
	}
	wg.Wait()
	images = append(images, snap())
	for i, im := range images {
		t.Run(fmt.Sprintf("image%d", i), func(t *testing.T) {
			for p := range nlogs {
				l2 := openLog(t, fmt.Sprintf("/p%d", p), memOpts(im.fs))
				verifyAcked(t, l2, im.acked[p])
				if err := l2.Check(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestLogFlusherSyncFailure fails the k-th fsync for k = 0, 1, … until a run finishes
// without hitting it, with 4 logs sharing one flusher and appended to together (one
// round covers them). The failed log's wait returns ErrStorage, the others' waits are
// unaffected; the failed log repairs itself on its next append; every acknowledged batch
// of every log is intact in the live logs and in a crash image.
func TestLogFlusherSyncFailure(t *testing.T) {
	for k := int64(0); ; k++ {
		if !runFlusherSyncFailure(t, k) {
			t.Logf("clean run after %d injection points", k)
			return
		}
	}
}

func runFlusherSyncFailure(t *testing.T, k int64) bool {
	fs := vfs.NewMem()
	var syncs atomic.Int64
	var hit atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if op == errorfs.OpSync && syncs.Add(1)-1 == k {
			hit.Store(true)
			return &iofs.PathError{Op: op.String(), Path: name, Err: fmt.Errorf("%w: %w", errorfs.ErrInjected, syscall.EIO)}
		}
		return nil
	})
	efs := errorfs.Wrap(fs, inj)
	const nlogs = 4
	f := newFlusher(nil, unwaitedDelay)
	defer f.Close()
	logs := make([]*Log, nlogs)
	for p := range logs {
		o := memOpts(efs)
		o.Flusher = f
		l, err := Open(fmt.Sprintf("/p%d", p), o)
		if err != nil {
			t.Fatalf("k=%d: open: %v", k, err)
		}
		defer l.Close()
		logs[p] = l
	}
	acked := make([][]ackedBatch, nlogs)
	failures := 0
	for i := 0; i < 12; i++ {
		infos := make([]AppendInfo, nlogs)
		bs := make([][]byte, nlogs)
		errs := make([]error, nlogs)
		for p, l := range logs {
			bs[p] = mkBatch(1+i%2, 100+i*9, int64(i), byte(p*13+i))
			infos[p], errs[p] = l.Append(bs[p], 0)
		}
		for p, l := range logs {
			if errs[p] == nil {
				errs[p] = l.WaitDurable(infos[p].LastOffset + 1)
			}
			if errs[p] != nil {
				if !hit.Load() || !errors.Is(errs[p], ErrStorage) {
					t.Fatalf("k=%d: log %d append %d: %v (injected: %v), want ErrStorage", k, p, i, errs[p], hit.Load())
				}
				if failures++; failures > 1 {
					t.Fatalf("k=%d: a second failure after a one-shot fault: %v", k, errs[p])
				}
				continue
			}
			acked[p] = append(acked[p], ackedBatch{infos[p].BaseOffset, bs[p]})
		}
	}
	img := fs.CrashClone()
	for p, l := range logs {
		if _, err := l.Append(mkBatch(1, 10, 1, 1), 0); err != nil { // repairs a log the fault hit after its last wait
			t.Fatalf("k=%d: log %d: append after the runs: %v", k, p, err)
		}
		if err := l.Check(); err != nil {
			t.Fatalf("k=%d: log %d: check of the live log: %v", k, p, err)
		}
		verifyAcked(t, l, acked[p])
	}
	for p := range logs {
		l2, err := Open(fmt.Sprintf("/p%d", p), memOpts(img))
		if err != nil {
			t.Fatalf("k=%d: reopen %d: %v", k, p, err)
		}
		if err := l2.Check(); err != nil {
			t.Fatalf("k=%d: log %d: check of the crash image: %v", k, p, err)
		}
		verifyAcked(t, l2, acked[p])
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return hit.Load()
}

// TestLogFlusherFlushMs: a non-durable log on a shared flusher (no goroutine of its own)
// is still flushed every flush.ms, and no longer once it is closed.
func TestLogFlusherFlushMs(t *testing.T) {
	flushed := make(chan struct{}, 16)
	logs := openShared(t, vfs.NewMem(), newTestFlusher(t, nil), 1, func(o *Options) {
		o.FlushMessages, o.FlushMs = 1<<40, 5*time.Millisecond
		o.OnFlush = func(time.Duration) {
			select {
			case flushed <- struct{}{}:
			default:
			}
		}
	})
	mustAppend(t, logs[0], mkBatch(1, 10, 1, 1))
	select {
	case <-flushed:
	case <-time.After(10 * time.Second):
		t.Fatal("no flush.ms flush in 10 s")
	}
	// Durable mode stops the timer; a flush.ms set again restarts it.
	o := *memOpts(nil)
	if err := logs[0].Reconfigure(o); err != nil {
		t.Fatal(err)
	}
	logs[0].tmu.Lock()
	stopped := logs[0].tmr == nil || !logs[0].tmr.Stop()
	logs[0].tmu.Unlock()
	if !stopped {
		t.Fatal("flush.ms timer running in durable mode")
	}
}

// TestLogFlusherNoBarrier: while one log's flush is held (its OnFlush blocks), another
// log's appends are flushed, and the held log's append queued meanwhile is flushed by
// its worker once the first flush ends (no second flush of it runs in parallel).
func TestLogFlusherNoBarrier(t *testing.T) {
	f := newTestFlusher(t, nil)
	fs := vfs.NewMem()
	held := make(chan struct{})
	release := make(chan struct{})
	var hold atomic.Bool
	oa := memOpts(fs)
	oa.Flusher = f
	oa.OnFlush = func(time.Duration) {
		if hold.CompareAndSwap(true, false) {
			close(held)
			<-release
		}
	}
	a := openLog(t, "/a", oa)
	b := openShared(t, fs, f, 1, nil)[0]

	hold.Store(true)
	info, err := a.Append(mkBatch(1, 10, 1, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- a.WaitDurable(info.LastOffset + 1) }()
	<-held // a's first flush has synced and waits in OnFlush

	info2, err := a.Append(mkBatch(1, 10, 2, 2), 0)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- a.WaitDurable(info2.LastOffset + 1) }()
	for i := range 3 { // b goes on while a's flush is held
		mustAppend(t, b, mkBatch(1, 10, int64(i), byte(i)))
	}
	select {
	case err := <-second:
		t.Fatalf("a's second append durable while its first flush is held: %v", err)
	default:
	}
	close(release)
	for _, c := range []chan error{first, second} {
		select {
		case err := <-c:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a's appends not durable 10 s after its flush was released")
		}
	}
}
