package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// plainFS hides MemFS's SyncFileSystem, so that SyncTree takes its one-file-at-a-time path.
type plainFS struct{ FS }

// TestSyncTree: after SyncTree, a crash keeps every file written below the directory with
// its data, files in subdirectories, and forgets a removed one — through syncfs and
// through the portable walk alike.
func TestSyncTree(t *testing.T) {
	for name, wrap := range map[string]func(*MemFS) FS{
		"syncfs": func(m *MemFS) FS { return m },
		"walk":   func(m *MemFS) FS { return plainFS{m} },
	} {
		t.Run(name, func(t *testing.T) {
			m := NewMem()
			m.MkdirAll("/d/sub", 0o755)
			gone, _ := m.Create("/d/gone")
			gone.Sync()
			gone.Close()
			syncDir(t, m, "/d")
			if err := m.Remove("/d/gone"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"/d/a", "/d/sub/b"} {
				w, _ := m.Create(f)
				w.Write([]byte("data of " + f))
				w.Close()
			}
			if c := m.CrashClone(); readAll(t, c, "/d/gone") != "" || readAll(t, c, "/d/a") != "<open /d/a: file does not exist>" {
				t.Fatal("crash image before SyncTree: want the old entries only")
			}
			if err := SyncTree(wrap(m), "/d"); err != nil {
				t.Fatal(err)
			}
			c := m.CrashClone()
			for _, f := range []string{"/d/a", "/d/sub/b"} {
				if got := readAll(t, c, f); got != "data of "+f {
					t.Errorf("%s after SyncTree and a crash: %q", f, got)
				}
			}
			if _, err := c.Stat("/d/gone"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("removed file back after SyncTree and a crash: %v", err)
			}
			if err := SyncTree(wrap(m), "/nowhere"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("SyncTree of a missing directory: %v", err)
			}
		})
	}
}

// TestSyncTreeOS: the operating system's FS syncs a real directory with syncfs(2) (or the
// walk elsewhere), and a missing directory is an I/O error.
func TestSyncTreeOS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncTree(Default, dir); err != nil {
		t.Fatal(err)
	}
	err := SyncTree(Default, filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) || !IsIOError(err) {
		t.Fatalf("missing directory: %v (not-exist %v, I/O error %v)", err, errors.Is(err, os.ErrNotExist), IsIOError(err))
	}
}
