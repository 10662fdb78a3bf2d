package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory FS that can simulate a crash.
//
// Durability model (what CrashClone keeps):
//   - file data written since the file's last Sync is lost; a Sync makes all of it durable;
//   - creating, renaming or removing a directory entry is durable only after the parent
//     directory was synced (OpenDir(dir) + Sync). Until then a crash restores the entry as it
//     was at the previous directory sync;
//   - directories themselves (MkdirAll) are durable at once (a simplification).
//
// Files are inodes: a renamed or removed file stays readable through its open handles.
// MemFS is safe for concurrent use; a File is safe for concurrent ReadAt.
type MemFS struct {
	mu      sync.Mutex
	dirs    map[string]bool
	cur     map[string]*memNode // current namespace: clean path -> inode
	durable map[string]*memNode // namespace as of the last sync of each directory
	locks   map[string]bool
}

type memNode struct {
	mu     sync.RWMutex
	data   []byte
	synced []byte
	mtime  time.Time
}

// NewMem returns an empty in-memory FS with a root directory "/".
func NewMem() *MemFS {
	return &MemFS{
		dirs:    map[string]bool{"/": true, ".": true},
		cur:     map[string]*memNode{},
		durable: map[string]*memNode{},
		locks:   map[string]bool{},
	}
}

var _ FS = (*MemFS)(nil)

func clean(name string) string { return path.Clean(name) }

func notExist(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
}

// CrashClone returns a new MemFS holding only what a crash now would leave: the directory
// entries as of their last directory sync, each with the data of its last file Sync.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	for d := range m.dirs {
		c.dirs[d] = true
	}
	for p, n := range m.durable {
		n.mu.RLock()
		data := append([]byte(nil), n.synced...)
		mtime := n.mtime
		n.mu.RUnlock()
		nn := &memNode{data: data, synced: append([]byte(nil), data...), mtime: mtime}
		c.cur[p] = nn
		c.durable[p] = nn
	}
	return c
}

func (m *MemFS) parentExistsLocked(p string) bool { return m.dirs[path.Dir(p)] }

func (m *MemFS) open(name string, create, trunc bool, mode fileMode) (File, error) {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[p] {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	n, ok := m.cur[p]
	if !ok {
		if !create {
			return nil, notExist("open", name)
		}
		if !m.parentExistsLocked(p) {
			return nil, notExist("open", name)
		}
		n = &memNode{mtime: time.Now()}
		m.cur[p] = n
	}
	if trunc {
		n.mu.Lock()
		n.data = n.data[:0]
		n.mu.Unlock()
	}
	return &memFile{n: n, name: p, mode: mode}, nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) { return m.open(name, true, true, modeRW) }

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false, false, modeRead) }

// OpenReadWrite implements FS.
func (m *MemFS) OpenReadWrite(name string) (File, error) {
	return m.open(name, true, false, modeAppend)
}

// OpenDir implements FS. Syncing the returned file makes the directory's entries durable.
func (m *MemFS) OpenDir(name string) (File, error) {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[p] {
		return nil, notExist("open", name)
	}
	return &memDir{fs: m, dir: p}, nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	o, nw := clean(oldname), clean(newname)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.cur[o]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrNotExist}
	}
	if !m.parentExistsLocked(nw) {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrNotExist}
	}
	delete(m.cur, o)
	m.cur[nw] = n
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[p]; ok {
		delete(m.cur, p)
		return nil
	}
	if m.dirs[p] {
		for q := range m.cur {
			if path.Dir(q) == p {
				return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
			}
		}
		for d := range m.dirs {
			if d != p && path.Dir(d) == p {
				return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
			}
		}
		delete(m.dirs, p)
		return nil
	}
	return notExist("remove", name)
}

// RemoveAll implements FS. Removing a directory tree is modelled as durable at once.
func (m *MemFS) RemoveAll(name string) error {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	under := func(q string) bool { return q == p || strings.HasPrefix(q, p+"/") }
	for q := range m.cur {
		if under(q) {
			delete(m.cur, q)
		}
	}
	for q := range m.durable {
		if under(q) {
			delete(m.durable, q)
		}
	}
	for d := range m.dirs {
		if under(d) && d != "/" && d != "." {
			delete(m.dirs, d)
		}
	}
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	p := clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if _, ok := m.cur[p]; ok {
			return &os.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
		}
		m.dirs[p] = true
		parent := path.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	p := clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[p] {
		return nil, notExist("open", dir)
	}
	var names []string
	for q := range m.cur {
		if path.Dir(q) == p {
			names = append(names, path.Base(q))
		}
	}
	for d := range m.dirs {
		if d != p && path.Dir(d) == p {
			names = append(names, path.Base(d))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[p] {
		return memInfo{name: path.Base(p), dir: true}, nil
	}
	n, ok := m.cur[p]
	if !ok {
		return nil, notExist("stat", name)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return memInfo{name: path.Base(p), size: int64(len(n.data)), mtime: n.mtime}, nil
}

// Lock implements FS; the lock lives in this MemFS only.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	p := clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[p] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	if !m.parentExistsLocked(p) {
		return nil, notExist("open", name)
	}
	if _, ok := m.cur[p]; !ok {
		m.cur[p] = &memNode{mtime: time.Now()}
	}
	m.locks[p] = true
	return &memLock{fs: m, name: p}, nil
}

type memLock struct {
	fs   *MemFS
	name string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.name)
		l.fs.mu.Unlock()
	})
	return nil
}

type memInfo struct {
	name  string
	size  int64
	dir   bool
	mtime time.Time
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type fileMode int

const (
	modeRead fileMode = iota
	modeRW
	modeAppend
)

var errClosedFile = os.ErrClosed

type memFile struct {
	n      *memNode
	name   string
	mode   fileMode
	mu     sync.Mutex // guards pos and closed
	pos    int64
	closed bool
}

func (f *memFile) check(write bool) error {
	if f.closed {
		return &os.PathError{Op: "use", Path: f.name, Err: errClosedFile}
	}
	if write && f.mode == modeRead {
		return &os.PathError{Op: "write", Path: f.name, Err: errors.New("bad file descriptor")}
	}
	return nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(true); err != nil {
		return 0, err
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	off := f.pos
	if f.mode == modeAppend {
		off = int64(len(f.n.data))
	}
	f.n.writeAtLocked(p, off)
	f.pos = off + int64(len(p))
	return len(p), nil
}

func (n *memNode) writeAtLocked(p []byte, off int64) {
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		if end > int64(cap(n.data)) {
			nd := make([]byte, end, max(end, 2*int64(cap(n.data))))
			copy(nd, n.data)
			n.data = nd
		} else {
			old := len(n.data)
			n.data = n.data[:end]
			clear(n.data[old:])
		}
	}
	copy(n.data[off:], p)
	n.mtime = time.Now()
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(true); err != nil {
		return 0, err
	}
	if f.mode == modeAppend {
		return 0, errors.New("vfs: invalid use of WriteAt on file opened with O_APPEND")
	}
	if off < 0 {
		return 0, errors.New("vfs: negative offset")
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	f.n.writeAtLocked(p, off)
	return len(p), nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: errClosedFile}
	}
	if off < 0 {
		return 0, errors.New("vfs: negative offset")
	}
	f.n.mu.RLock()
	defer f.n.mu.RUnlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: errClosedFile}
	}
	f.closed = true
	return nil
}

func (f *memFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(false); err != nil {
		return err
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	f.n.synced = append(f.n.synced[:0], f.n.data...)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(true); err != nil {
		return err
	}
	if size < 0 {
		return errors.New("vfs: negative size")
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size]
	} else {
		f.n.writeAtLocked(make([]byte, size-int64(len(f.n.data))), int64(len(f.n.data)))
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(false); err != nil {
		return 0, err
	}
	f.n.mu.RLock()
	defer f.n.mu.RUnlock()
	return int64(len(f.n.data)), nil
}

// memDir is a directory opened with OpenDir: Sync makes its entries durable.
type memDir struct {
	fs  *MemFS
	dir string
}

func (d *memDir) Write([]byte) (int, error)          { return 0, errors.New("vfs: write to directory") }
func (d *memDir) WriteAt([]byte, int64) (int, error) { return 0, errors.New("vfs: write to directory") }
func (d *memDir) ReadAt([]byte, int64) (int, error)  { return 0, errors.New("vfs: read of directory") }
func (d *memDir) Close() error                       { return nil }
func (d *memDir) Truncate(int64) error               { return errors.New("vfs: truncate of directory") }
func (d *memDir) Size() (int64, error)               { return 0, nil }

func (d *memDir) Sync() error {
	m := d.fs
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.durable {
		if path.Dir(p) == d.dir {
			delete(m.durable, p)
		}
	}
	for p, n := range m.cur {
		if path.Dir(p) == d.dir {
			m.durable[p] = n
		}
	}
	return nil
}

var _ FileSystemSyncer = (*MemFS)(nil)

// SyncFileSystem implements FileSystemSyncer: every file's data and every directory entry
// of the MemFS (one file system) becomes durable.
func (m *MemFS) SyncFileSystem(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[clean(dir)] {
		return notExist("syncfs", dir)
	}
	clear(m.durable)
	for p, n := range m.cur {
		n.mu.Lock()
		n.synced = append(n.synced[:0], n.data...)
		n.mu.Unlock()
		m.durable[p] = n
	}
	return nil
}
