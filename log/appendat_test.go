package log

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/vfs"
)

// at returns a copy of b with base offset off and leader epoch epoch (neither is covered
// by the CRC): a batch as a leader stored it.
func at(b []byte, off int64, epoch int32) []byte {
	c := append([]byte(nil), b...)
	batch.SetBaseOffset(c, off)
	batch.SetLeaderEpoch(c, epoch)
	return c
}

// TestLogAppendAt copies a leader's log into a follower's with AppendAt: the batches keep
// their offsets and epochs byte for byte, in appends of several batches, across rolls,
// and survive a crash image and a reopen.
func TestLogAppendAt(t *testing.T) {
	leader := openLog(t, "/leader", memOpts(vfs.NewMem()))
	for i := range 30 {
		b := mkBatch(1+i%3, 120, int64(i), byte(i))
		if _, err := leader.Append(b, int32(i/10)); err != nil {
			t.Fatal(err)
		}
	}
	fs := vfs.NewMem()
	o := memOpts(fs)
	o.FlushMessages = 0 // durable: the crash image keeps what WaitDurable covered
	f := openLog(t, "/follower", o)
	for off := int64(0); off < leader.EndOffset(); {
		b, err := leader.ReadCopy(off, 700, leader.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		info, err := f.AppendAt(b)
		if err != nil {
			t.Fatalf("append at %d: %v", off, err)
		}
		if info.BaseOffset != off {
			t.Fatalf("AppendAt base %d, want %d", info.BaseOffset, off)
		}
		if err := f.WaitDurable(info.LastOffset + 1); err != nil {
			t.Fatal(err)
		}
		off = info.LastOffset + 1
	}
	if f.EndOffset() != leader.EndOffset() || len(f.Segments()) < 3 {
		t.Fatalf("follower end %d (%d segments), leader end %d", f.EndOffset(), len(f.Segments()), leader.EndOffset())
	}
	want := readAll(t, leader, 0)
	check := func(l *Log) {
		t.Helper()
		got := readAll(t, l, 0)
		if len(got) != len(want) {
			t.Fatalf("%d batches, want %d", len(got), len(want))
		}
		for off, w := range want {
			if !bytes.Equal(got[off], w) {
				t.Fatalf("batch at %d differs from the leader's", off)
			}
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
	}
	check(f)
	check(openLog(t, "/follower", memOpts(fs.CrashClone())))
}

// TestLogAppendAtRefused: offsets that do not follow the log, corrupt bytes and storage
// limits write nothing.
func TestLogAppendAtRefused(t *testing.T) {
	l := openLog(t, "/p", memOpts(vfs.NewMem()))
	b := mkBatch(3, 50, 1, 1)
	if _, err := l.AppendAt(at(b, 0, 2)); err != nil {
		t.Fatal(err)
	}
	corrupt := at(b, 3, 2)
	corrupt[len(corrupt)-1] ^= 1
	twoBackwards := append(at(b, 10, 2), at(b, 11, 2)...) // 10..12, then 11..13
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"below the end", at(b, 2, 2), ErrUnexpectedOffset},
		{"overlapping batches", twoBackwards, ErrUnexpectedOffset},
		{"corrupt", corrupt, ErrCorrupt},
		{"empty", nil, ErrInvalidBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := l.AppendAt(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("AppendAt: %v, want %v", err, tc.want)
			}
			if l.EndOffset() != 3 {
				t.Fatalf("end %d after a refused AppendAt", l.EndOffset())
			}
		})
	}
	// A gap too wide for a segment's 32-bit relative offsets.
	if _, err := l.AppendAt(at(b, 1<<33, 2)); !errors.Is(err, ErrUnexpectedOffset) {
		t.Fatalf("AppendAt past 2^32 offsets: %v", err)
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestLogAppendAtGapTruncate: a follower's copy of a compacted log has gaps; a read in a
// gap returns the next batch, and a truncation into a gap leaves the end at the last
// batch kept (a segment ends where its last batch does), also after a reopen.
func TestLogAppendAtGapTruncate(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, "/p", memOpts(fs))
	b := mkBatch(2, 50, 1, 1)
	for _, off := range []int64{0, 10, 20} { // 0..1, gap, 10..11, gap, 20..21
		info, err := l.AppendAt(at(b, off, 0))
		if err != nil || info.BaseOffset != off || info.LastOffset != off+1 {
			t.Fatalf("AppendAt at %d: %+v, %v", off, info, err)
		}
	}
	if l.EndOffset() != 22 {
		t.Fatalf("end %d, want 22", l.EndOffset())
	}
	got, err := l.ReadCopy(5, 1, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(got); h.BaseOffset != 10 {
		t.Fatalf("read in the gap returned the batch at %d, want 10", h.BaseOffset)
	}
	if err := l.Truncate(15); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != 12 {
		t.Fatalf("end after truncating into the gap: %d, want 12", l.EndOffset())
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	// The leader's log goes on at 15: the follower takes it.
	if _, err := l.AppendAt(at(b, 15, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, "/p", memOpts(fs))
	if l2.EndOffset() != 17 {
		t.Fatalf("end after reopen %d, want 17", l2.EndOffset())
	}
}

// FuzzLogAppendAt feeds a follower's log arbitrary bytes as if fetched from a leader, twice
// (the second append must follow the first).
//
// Invariants: no panic; a refused append writes nothing (the end offset is unchanged); an
// accepted one ends the log at its last offset + 1 and every stored batch reads back
// byte for byte; the log passes Check and reopens to the same end offset.
func FuzzLogAppendAt(f *testing.F) {
	b := mkBatch(3, 20, 1, 1)
	f.Add(at(b, 0, 0), at(b, 3, 1))
	f.Add(append(at(b, 5, 0), at(b, 9, 0)...), at(b, 9, 2))
	f.Add(at(b, 0, 0), at(b, 1, 0))
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		fs := vfs.NewMem()
		l, err := Open("/p", memOpts(fs))
		if err != nil {
			t.Fatal(err)
		}
		stored := map[int64][]byte{}
		for _, in := range [][]byte{first, second} {
			in = append([]byte(nil), in...)
			end := l.EndOffset()
			info, err := l.AppendAt(in)
			if err != nil {
				if l.EndOffset() != end {
					t.Fatalf("refused append (%v) moved the end %d -> %d", err, end, l.EndOffset())
				}
				continue
			}
			if info.BaseOffset < end || l.EndOffset() != info.LastOffset+1 {
				t.Fatalf("append %+v after end %d: end now %d", info, end, l.EndOffset())
			}
			for p := 0; p < len(in); {
				n, _ := batch.Next(in[p:])
				h, _ := batch.ParseHeader(in[p : p+n])
				stored[h.BaseOffset] = in[p : p+n]
				p += n
			}
		}
		for off, want := range stored {
			got, err := l.ReadCopy(off, 1, l.EndOffset())
			if err != nil || !bytes.HasPrefix(got, want) {
				t.Fatalf("batch at %d does not read back: %v", off, err)
			}
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
		end := l.EndOffset()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, err = Open("/p", memOpts(fs))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.EndOffset() != end {
			t.Fatalf("reopened at end %d, was %d", l.EndOffset(), end)
		}
	})
}
