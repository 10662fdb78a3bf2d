package vfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

var _ FileSystemSyncer = osFS{}

// SyncFileSystem implements FileSystemSyncer with syncfs(2), which since Linux 5.8 also
// reports the write-back errors of the file system since the descriptor was opened.
func (osFS) SyncFileSystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return errors.Join(os.NewSyscallError("syncfs", err), d.Close())
	}
	return d.Close()
}
