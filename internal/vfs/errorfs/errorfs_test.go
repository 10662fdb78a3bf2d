package errorfs

import (
	"errors"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
)

func TestErrorFS(t *testing.T) {
	m := vfs.NewMem()
	m.MkdirAll("/d", 0o755)
	c := OnIndex(1)
	fs := Wrap(m, c)
	f, err := fs.Create("/d/a") // op 0
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte("abcd")); !errors.Is(err, ErrInjected) || n != 2 { // op 1: torn
		t.Fatalf("write: %d %v", n, err)
	}
	if _, err := f.Write([]byte("ef")); err != nil || !c.Hit() || c.Count() != 3 {
		t.Fatalf("after: %v hit=%v count=%d", err, c.Hit(), c.Count())
	}
	k := OnKinds(OpSync, OpRename)
	fs = Wrap(m, k)
	g, _ := fs.OpenReadWrite("/d/a")
	if err := g.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("sync: %v", err)
	}
	if err := fs.Rename("/d/a", "/d/b"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename: %v", err)
	}
	k.Enabled.Store(false)
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
}
