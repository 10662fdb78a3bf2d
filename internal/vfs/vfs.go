package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// File is an open file. Its methods behave like those of *os.File.
type File interface {
	io.Writer
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes everything written so far durable.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Size reports the current size of the file.
	Size() (int64, error)
}

// OSFile is implemented by files backed by a real operating-system file. Code that needs a
// file descriptor (memory mapping, sendfile) type-asserts for it and falls back to portable
// code when the assertion fails.
type OSFile interface {
	OSFile() *os.File
}

// FS is a file system.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file for reading only.
	Open(name string) (File, error)
	// OpenReadWrite opens an existing file, or creates it, for reading and writing, without
	// truncating it. Writes through File.Write append at the end of the file.
	OpenReadWrite(name string) (File, error)
	// OpenDir opens a directory so that it can be synced.
	OpenDir(name string) (File, error)
	// Rename atomically renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a directory and everything below it.
	RemoveAll(name string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries of a directory, sorted.
	List(dir string) ([]string, error)
	// Stat describes the named file.
	Stat(name string) (os.FileInfo, error)
	// Lock takes an exclusive advisory lock on the named file, creating it if needed. It
	// fails at once with ErrLocked when another process (or another Lock call) holds it.
	Lock(name string) (io.Closer, error)
}

// ErrLocked is returned by FS.Lock when the lock is held elsewhere.
var ErrLocked = errors.New("vfs: file is locked by another process")

// IsIOError reports whether err, anywhere in its chain, is the failure of a file-system
// operation as package os reports one (*fs.PathError, *os.LinkError, *os.SyscallError, or
// a bare syscall.Errno): a disk that is full, failing or refusing. Every FS
// implementation reports its failures so; the server answers them KAFKA_STORAGE_ERROR
// where no domain error says more.
func IsIOError(err error) bool {
	var (
		pe *fs.PathError
		le *os.LinkError
		se *os.SyscallError
		en syscall.Errno
	)
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se) || errors.As(err, &en)
}
