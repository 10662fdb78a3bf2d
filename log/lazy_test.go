package log

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil/fds"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// openFDs counts this process's open file descriptors (Linux), -1 elsewhere.
func openFDs() int {
	if n, ok := fds.Count(); ok {
		return n
	}
	return -1
}

// TestLogLazyOpenSealedSegments: a log closed cleanly reopens without opening the files
// of its sealed segments (only the active one's: 3 descriptors); reads open them on
// demand, within the segment cache's limit, and every batch reads back as appended.
func TestLogLazyOpenSealedSegments(t *testing.T) {
	dir := t.TempDir()
	o := &Options{Logger: quiet, SegmentBytes: 4096, RetentionMs: -1}
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]byte{}
	for i := range 300 {
		b := mkBatch(2, 200, int64(i), byte(i))
		info := mustAppend(t, l, b)
		want[info.BaseOffset] = append([]byte(nil), b...)
	}
	segs := len(l.Segments())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if segs < 20 {
		t.Fatalf("only %d segments", segs)
	}
	fds0 := openFDs()
	cache := segment.NewCache(4)
	o.OpenSegments = cache
	l = openLog(t, dir, o)
	if fds0 >= 0 {
		if got := openFDs() - fds0; got > 3+1 { // the active segment and the lock
			t.Fatalf("reopen of %d segments opened %d descriptors", segs, got)
		}
	}
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.IsOpen() {
			t.Fatalf("sealed segment %d opened at Open", s.Base())
		}
	}
	for round := range 2 {
		got := readAll(t, l, 0)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d batches, want %d", round, len(got), len(want))
		}
		for off, b := range want {
			// Read stamps the leader epoch; compare from the CRC on.
			if !bytes.Equal(got[off][17:], b[17:]) {
				t.Fatalf("round %d: batch %d differs", round, off)
			}
		}
		if st := cache.Stats(); st.Open > 4 {
			t.Fatalf("round %d: %d sealed segments open", round, st.Open)
		}
		if fds0 >= 0 {
			if n := openFDs() - fds0; n > 3*(4+1)+1 {
				t.Fatalf("round %d: %d descriptors open", round, n)
			}
		}
	}
	for _, s := range l.Segments()[:segs-1] {
		if s.MaxTimestamp != s.NextOffset/2 {
			t.Fatalf("segment %d: max timestamp %d, want %d", s.BaseOffset, s.MaxTimestamp, s.NextOffset/2)
		}
	}
	// The last batch (base 598, records at timestamps 299 and 300) has the largest.
	if ts, off := l.MaxTimestamp(); ts != 300 || off != 598 {
		t.Fatalf("max timestamp %d at %d", ts, off)
	}
}

// TestLogCacheEvictsUnderReaders runs readers that send chunks (WriteTo, ReadAt)
// while compaction swaps segments and a segment cache of 1 keeps closing the files of
// the segments they read: every chunk reads back whole and valid (the race detector
// watches the reference counting).
func TestLogCacheEvictsUnderReaders(t *testing.T) {
	o := memOpts(vfs.NewMem())
	o.RetentionMs, o.OpenSegments = -1, segment.NewCache(1)
	l := openLog(t, "/p", o)
	for i := range 200 {
		mustAppend(t, l, keyedBatch(t, []rec{{key: []byte{byte(i % 7)}, value: bytes.Repeat([]byte{byte(i)}, 100), ts: int64(i)}}, codecs[i%len(codecs)], -1))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				off := int64((n*37 + r*11) % int(l.EndOffset()))
				c, err := l.Read(max(off, l.StartOffset()), 1000, l.EndOffset())
				if err != nil {
					errs <- err
					return
				}
				var buf bytes.Buffer
				if _, err := c.WriteTo(&buf); err != nil {
					errs <- err
				}
				time.Sleep(time.Microsecond) // let the cache close the files meanwhile
				b := make([]byte, c.Len())
				if _, err := c.ReadAt(b, 0); err != nil && err != io.EOF {
					errs <- err
				}
				c.Release()
				if !bytes.Equal(b, buf.Bytes()) {
					errs <- io.ErrUnexpectedEOF
				}
				for p := b; len(p) > 0; {
					n, err := batch.Next(p)
					if err == nil {
						_, err = batch.Validate(p[:n])
					}
					if err != nil {
						errs <- err
						return
					}
					p = p[n:]
				}
			}
		}()
	}
	for i := range 5 {
		mustAppend(t, l, keyedBatch(t, []rec{{key: []byte{byte(i)}, value: []byte("x"), ts: 1000}}, batch.CodecNone, -1))
		if _, err := l.Compact(CompactOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
