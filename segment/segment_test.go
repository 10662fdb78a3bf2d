package segment

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/internal/vfs/errorfs"
)

var opts = Options{IndexBytes: 4096, IndexInterval: 300}

// build returns stamped batches from base and their infos.
func build(base int64, n int) ([]byte, []BatchInfo) {
	var all []byte
	var infos []BatchInfo
	off := base
	for i := 0; i < n; i++ {
		b := testutil.Batch(testutil.BatchOptions{Records: 1 + i%3, ValueSize: 50 + i*11, Timestamp: int64(100 + i*10), TimestampStep: 1, Seed: byte(i)})
		h, _ := batch.ParseHeader(b)
		batch.SetBaseOffset(b, off)
		infos = append(infos, BatchInfo{Base: off, Last: off + int64(h.LastOffsetDelta), MaxTimestamp: h.MaxTimestamp, Size: len(b)})
		off += int64(h.LastOffsetDelta) + 1
		all = append(all, b...)
	}
	return all, infos
}

func fsCases(t *testing.T) map[string]func() (vfs.FS, string) {
	return map[string]func() (vfs.FS, string){
		"os":  func() (vfs.FS, string) { return vfs.Default, t.TempDir() },
		"mem": func() (vfs.FS, string) { m := vfs.NewMem(); m.MkdirAll("/d", 0o755); return m, "/d" },
	}
}

func TestSegmentAppendFind(t *testing.T) {
	for name, mk := range fsCases(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := mk()
			s, err := Create(fs, dir, 1000, opts, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			b, infos := build(1000, 40)
			// Append in a few calls.
			p := 0
			for i := 0; i < len(infos); i += 7 {
				j := min(i+7, len(infos))
				n := 0
				for _, bi := range infos[i:j] {
					n += bi.Size
				}
				if err := s.Append(b[p:p+n], infos[i:j]); err != nil {
					t.Fatal(err)
				}
				p += n
			}
			if s.Size() != int64(len(b)) || s.Next() != infos[len(infos)-1].Last+1 {
				t.Fatalf("size %d next %d", s.Size(), s.Next())
			}
			check := func(s *Segment) {
				t.Helper()
				if err := s.Check(); err != nil {
					t.Fatal(err)
				}
				pos := int64(0)
				for _, bi := range infos {
					for _, off := range []int64{bi.Base, bi.Last} {
						got, h, err := s.Find(off)
						if err != nil || got != pos || h.BaseOffset != bi.Base {
							t.Fatalf("find %d: pos %d (want %d) base %d: %v", off, got, pos, h.BaseOffset, err)
						}
					}
					pos += int64(bi.Size)
				}
				if _, _, err := s.Find(s.Next()); !errors.Is(err, ErrNotFound) {
					t.Fatalf("find next: %v", err)
				}
				// KIP-74: at least one batch; bounded by maxBytes and maxOffset.
				r, err := s.ReadRegion(infos[3].Base, 1, 1<<62)
				pos0 := r.Pos
				if err != nil || r.Len != infos[3].Size || !r.Records || r.Tail || r.First.BaseOffset != infos[3].Base {
					t.Fatalf("region: %+v %v", r, err)
				}
				r, _ = s.ReadRegion(infos[3].Base, 1<<20, infos[6].Base)
				if r.Len != infos[3].Size+infos[4].Size+infos[5].Size {
					t.Fatalf("bounded region %+v", r)
				}
				// The newest batches (the ring of recent headers, for a fresh segment).
				tail := 0
				for _, bi := range infos[30:] {
					tail += bi.Size
				}
				if r, err := s.ReadRegion(infos[30].Last, 1<<20, 1<<62); err != nil || r.Len != tail || r.Pos != int64(len(b)-tail) || !r.Tail {
					t.Fatalf("tail region %+v (want %d %d): %v", r, len(b)-tail, tail, err)
				}
				if r, _ = s.ReadRegion(infos[3].Base, 1<<20, infos[3].Base); r.Len != 0 {
					t.Fatalf("region at max offset %+v", r)
				}
				off, mts, ok, err := s.FindTimestamp(infos[20].MaxTimestamp)
				if err != nil || !ok || off != infos[20].Base || mts != infos[20].MaxTimestamp {
					t.Fatalf("find ts: %d %d %v %v", off, mts, ok, err)
				}
				if _, _, ok, _ := s.FindTimestamp(1 << 50); ok {
					t.Fatal("found a future timestamp")
				}
				if ts, off, _ := s.MaxTimestamp(); ts != infos[39].MaxTimestamp || off != infos[39].Base {
					t.Fatalf("max ts %d %d", ts, off)
				}
				var got []byte
				if err := s.ScanFrom(infos[10].Base+1, func(h batch.Header, b []byte) error {
					got = append(got, b...)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, b[pos0+int64(infos[3].Size)*0-pos0+func() int64 {
					q := int64(0)
					for _, bi := range infos[:10] {
						q += int64(bi.Size)
					}
					return q
				}():]) {
					t.Fatal("scan bytes differ")
				}
			}
			check(s)
			if err := s.Seal(); err != nil {
				t.Fatal(err)
			}
			check(s)
			if err := s.Sync(true); err != nil {
				t.Fatal(err)
			}
			s.Close()
			for _, recover := range []bool{false, true} {
				for _, active := range []bool{false, true} {
					s2, rec, err := Open(fs, dir, 1000, opts, recover, active, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					if rec.TruncatedBytes != 0 || rec.Rescanned != recover {
						t.Fatalf("recovery %+v", rec)
					}
					check(s2)
					s2.Close()
				}
			}
		})
	}
}

func TestSegmentRecoverTorn(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	s, _ := Create(fs, "/d", 0, opts, time.Now())
	b, infos := build(0, 10)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, cut := range []int64{0, 1, 60, 61, int64(infos[0].Size), int64(len(b)) - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			f, _ := fs.OpenReadWrite("/d/" + BaseName(0) + LogSuffix)
			f.Truncate(0)
			f.Write(b[:cut])
			f.Close()
			s2, rec, err := Open(fs, "/d", 0, opts, true, true, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			var want int64
			var next int64
			for _, bi := range infos {
				if want+int64(bi.Size) > cut {
					break
				}
				want += int64(bi.Size)
				next = bi.Last + 1
			}
			if s2.Size() != want || s2.Next() != next || rec.TruncatedBytes != cut-want {
				t.Fatalf("size %d next %d rec %+v; want %d %d", s2.Size(), s2.Next(), rec, want, next)
			}
			if err := s2.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSegmentTruncateAndRefs(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	s, _ := Create(fs, "/d", 0, opts, time.Now())
	b, infos := build(0, 20)
	s.Append(b, infos)
	if err := s.Truncate(infos[13].Base + 1); err != nil {
		t.Fatal(err)
	}
	if s.Next() != infos[13].Base {
		t.Fatalf("next %d", s.Next())
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if !s.Acquire() {
		t.Fatal("acquire")
	}
	if err := s.MarkDeleted(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/d/" + BaseName(0) + LogSuffix + DeletedSuffix); err != nil {
		t.Fatalf("renamed: %v", err)
	}
	if _, _, err := s.Find(0); err != nil {
		t.Fatalf("reader after delete: %v", err)
	}
	s.Release()
	if s.Acquire() {
		t.Fatal("acquire after last release")
	}
	if names, _ := fs.List("/d"); len(names) != 0 {
		t.Fatalf("files left: %v", names)
	}
}

func TestSegmentBrokenWrite(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("/d", 0o755)
	s, _ := Create(fs, "/d", 0, opts, time.Now())
	defer s.Close()
	b, infos := build(0, 2)
	s.mu.f.log.Close() // make the next write fail
	if err := s.Append(b, infos); err == nil {
		t.Fatal("append to closed file succeeded")
	}
	if err := s.Append(b, infos); !errors.Is(err, ErrBroken) {
		t.Fatalf("sticky: %v", err)
	}
	if s.Size() != 0 {
		t.Fatal("failed append visible")
	}
}

func TestSegmentParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		base int64
		suf  string
		ok   bool
	}{
		{BaseName(42) + LogSuffix, 42, LogSuffix, true},
		{BaseName(1<<40) + TimeIndexSuffix, 1 << 40, TimeIndexSuffix, true},
		{"0000000000000000004x.log", 0, "", false},
		{"short.log", 0, "", false},
		{BaseName(1) + "log", 0, "", false},
	} {
		b, s, ok := ParseName(tc.name)
		if ok != tc.ok || (ok && (b != tc.base || s != tc.suf)) {
			t.Errorf("%s: %d %q %v", tc.name, b, s, ok)
		}
	}
}

// TestSegmentWriteFailureRepair: a failed write that the segment cuts off again leaves it
// usable (not sticky); one whose cut fails too is sticky until Repair, which cuts the
// torn bytes, verifies the tail and clears the error.
func TestSegmentWriteFailureRepair(t *testing.T) {
	var failWrite, failTruncate atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op, _ string) error {
		if (op == errorfs.OpWrite && failWrite.Load()) || (op == errorfs.OpTruncate && failTruncate.Load()) {
			return errorfs.ErrInjected
		}
		return nil
	}))
	fs.MkdirAll("/d", 0o755)
	s, err := Create(fs, "/d", 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, infos := build(0, 2)
	if err := s.Append(b, infos); err != nil {
		t.Fatal(err)
	}
	next, size := s.End()
	b2, infos2 := build(next, 3)
	failWrite.Store(true)
	if err := s.Append(b2, infos2); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("append with a failing write: %v", err)
	}
	failWrite.Store(false)
	if s.Err() != nil || s.Size() != size {
		t.Fatalf("after a failed write cut off cleanly: err %v, size %d (want %d)", s.Err(), s.Size(), size)
	}
	if err := s.Append(b2, infos2); err != nil {
		t.Fatalf("append after a failed write: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	// A write that fails (half written) and whose cut fails too: torn bytes stay.
	next, size = s.End()
	b3, infos3 := build(next, 1)
	failWrite.Store(true)
	failTruncate.Store(true)
	if err := s.Append(b3, infos3); err == nil {
		t.Fatal("append with failing write and truncate succeeded")
	}
	failWrite.Store(false)
	if err := s.Append(b3, infos3); !errors.Is(err, ErrBroken) {
		t.Fatalf("append before repair: %v, want ErrBroken", err)
	}
	if err := s.Repair(); err == nil {
		t.Fatal("repair succeeded while truncate fails")
	}
	failTruncate.Store(false)
	if fsize, _ := s.mu.f.log.Size(); fsize <= size {
		t.Fatalf("no torn bytes left (file %d, recorded %d)", fsize, size)
	}
	if err := s.Repair(); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if fsize, _ := s.mu.f.log.Size(); fsize != size || s.Err() != nil {
		t.Fatalf("after repair: file %d, recorded %d, err %v", fsize, size, s.Err())
	}
	if err := s.Append(b3, infos3); err != nil {
		t.Fatalf("append after repair: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
