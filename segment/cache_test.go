package segment

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil/fds"
	"github.com/stratalog/strata/internal/vfs"
)

// openFDs counts this process's open file descriptors (Linux), -1 elsewhere.
func openFDs() int {
	if n, ok := fds.Count(); ok {
		return n
	}
	return -1
}

// sealedSegments creates n sealed, synced segments of 10 batches each in dir.
func sealedSegments(t *testing.T, fs vfs.FS, dir string, n int, o Options) ([]*Segment, [][]byte) {
	t.Helper()
	var segs []*Segment
	var data [][]byte
	for i := range n {
		base := int64(i * 1000)
		s, err := Create(fs, dir, base, o, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, infos := build(base, 10)
		if err := s.Append(b, infos); err != nil {
			t.Fatal(err)
		}
		if err := s.Seal(); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		segs = append(segs, s)
		data = append(data, b)
	}
	return segs, data
}

// readAll reads segment s whole through ScanFrom.
func readAll(t *testing.T, s *Segment) []byte {
	t.Helper()
	var got []byte
	if err := s.ScanFrom(s.Base(), func(_ batch.Header, b []byte) error {
		got = append(got, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSegmentCacheBoundsOpenFiles: with a Cache of 3, no more than 3 of 20 sealed
// segments keep their files open (counted by the Cache and in /proc/self/fd), every
// segment still reads back whole (reopened on use), and a Handle taken before its
// segment's files are closed keeps reading until it is released.
func TestSegmentCacheBoundsOpenFiles(t *testing.T) {
	for name, mk := range fsCases(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk()
			c := NewCache(3)
			o := opts
			o.Cache = c
			fds0 := openFDs()
			segs, data := sealedSegments(t, fs, dir, 20, o)
			if st := c.Stats(); st.Open > 3 || st.Evictions < 17 {
				t.Fatalf("after sealing 20: %+v", st)
			}
			if name == "os" && fds0 >= 0 {
				if got := openFDs() - fds0; got > 3*3 {
					t.Fatalf("%d more descriptors open with 3 segments cached", got)
				}
			}
			h, err := segs[0].Handle()
			if err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				for i, s := range segs {
					if got := readAll(t, s); !bytes.Equal(got, data[i]) {
						t.Fatalf("round %d: segment %d reads back %d bytes, want %d", round, i, len(got), len(data[i]))
					}
					if st := c.Stats(); st.Open > 3 {
						t.Fatalf("round %d: %d segments open", round, st.Open)
					}
				}
			}
			if segs[0].IsOpen() {
				t.Fatal("segment 0 still open after 19 others were read")
			}
			// The handle outlived the closing of segment 0's files.
			b := make([]byte, len(data[0]))
			if _, err := h.File().ReadAt(b, 0); err != nil || !bytes.Equal(b, data[0]) {
				t.Fatalf("read through a handle on closed files: %v", err)
			}
			h.Release()
			if name == "os" && fds0 >= 0 {
				if got := openFDs() - fds0; got > 3*3 {
					t.Fatalf("%d more descriptors open after the handle's release", got)
				}
			}
		})
	}
}

// TestSegmentCacheKeepsUnsynced: a sealed segment not yet synced is never closed by the
// Cache; once synced, it may be.
func TestSegmentCacheKeepsUnsynced(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	c := NewCache(1)
	o := opts
	o.Cache = c
	s, _ := Create(fs, "/d", 0, o, time.Now())
	defer s.Close()
	b, infos := build(0, 5)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	fs.MkdirAll("/e", 0o755)
	others, _ := sealedSegments(t, fs, "/e", 3, o)
	if !s.IsOpen() {
		t.Fatal("unsynced segment closed")
	}
	if err := s.Sync(true); err != nil {
		t.Fatal(err)
	}
	readAll(t, others[0])
	readAll(t, others[1])
	if s.IsOpen() {
		t.Fatal("synced segment kept open past the limit")
	}
	if got := readAll(t, s); !bytes.Equal(got, b) {
		t.Fatal("reopened segment reads differently")
	}
}

// TestSegmentCacheDeletedWhileClosed: a segment whose files the Cache closed and that is
// then marked deleted still serves the reader holding a reference (its *.deleted files
// are reopened), and its files go with the last release.
func TestSegmentCacheDeletedWhileClosed(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	o := opts
	o.Cache = NewCache(1)
	segs, data := sealedSegments(t, fs, "/d", 3, o)
	s := segs[0]
	if s.IsOpen() {
		t.Fatal("segment 0 open")
	}
	if !s.Acquire() {
		t.Fatal("acquire")
	}
	if err := s.MarkDeleted(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s); !bytes.Equal(got, data[0]) {
		t.Fatal("deleted segment reads differently")
	}
	s.Release()
	for _, p := range s.Paths() {
		if _, err := fs.Stat(p + DeletedSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left: %v", p+DeletedSuffix, err)
		}
	}
	if _, err := s.Handle(); err == nil {
		t.Fatal("handle on a closed segment")
	}
}

// TestSegmentOpenCold: OpenCold opens no file, knows size and next offset from the
// directory and the log, reads the max timestamp from the time index when asked, checks
// the files on first use, and refuses a segment that does not match what the log said.
func TestSegmentOpenCold(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	segs, data := sealedSegments(t, fs, "/d", 1, opts)
	want := segs[0]
	wantTs, wantOff, _ := want.MaxTimestamp()
	next := want.Next()
	want.Close()

	s, err := OpenCold(fs, "/d", 0, opts, next, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.IsOpen() || s.Size() != int64(len(data[0])) || s.Next() != next || !s.Sealed() {
		t.Fatalf("cold: open %v size %d next %d", s.IsOpen(), s.Size(), s.Next())
	}
	if ts, off, err := s.MaxTimestamp(); err != nil || ts != wantTs || off != wantOff || s.IsOpen() {
		t.Fatalf("cold max timestamp %d@%d, want %d@%d", ts, off, wantTs, wantOff)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if !s.IsOpen() {
		t.Fatal("not open after use")
	}
	s.Close()

	// The log said the segment ends elsewhere: the first use fails, and says why.
	bad, err := OpenCold(fs, "/d", 0, opts, next+5, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bad.Find(0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("mismatched segment: %v", err)
	}
	if bad.Next() != next+5 || bad.IsOpen() {
		t.Fatal("state changed by a failed first open")
	}
	bad.Close()

	// A time index of the wrong size: the max timestamp comes from opening the files,
	// which rebuilds the index.
	if f, err := fs.OpenReadWrite("/d/" + BaseName(0) + TimeIndexSuffix); err == nil {
		f.Write([]byte{1, 2, 3})
		f.Close()
	}
	s, err = OpenCold(fs, "/d", 0, opts, next, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ts, off, err := s.MaxTimestamp(); err != nil || ts != wantTs || off != wantOff || !s.IsOpen() {
		t.Fatalf("max timestamp from a bad time index: %d@%d %v, open %v", ts, off, err, s.IsOpen())
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	// A log file that cannot hold the offsets the log says: OpenCold opens it at once.
	fb, err := OpenCold(fs, "/d", 0, opts, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if !fb.IsOpen() || fb.Next() != next {
		t.Fatalf("fallback: open %v next %d", fb.IsOpen(), fb.Next())
	}
}

// TestSegmentUnsealClosed: Unseal of a segment whose files the Cache closed opens them
// writable, and appends follow.
func TestSegmentUnsealClosed(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	o := opts
	o.Cache = NewCache(1)
	segs, data := sealedSegments(t, fs, "/d", 2, o)
	s := segs[0]
	if s.IsOpen() {
		t.Fatal("segment 0 open")
	}
	if err := s.Unseal(); err != nil {
		t.Fatal(err)
	}
	b, infos := build(s.Next(), 3)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s); !bytes.Equal(got, append(data[0], b...)) {
		t.Fatal("unsealed segment reads differently")
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentUnsealCold: Unseal of a segment opened cold checks its files first.
func TestSegmentUnsealCold(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	segs, data := sealedSegments(t, fs, "/d", 1, opts)
	next := segs[0].Next()
	segs[0].Close()
	bad, err := OpenCold(fs, "/d", 0, opts, next+1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Unseal(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unseal of a mismatched cold segment: %v", err)
	}
	bad.Close()
	s, err := OpenCold(fs, "/d", 0, opts, next, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Unseal(); err != nil {
		t.Fatal(err)
	}
	b, infos := build(next, 2)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s); !bytes.Equal(got, append(data[0], b...)) {
		t.Fatal("unsealed cold segment reads differently")
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
