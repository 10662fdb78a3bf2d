package log

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
)

// logBuffer collects a logger's output (safe for the flusher goroutine).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (lb *logBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

// lines returns the lines containing s.
func (lb *logBuffer) lines(s string) []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []string
	for _, l := range strings.Split(lb.b.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// TestLogStorageOutage fills the disk (every write fails with ENOSPC) under a working
// log: each append fails with an error wrapping ErrStorage and ENOSPC and leaves
// nothing behind, reads keep working, the failed state is logged once however many
// appends fail, and once writes succeed again the next append works, with one line for
// the recovery, without reopening the log.
func TestLogStorageOutage(t *testing.T) {
	inj := errorfs.OnKinds(errorfs.OpWrite)
	inj.Err = syscall.ENOSPC
	inj.Enabled.Store(false)
	var out logBuffer
	o := memOpts(errorfs.Wrap(vfs.NewMem(), inj))
	o.Logger = slog.New(slog.NewTextHandler(&out, nil))
	l := openLog(t, "/p", o)
	var acked []ackedBatch
	for i := range 3 {
		b := mkBatch(2, 300, int64(i), byte(i))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
	}
	for round := 1; round <= 2; round++ {
		inj.Enabled.Store(true)
		end := l.EndOffset()
		for i := range 5 {
			_, err := l.Append(mkBatch(1, 700, int64(i), 9), 0)
			if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("round %d append %d on a full disk: %v, want ErrStorage wrapping ENOSPC", round, i, err)
			}
		}
		if l.EndOffset() != end {
			t.Fatalf("failed appends moved the end %d -> %d", end, l.EndOffset())
		}
		verifyAcked(t, l, acked)
		if n := len(out.lines("log: storage failure")); n != round {
			t.Fatalf("round %d: %d failure lines, want %d:\n%s", round, n, round, out.b.String())
		}
		if n := len(out.lines("log: storage recovered")); n != round-1 {
			t.Fatalf("round %d: recovery logged while still failing", round)
		}
		inj.Enabled.Store(false)
		b := mkBatch(1, 50, 100, byte(round))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
		rec := out.lines("log: storage recovered")
		if len(rec) != round || !strings.Contains(rec[round-1], "failed_operations=5") {
			t.Fatalf("round %d: recovery lines %q", round, rec)
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
		verifyAcked(t, l, acked)
	}
}

// TestLogSyncFailureRepair fails the fsync of an append in durable mode: the wait fails
// with ErrStorage; the repair cuts the log back to its durable end (dropping the batch
// whose fsync failed, never acknowledged), and appends stay refused until a repair can
// sync; then the next append lands at that offset. Acknowledged batches
// survive, also in a crash image.
func TestLogSyncFailureRepair(t *testing.T) {
	inj := errorfs.OnKinds(errorfs.OpSync)
	inj.Err = syscall.EIO
	inj.Enabled.Store(false)
	fs := vfs.NewMem()
	l := openLog(t, "/p", memOpts(errorfs.Wrap(fs, inj)))
	var acked []ackedBatch
	for i := range 3 {
		b := mkBatch(1, 200, int64(i), byte(i))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
	}
	durable := l.DurableEnd()
	inj.Enabled.Store(true)
	info, err := l.Append(mkBatch(3, 100, 5, 7), 0)
	if err != nil {
		t.Fatalf("append (the write works): %v", err)
	}
	if err := l.WaitDurable(info.LastOffset + 1); !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("wait: %v, want ErrStorage wrapping EIO", err)
	}
	// The cut is made even though its fsync fails: dropped is reported then, once.
	if dropped, err := l.Repair(); !dropped || !errors.Is(err, ErrStorage) {
		t.Fatalf("repair while syncs fail: dropped %v, %v", dropped, err)
	}
	if _, err := l.Append(mkBatch(1, 10, 6, 8), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("append while the repair cannot sync: %v", err)
	}
	verifyAcked(t, l, acked)
	inj.Enabled.Store(false)
	if dropped, err := l.Repair(); err != nil || dropped {
		t.Fatalf("repair: dropped %v, %v", dropped, err)
	}
	if l.EndOffset() != durable {
		t.Fatalf("end after repair %d, want the durable end %d", l.EndOffset(), durable)
	}
	b := mkBatch(2, 100, 9, 9)
	if got := mustAppend(t, l, b).BaseOffset; got != durable {
		t.Fatalf("append after repair at %d, want %d", got, durable)
	}
	acked = append(acked, ackedBatch{durable, b})
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	verifyAcked(t, l, acked)
	l2, err := Open("/p", memOpts(fs.CrashClone()))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Check(); err != nil {
		t.Fatal(err)
	}
	verifyAcked(t, l2, acked)
}
