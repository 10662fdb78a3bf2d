package vfs

import (
	"errors"
	"io"
	"os"
	"testing"
)

func readAll(t *testing.T, fs FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(b)
}

func syncDir(t *testing.T, fs FS, dir string) {
	t.Helper()
	d, err := fs.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
}

func TestMemCrashClone(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o755)
	f, _ := m.Create("/d/a")
	f.Write([]byte("hello"))
	if c := m.CrashClone(); readAll(t, c, "/d/a") != "<open /d/a: file does not exist>" {
		t.Fatalf("unsynced create survived: %q", readAll(t, c, "/d/a"))
	}
	f.Sync()
	if _, err := m.CrashClone().Stat("/d/a"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file survived without a directory sync")
	}
	syncDir(t, m, "/d")
	f.Write([]byte(" world"))
	if got := readAll(t, m.CrashClone(), "/d/a"); got != "hello" {
		t.Fatalf("crash image %q, want synced prefix", got)
	}
	if got := readAll(t, m, "/d/a"); got != "hello world" {
		t.Fatalf("live %q", got)
	}
	// Rename is durable only after a directory sync.
	m.Rename("/d/a", "/d/b")
	c := m.CrashClone()
	if readAll(t, c, "/d/a") != "hello" {
		t.Fatal("rename durable without dir sync")
	}
	syncDir(t, m, "/d")
	c = m.CrashClone()
	if _, err := c.Stat("/d/a"); err == nil || readAll(t, c, "/d/b") != "hello" {
		t.Fatal("rename lost after dir sync")
	}
	// Remove, O_APPEND semantics, WriteAt refusal, truncate.
	g, _ := m.OpenReadWrite("/d/b")
	g.Write([]byte("!"))
	if _, err := g.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("WriteAt on append file")
	}
	g.Truncate(2)
	g.Write([]byte("y"))
	if got := readAll(t, m, "/d/b"); got != "hey" {
		t.Fatalf("append after truncate: %q", got)
	}
	g.Close()
	if _, err := g.Write([]byte("z")); err == nil {
		t.Fatal("write after close")
	}
	m.Remove("/d/b")
	if names, _ := m.List("/d"); len(names) != 0 {
		t.Fatalf("list %v", names)
	}
	if names, _ := m.CrashClone().List("/d"); len(names) != 1 {
		t.Fatalf("remove durable without dir sync: %v", names)
	}
	l, err := m.Lock("/d/lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lock("/d/lock"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	l.Close()
}
