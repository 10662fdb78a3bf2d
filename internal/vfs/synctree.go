package vfs

import (
	"errors"
	"fmt"
	"path/filepath"
)

// FileSystemSyncer is implemented by file systems that make everything written to them
// durable in one call, as Linux's syncfs(2) does. SyncTree uses it when there is one.
type FileSystemSyncer interface {
	// SyncFileSystem makes durable the data and size of every file and every directory
	// entry of the file system that holds dir (at least of everything below dir).
	SyncFileSystem(dir string) error
}

// SyncTree makes everything below dir durable: file data, sizes and directory entries,
// as if every file and directory below it had been fsynced. Where fs is a
// FileSystemSyncer that is one call whatever the number of files (syncfs(2) on Linux);
// otherwise every file and directory is synced one after the other.
func SyncTree(fs FS, dir string) error {
	if s, ok := fs.(FileSystemSyncer); ok {
		if err := s.SyncFileSystem(dir); err != nil {
			return fmt.Errorf("vfs: sync file system of %s: %w", dir, err)
		}
		return nil
	}
	return syncEach(fs, dir)
}

// syncEach fsyncs every file below dir, then each directory after its entries.
func syncEach(fs FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("vfs: list %s: %w", dir, err)
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := fs.Stat(p)
		if err != nil {
			return fmt.Errorf("vfs: stat %s: %w", p, err)
		}
		if fi.IsDir() {
			err = syncEach(fs, p)
		} else {
			err = syncFile(fs, p)
		}
		if err != nil {
			return err
		}
	}
	return SyncDir(fs, dir)
}

func syncFile(fs FS, name string) error {
	f, err := fs.Open(name)
	if err != nil {
		return fmt.Errorf("vfs: open %s: %w", name, err)
	}
	if err = errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("vfs: sync %s: %w", name, err)
	}
	return nil
}
