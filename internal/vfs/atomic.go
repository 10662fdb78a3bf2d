package vfs

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// TmpSuffix is the suffix of the temporary file WriteFileAtomic writes first; a crash can
// leave one behind, which readers ignore and openers may delete.
const TmpSuffix = ".tmp"

// WriteFileAtomic replaces name with data durably: it writes name+TmpSuffix, fsyncs it,
// renames it over name and fsyncs the directory. After a crash, name holds either the old
// or the new content, never a mix.
func WriteFileAtomic(fs FS, name string, data []byte) error {
	tmp := name + TmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("vfs: write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("vfs: write %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return fmt.Errorf("vfs: rename %s: %w", tmp, err)
	}
	return SyncDir(fs, filepath.Dir(name))
}

// SyncDir fsyncs a directory, making the entries created, renamed or removed in it
// durable.
func SyncDir(fs FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("vfs: open dir %s: %w", dir, err)
	}
	if err = errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("vfs: sync dir %s: %w", dir, err)
	}
	return nil
}

// ReadSmallFile reads a whole file that is expected to be small (metadata, checkpoints):
// one larger than max bytes is an error rather than an allocation.
func ReadSmallFile(fs FS, name string, max int64) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > max {
		return nil, fmt.Errorf("vfs: %s: unexpectedly large (%d bytes, at most %d expected)", name, size, max)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf, nil
}
