package log

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
	"github.com/stratalog/strata/segment"
)

// syncCounter wraps fs so that every Sync (of a file or a directory) is counted.
func syncCounter(fs vfs.FS) (vfs.FS, *atomic.Int64) {
	var n atomic.Int64
	return errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op, _ string) error {
		if op == errorfs.OpSync {
			n.Add(1)
		}
		return nil
	})), &n
}

// TestLogSharedMarker: with SharedMarker a new log and a log that nothing was appended to
// cost no fsync to open and close, Close writes no .clean, CleanShutdown decides whether
// Open trusts the files, and the first durable append makes the new log's files durable.
func TestLogSharedMarker(t *testing.T) {
	mem := vfs.NewMem()
	fs, syncs := syncCounter(mem)
	shared := func(clean bool) *Options {
		o := memOpts(fs)
		o.SharedMarker, o.CleanShutdown = true, clean
		return o
	}
	expectSyncs := func(what string, f func(), want int64) {
		t.Helper()
		before := syncs.Load()
		f()
		if got := syncs.Load() - before; got != want {
			t.Fatalf("%s: %d syncs, want %d", what, got, want)
		}
	}
	var l *Log
	expectSyncs("open a new log", func() { l = openLog(t, "/p", shared(false)) }, 0)
	expectSyncs("close it", func() { l.Close() }, 0)
	expectSyncs("open it trusted", func() { l = openLog(t, "/p", shared(true)) }, 0)
	expectSyncs("close it", func() { l.Close() }, 0)

	// The first durable append syncs the directory of the new log's files.
	l = openLog(t, "/p", shared(true))
	var acked []ackedBatch
	for i := range 3 {
		b := mkBatch(2, 100, int64(i), byte(i))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
	}
	l2 := openLog(t, "/p", memOpts(mem.CrashClone()))
	verifyAcked(t, l2, acked)
	l2.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat("/p/" + CleanMarker); err == nil {
		t.Fatal("Close wrote .clean with SharedMarker")
	}

	// A byte flipped in the last batch's payload: trusted, the headers are read and the
	// batch stays; recovered, its CRC fails and it is cut.
	end := l.EndOffset()
	data, err := vfs.ReadSmallFile(mem, segName(0, ".log"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-5] ^= 0xff
	f, err := mem.Create(segName(0, ".log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = openLog(t, "/p", shared(true))
	if got := l.EndOffset(); got != end {
		t.Fatalf("trusted open: end %d, want %d", got, end)
	}
	if err := l.Check(); err == nil {
		t.Fatal("Check passes a flipped byte")
	}
	l.Close()
	l = openLog(t, "/p", shared(false))
	if got := l.EndOffset(); got != acked[2].base {
		t.Fatalf("recovered open: end %d, want %d", got, acked[2].base)
	}
	verifyAcked(t, l, acked[:2])
	l.Close()

	// A .clean of the log's own (an earlier version's) is honoured and removed.
	l = openLog(t, "/p", memOpts(fs))
	l.Close()
	if _, err := mem.Stat("/p/" + CleanMarker); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, "/p", shared(false))
	if _, err := mem.Stat("/p/" + CleanMarker); err == nil {
		t.Fatal(".clean left after open")
	}
	verifyAcked(t, l, acked[:2])
}

// TestLogCloseSyncs: Close syncs what changed since Open and nothing else. A log nothing
// was appended to syncs only its clean marker (file and directory); one whose appends
// were flushed already syncs the active segment's indexes (sealed by Close), not its
// .log again nor the recovery point (within the active segment, which recovery rescans
// anyway); one with an append not flushed yet syncs the .log too.
func TestLogCloseSyncs(t *testing.T) {
	fs, syncs := syncCounter(vfs.NewMem())
	closeSyncs := func(l *Log) int64 {
		t.Helper()
		before := syncs.Load()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return syncs.Load() - before
	}
	l := openLog(t, "/p", memOpts(fs))
	mustAppend(t, l, mkBatch(3, 100, 1, 1))
	if got := closeSyncs(l); got != 2+2 {
		t.Fatalf("close after a durable append: %d syncs, want 4 (2 indexes, the clean marker and its directory)", got)
	}
	lazy := memOpts(fs)
	lazy.FlushMessages = 1 << 30 // no flush before Close
	l = openLog(t, "/p", lazy)
	if _, err := l.Append(mkBatch(2, 100, 2, 2), 0); err != nil {
		t.Fatal(err)
	}
	if got := closeSyncs(l); got != 3+2 {
		t.Fatalf("close after an append not flushed yet: %d syncs, want 5 (.log, 2 indexes, marker, directory)", got)
	}
	l = openLog(t, "/p", memOpts(fs))
	if got := closeSyncs(l); got != 2 {
		t.Fatalf("close of an untouched log: %d syncs, want 2 (the clean marker and its directory)", got)
	}
	l = openLog(t, "/p", memOpts(fs))
	if l.EndOffset() != 5 {
		t.Fatalf("end %d after reopen", l.EndOffset())
	}
}

// TestLogDeleteNoSync: Delete flushes nothing, even with unflushed appends.
func TestLogDeleteNoSync(t *testing.T) {
	mem := vfs.NewMem()
	fs, syncs := syncCounter(mem)
	o := memOpts(fs)
	o.FlushMessages = 1 << 30
	l := openLog(t, "/p", o)
	if _, err := l.Append(mkBatch(3, 100, 1, 1), 0); err != nil {
		t.Fatal(err)
	}
	before := syncs.Load()
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if got := syncs.Load() - before; got != 0 {
		t.Fatalf("delete: %d syncs", got)
	}
	if _, err := mem.Stat("/p"); err == nil {
		t.Fatal("directory left after Delete")
	}
}

// TestLogTrustedOpenRepairsDurably: a trusted open that finds an index failing its check
// rescans the segment and cuts a corrupt tail; the cut is durable before Open returns, so
// a crash after the next clean Close does not bring the corrupt batch back.
func TestLogTrustedOpenRepairsDurably(t *testing.T) {
	mem := vfs.NewMem()
	l := openLog(t, "/p", memOpts(mem))
	var acked []ackedBatch
	for i := range 3 {
		b := mkBatch(2, 100, int64(i), byte(i))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
	}
	l.Close()
	rewrite := func(name string, change func([]byte) []byte) {
		t.Helper()
		data, err := vfs.ReadSmallFile(mem, name, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		f, err := mem.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(change(data)); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	rewrite(segName(0, ".log"), func(b []byte) []byte { b[len(b)-5] ^= 0xff; return b })
	rewrite(segName(0, ".index"), func(b []byte) []byte { return append(b, 1, 2, 3) }) // not a multiple of 8
	l = openLog(t, "/p", memOpts(mem))                                                 // trusted (.clean), rescans
	if got := l.EndOffset(); got != acked[2].base {
		t.Fatalf("end %d after the rescan, want %d", got, acked[2].base)
	}
	l.Close()
	l = openLog(t, "/p", memOpts(mem.CrashClone()))
	if got := l.EndOffset(); got != acked[2].base {
		t.Fatalf("end %d after a crash, want %d", got, acked[2].base)
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	verifyAcked(t, l, acked[:2])
}

// TestLogSharedMarkerCloseSyncs: with SharedMarker, Close does not fsync the active
// segment's indexes (the caller syncs every log at once with vfs.SyncTree before it writes
// its marker); a crash before that sync recovers every acknowledged batch, and after it
// the files open trusted and consistent.
func TestLogSharedMarkerCloseSyncs(t *testing.T) {
	mem := vfs.NewMem()
	var indexSyncs atomic.Int64
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op, name string) error {
		if op == errorfs.OpSync && (strings.HasSuffix(name, segment.IndexSuffix) || strings.HasSuffix(name, segment.TimeIndexSuffix)) {
			indexSyncs.Add(1)
		}
		return nil
	}))
	o := memOpts(fs)
	o.SharedMarker = true
	l := openLog(t, "/p", o)
	var acked []ackedBatch
	for i := range 20 { // several segments: the active one has index entries
		b := mkBatch(2, 100, int64(i), byte(i))
		acked = append(acked, ackedBatch{mustAppend(t, l, b).BaseOffset, b})
	}
	before := indexSyncs.Load()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := indexSyncs.Load() - before; got != 0 {
		t.Fatalf("Close with SharedMarker: %d index syncs, want 0", got)
	}

	crashed := openLog(t, "/p", memOpts(mem.CrashClone())) // no marker: recovered
	verifyAcked(t, crashed, acked)
	if err := crashed.Check(); err != nil {
		t.Fatal(err)
	}
	crashed.Close()

	if err := vfs.SyncTree(mem, "/p"); err != nil {
		t.Fatal(err)
	}
	trusted := memOpts(mem.CrashClone())
	trusted.SharedMarker, trusted.CleanShutdown = true, true
	l = openLog(t, "/p", trusted)
	verifyAcked(t, l, acked)
	if err := l.Check(); err != nil {
		t.Fatalf("trusted open after SyncTree: %v", err)
	}
}
