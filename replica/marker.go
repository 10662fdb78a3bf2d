package replica

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/stratalog/strata/internal/vfs"
)

// cleanShutdownFile, in the data directory, says that every partition was closed cleanly
// (written by Close); Open removes it before it opens anything, so its partitions open
// trusted (no recovery scan) while a crash from then on leaves no marker. It stands for
// all the partitions' logs, which keep no marker of their own (log.Options.SharedMarker).
//
// It belongs to the replica manager, not to the metadata store: it describes the state of
// the partition logs this broker hosts, which only the replica manager opens and closes
// (a Raft store keeps its own files, and its crash recovery is its own).
const cleanShutdownFile = ".clean-shutdown"

// takeCleanMarker reports whether the clean-shutdown marker is there, and removes it
// durably (before any partition is opened, so before anything changes).
func (m *Manager) takeCleanMarker() (bool, error) {
	path := filepath.Join(m.dir, cleanShutdownFile)
	if _, err := m.fs.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("replica: stat %s: %w", path, err)
	}
	if err := m.fs.Remove(path); err != nil {
		return false, fmt.Errorf("replica: remove %s: %w", path, err)
	}
	return true, vfs.SyncDir(m.fs, m.dir)
}

// writeCleanMarker makes everything in the data directory durable, then writes the
// marker (atomically), once every partition closed cleanly. The logs' Close left their
// last fsyncs (the active segments' indexes) to this one vfs.SyncTree, a single syncfs(2)
// on Linux however many partitions there are.
func (m *Manager) writeCleanMarker() error {
	if err := vfs.SyncTree(m.fs, m.dir); err != nil {
		m.log.Warn("unclean shutdown: partitions will be recovered at the next open", "err", err)
		return fmt.Errorf("replica: %w", err)
	}
	return vfs.WriteFileAtomic(m.fs, filepath.Join(m.dir, cleanShutdownFile), nil)
}
