package errorfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/stratalog/strata/internal/vfs"
)

// ErrInjected is the error returned by injected failures.
var ErrInjected = errors.New("errorfs: injected error")

// Op is a kind of operation.
type Op int

// Operation kinds.
const (
	OpCreate Op = iota
	OpOpen
	OpOpenDir
	OpRename
	OpRemove
	OpRemoveAll
	OpMkdirAll
	OpList
	OpStat
	OpLock
	OpWrite
	OpWriteAt
	OpRead
	OpSync
	OpTruncate
	OpSize
	OpClose
	numOps
)

var opNames = [...]string{"create", "open", "opendir", "rename", "remove", "removeall",
	"mkdirall", "list", "stat", "lock", "write", "writeat", "read", "sync", "truncate", "size", "close"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// IsMutation reports whether the operation changes the file system.
func (o Op) IsMutation() bool {
	switch o {
	case OpCreate, OpRename, OpRemove, OpRemoveAll, OpMkdirAll, OpWrite, OpWriteAt, OpSync, OpTruncate:
		return true
	}
	return false
}

// Injector decides whether an operation fails. It must be safe for concurrent use.
type Injector interface {
	// MaybeError returns a non-nil error to fail the operation.
	MaybeError(op Op, name string) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op, name string) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op, name string) error { return f(op, name) }

// injected is the error an injector returns for op on name.
func injected(op Op, name string, cause error, detail string) error {
	err := fmt.Errorf("%w%s", ErrInjected, detail)
	if cause != nil {
		err = fmt.Errorf("%w%s: %w", ErrInjected, detail, cause)
	}
	return &fs.PathError{Op: op.String(), Path: name, Err: err}
}

// Counter fails the operation with index N (0-based) among the counted ones, and only it.
// By default it counts mutations only (see Op.IsMutation); set All to count every op.
type Counter struct {
	N   int64
	All bool
	// Err, if set, is the cause the injected error wraps (e.g. syscall.ENOSPC).
	Err   error
	count atomic.Int64
	hit   atomic.Bool
}

// OnIndex returns a Counter failing the n-th mutating operation.
func OnIndex(n int64) *Counter { return &Counter{N: n} }

// MaybeError implements Injector.
func (c *Counter) MaybeError(op Op, name string) error {
	if !c.All && !op.IsMutation() {
		return nil
	}
	if c.count.Add(1)-1 == c.N {
		c.hit.Store(true)
		return injected(op, name, c.Err, fmt.Sprintf(" (op #%d)", c.N))
	}
	return nil
}

// Count is the number of operations counted so far.
func (c *Counter) Count() int64 { return c.count.Load() }

// Hit reports whether the error was injected.
func (c *Counter) Hit() bool { return c.hit.Load() }

// Kinds fails every operation of the given kinds while Enabled.
type Kinds struct {
	kinds   map[Op]bool
	Enabled atomic.Bool
	// Err, if set, is the cause the injected errors wrap (e.g. syscall.ENOSPC). Set it
	// before the injector is used.
	Err error
}

// OnKinds returns an enabled Kinds injector.
func OnKinds(ops ...Op) *Kinds {
	k := &Kinds{kinds: map[Op]bool{}}
	for _, o := range ops {
		k.kinds[o] = true
	}
	k.Enabled.Store(true)
	return k
}

// MaybeError implements Injector.
func (k *Kinds) MaybeError(op Op, name string) error {
	if k.Enabled.Load() && k.kinds[op] {
		return injected(op, name, k.Err, "")
	}
	return nil
}

// FS is a vfs.FS with injected errors.
type FS struct {
	fs  vfs.FS
	inj Injector
}

// Wrap returns fs with errors injected by inj.
func Wrap(fs vfs.FS, inj Injector) *FS { return &FS{fs: fs, inj: inj} }

var _ vfs.FS = (*FS)(nil)

func (e *FS) wrapFile(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &file{f: f, name: name, inj: e.inj}, nil
}

// Create implements vfs.FS.
func (e *FS) Create(name string) (vfs.File, error) {
	if err := e.inj.MaybeError(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.fs.Create(name)
	return e.wrapFile(name, f, err)
}

// Open implements vfs.FS.
func (e *FS) Open(name string) (vfs.File, error) {
	if err := e.inj.MaybeError(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.fs.Open(name)
	return e.wrapFile(name, f, err)
}

// OpenReadWrite implements vfs.FS; it counts as a create.
func (e *FS) OpenReadWrite(name string) (vfs.File, error) {
	if err := e.inj.MaybeError(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.fs.OpenReadWrite(name)
	return e.wrapFile(name, f, err)
}

// OpenDir implements vfs.FS.
func (e *FS) OpenDir(name string) (vfs.File, error) {
	if err := e.inj.MaybeError(OpOpenDir, name); err != nil {
		return nil, err
	}
	f, err := e.fs.OpenDir(name)
	return e.wrapFile(name, f, err)
}

// Rename implements vfs.FS.
func (e *FS) Rename(oldname, newname string) error {
	if err := e.inj.MaybeError(OpRename, oldname); err != nil {
		return err
	}
	return e.fs.Rename(oldname, newname)
}

// Remove implements vfs.FS.
func (e *FS) Remove(name string) error {
	if err := e.inj.MaybeError(OpRemove, name); err != nil {
		return err
	}
	return e.fs.Remove(name)
}

// RemoveAll implements vfs.FS.
func (e *FS) RemoveAll(name string) error {
	if err := e.inj.MaybeError(OpRemoveAll, name); err != nil {
		return err
	}
	return e.fs.RemoveAll(name)
}

// MkdirAll implements vfs.FS.
func (e *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.inj.MaybeError(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.fs.MkdirAll(dir, perm)
}

// List implements vfs.FS.
func (e *FS) List(dir string) ([]string, error) {
	if err := e.inj.MaybeError(OpList, dir); err != nil {
		return nil, err
	}
	return e.fs.List(dir)
}

// Stat implements vfs.FS.
func (e *FS) Stat(name string) (os.FileInfo, error) {
	if err := e.inj.MaybeError(OpStat, name); err != nil {
		return nil, err
	}
	return e.fs.Stat(name)
}

// Lock implements vfs.FS.
func (e *FS) Lock(name string) (io.Closer, error) {
	if err := e.inj.MaybeError(OpLock, name); err != nil {
		return nil, err
	}
	return e.fs.Lock(name)
}

var _ vfs.FileSystemSyncer = (*FS)(nil)

// SyncFileSystem implements vfs.FileSystemSyncer: one OpSync named dir, then vfs.SyncTree
// of the wrapped FS (one call where it has SyncFileSystem, one sync per file otherwise).
func (e *FS) SyncFileSystem(dir string) error {
	if err := e.inj.MaybeError(OpSync, dir); err != nil {
		return err
	}
	return vfs.SyncTree(e.fs, dir)
}

// file deliberately does not implement vfs.OSFile, so callers use their portable paths.
type file struct {
	f    vfs.File
	name string
	inj  Injector
}

func (f *file) Write(p []byte) (int, error) {
	if err := f.inj.MaybeError(OpWrite, f.name); err != nil {
		n, _ := f.f.Write(p[:len(p)/2])
		return n, err
	}
	return f.f.Write(p)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(OpWriteAt, f.name); err != nil {
		n, _ := f.f.WriteAt(p[:len(p)/2], off)
		return n, err
	}
	return f.f.WriteAt(p, off)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *file) Sync() error {
	if err := f.inj.MaybeError(OpSync, f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *file) Truncate(size int64) error {
	if err := f.inj.MaybeError(OpTruncate, f.name); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *file) Size() (int64, error) {
	if err := f.inj.MaybeError(OpSize, f.name); err != nil {
		return 0, err
	}
	return f.f.Size()
}

func (f *file) Close() error {
	err := f.f.Close()
	if ierr := f.inj.MaybeError(OpClose, f.name); ierr != nil {
		return ierr
	}
	return err
}
