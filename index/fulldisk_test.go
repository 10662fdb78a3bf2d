package index

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/internal/testutil/tmpfs"
	"github.com/stratalog/strata/internal/vfs"
)

// TestIndexFullDisk appends entries to memory-mapped indexes on a tmpfs with no free
// page: the first write to an unallocated page of the sparse, preallocated file faults
// (SIGBUS), which must come back as ErrFault (adding nothing) instead of killing the
// process; once space is freed the same append succeeds.
func TestIndexFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 1<<20)
	oi, err := OpenOffset(vfs.Default, filepath.Join(dir, "0.index"), 0, 256<<10, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer oi.Close()
	ti, err := OpenTime(vfs.Default, filepath.Join(dir, "0.timeindex"), 0, 256<<10, Fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	free := tmpfs.Fill(t, dir)
	if err := oi.Append(10, 100); !errors.Is(err, ErrFault) {
		t.Fatalf("offset index append on a full tmpfs: %v, want ErrFault", err)
	}
	if err := ti.Append(1000, 10); !errors.Is(err, ErrFault) {
		t.Fatalf("time index append on a full tmpfs: %v, want ErrFault", err)
	}
	if oi.Len() != 0 || ti.Len() != 0 {
		t.Fatalf("failed appends added entries: %d, %d", oi.Len(), ti.Len())
	}
	free()
	if err := oi.Append(10, 100); err != nil {
		t.Fatalf("offset index append after freeing space: %v", err)
	}
	if err := ti.Append(1000, 10); err != nil {
		t.Fatalf("time index append after freeing space: %v", err)
	}
	if o, p := oi.Entry(0); o != 10 || p != 100 {
		t.Fatalf("entry (%d,%d)", o, p)
	}
	if ts, o, _ := ti.Last(); ts != 1000 || o != 10 {
		t.Fatalf("time entry (%d,%d)", ts, o)
	}
}
