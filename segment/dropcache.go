package segment

import (
	"os"

	"github.com/stratalog/strata/internal/vfs"
)

// pageSize is the unit DropCache drops: the page cache drops whole pages only, so the
// page a Sync ended in is dropped by the next call, once it is whole.
var pageSize = int64(os.Getpagesize())

// DropCache asks the OS to drop from its page cache the pages of the log that the last
// Sync made durable and no earlier DropCache dropped (POSIX_FADV_DONTNEED; a no-op
// elsewhere than on Linux, and for files that are not the OS's). It is for a follower's
// copy, which nothing reads until the replica leads: its pages are freed for the next
// writes at once instead of the OS finding fresh pages for them (docs/cluster.md). It
// reports whether there were pages to drop. The advice's errors are ignored: the pages
// stay cached. Safe to call concurrently with the writer.
func (s *Segment) DropCache() bool {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	hi := s.synced.Load() &^ (pageSize - 1)
	if hi <= s.dropped {
		s.dropped = hi // after a truncation: from there again
		return false
	}
	f := s.openFiles()
	if f == nil {
		return false
	}
	defer f.release()
	if osf, ok := f.log.(vfs.OSFile); ok {
		dropPages(osf, s.dropped, hi-s.dropped)
	}
	s.dropped = hi
	return true
}
