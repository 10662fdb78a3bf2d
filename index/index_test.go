package index

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
)

type fsCase struct {
	name string
	fs   func(t *testing.T) (vfs.FS, string)
}

// Every test runs on the OS file system (memory-mapped) and on MemFS (heap buffer).
var fsCases = []fsCase{
	{"mmap", func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }},
	{"heap", func(t *testing.T) (vfs.FS, string) { m := vfs.NewMem(); m.MkdirAll("/d", 0o755); return m, "/d" }},
}

func TestIndexOffset(t *testing.T) {
	for _, fc := range fsCases {
		t.Run(fc.name, func(t *testing.T) {
			fs, dir := fc.fs(t)
			name := filepath.Join(dir, "x.index")
			x, err := OpenOffset(fs, name, 100, 10*OffsetEntrySize, Fresh)
			if err != nil {
				t.Fatal(err)
			}
			if off, pos := x.Lookup(150); off != 100 || pos != 0 {
				t.Fatalf("empty lookup %d %d", off, pos)
			}
			for i := int64(0); i < 10; i++ {
				if err := x.Append(100+i*10, i*1000); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.Append(300, 20000); !errors.Is(err, ErrFull) {
				t.Fatalf("full: %v", err)
			}
			for _, tc := range []struct{ target, off, pos int64 }{
				{99, 100, 0}, {100, 100, 0}, {109, 100, 0}, {110, 110, 1000}, {155, 150, 5000}, {1 << 40, 190, 9000},
			} {
				if off, pos := x.Lookup(tc.target); off != tc.off || pos != tc.pos {
					t.Errorf("lookup %d: %d,%d want %d,%d", tc.target, off, pos, tc.off, tc.pos)
				}
			}
			x.TruncateTo(150)
			if x.Len() != 5 {
				t.Fatalf("len after truncate %d", x.Len())
			}
			for _, bad := range [][2]int64{{140, 9000}, {160, 3000}, {99, 1}, {100 + 1<<33, 1}} {
				if err := x.Append(bad[0], bad[1]); !errors.Is(err, ErrNotMonotonic) {
					t.Errorf("append %v: %v", bad, err)
				}
			}
			if err := x.Seal(); err != nil {
				t.Fatal(err)
			}
			if err := x.Append(1000, 100000); !errors.Is(err, ErrSealed) {
				t.Fatalf("append to sealed: %v", err)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			if fi, err := fs.Stat(name); err != nil || fi.Size() != 5*OffsetEntrySize {
				t.Fatalf("trimmed size: %v %v", fi, err)
			}
			// Reopen trusted, active: appends continue.
			y, err := OpenOffset(fs, name, 100, 10*OffsetEntrySize, Active)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if err := y.Check(5000); err != nil {
				t.Fatal(err)
			}
			if err := y.Check(4000); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("check beyond log: %v", err)
			}
			if y.Len() != 5 || y.Free() != 5 {
				t.Fatalf("len %d free %d", y.Len(), y.Free())
			}
			if err := y.Append(150, 5000); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIndexOffsetCorrupt(t *testing.T) {
	for _, fc := range fsCases {
		t.Run(fc.name, func(t *testing.T) {
			fs, dir := fc.fs(t)
			name := filepath.Join(dir, "x.index")
			f, _ := fs.Create(name)
			f.Write(make([]byte, 3*OffsetEntrySize)) // zeroed
			f.Close()
			x, err := OpenOffset(fs, name, 0, 100, Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Check(1 << 20); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("zeroed index passes: %v", err)
			}
			x.Close()
			f, _ = fs.Create(name)
			f.Write(make([]byte, 5)) // not a multiple
			f.Close()
			if _, err := OpenOffset(fs, name, 0, 100, Active); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("odd size: %v", err)
			}
		})
	}
}

func TestIndexTime(t *testing.T) {
	for _, fc := range fsCases {
		t.Run(fc.name, func(t *testing.T) {
			fs, dir := fc.fs(t)
			x, err := OpenTime(fs, filepath.Join(dir, "x.timeindex"), 1000, 8*TimeEntrySize, Fresh)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			entries := [][2]int64{{10, 1000}, {20, 1005}, {35, 1005}, {50, 1020}}
			for _, e := range entries {
				if err := x.Append(e[0], e[1]); err != nil {
					t.Fatal(err)
				}
			}
			for _, bad := range [][2]int64{{50, 1030}, {40, 1030}, {60, 1010}} {
				if err := x.Append(bad[0], bad[1]); !errors.Is(err, ErrNotMonotonic) {
					t.Errorf("append %v: %v", bad, err)
				}
			}
			for _, tc := range []struct {
				ts, want, off int64
				ok            bool
			}{
				{0, 10, 1000, true}, {10, 10, 1000, true}, {11, 20, 1005, true}, {36, 50, 1020, true}, {51, 0, 0, false},
			} {
				ts, off, ok := x.Lookup(tc.ts)
				if ok != tc.ok || (ok && (ts != tc.want || off != tc.off)) {
					t.Errorf("lookup %d: %d %d %v", tc.ts, ts, off, ok)
				}
			}
			if err := x.Check(1021); err != nil {
				t.Fatal(err)
			}
			if err := x.Check(1020); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("check: %v", err)
			}
			x.TruncateTo(1005)
			if ts, off, _ := x.Last(); x.Len() != 1 || ts != 10 || off != 1000 {
				t.Fatalf("after truncate: %d entries, last %d %d", x.Len(), ts, off)
			}
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	dir := b.TempDir()
	const n = 1 << 18 // a full 2 MiB offset index (1 GiB segment at 4 KiB interval)
	x, err := OpenOffset(vfs.Default, filepath.Join(dir, "x.index"), 0, n*OffsetEntrySize, Fresh)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for i := int64(0); i < n; i++ {
		x.Append(i*40, i*4096)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Lookup(int64(i*7919) % (n * 40))
	}
}
