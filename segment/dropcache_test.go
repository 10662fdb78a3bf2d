package segment

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testutil/pagecache"
	"github.com/stratalog/strata/internal/vfs"
)

// TestSegmentDropCache: DropCache drops the pages the last Sync made durable, and only
// those: what was written since stays cached, a second call has nothing to drop, and
// after a truncation it drops from the new end.
func TestSegmentDropCache(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(vfs.Default, dir, 0, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	path := filepath.Join(dir, BaseName(0)+LogSuffix)
	b, infos := build(0, 120)
	half := len(infos) / 2
	n := 0
	for _, bi := range infos[:half] {
		n += bi.Size
	}
	if err := s.Append(b[:n], infos[:half]); err != nil {
		t.Fatal(err)
	}
	if s.DropCache() {
		t.Fatal("DropCache dropped pages before any Sync")
	}
	if res, pages := pagecache.Resident(t, path); res != pages || pages < 4 {
		t.Fatalf("after the writes %d of %d pages cached, want all of several", res, pages)
	}
	if err := s.Sync(false); err != nil {
		t.Fatal(err)
	}
	if !s.DropCache() {
		t.Fatal("DropCache after a Sync dropped nothing")
	}
	if res, _ := pagecache.Resident(t, path); res > 1 { // the last page is not whole
		t.Fatalf("after Sync and DropCache %d pages cached, want at most the last", res)
	}
	if s.DropCache() {
		t.Fatal("a second DropCache found pages to drop")
	}

	// Written, not synced: cached, and not dropped.
	if err := s.Append(b[n:], infos[half:]); err != nil {
		t.Fatal(err)
	}
	before, pages := pagecache.Resident(t, path)
	if s.DropCache() {
		t.Fatal("DropCache dropped pages written after the last Sync")
	}
	if res, _ := pagecache.Resident(t, path); res != before || res < pages/3 {
		t.Fatalf("unsynced pages: %d of %d cached before DropCache, %d after", before, pages, res)
	}

	// Truncated below what was dropped: the next Sync's pages are dropped from there.
	if err := s.Truncate(infos[half/2].Base); err != nil {
		t.Fatal(err)
	}
	if s.DropCache() {
		t.Fatal("DropCache after a truncation, before a Sync, dropped pages")
	}
	if err := s.Append(b[s.Size():], infos[half/2:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(false); err != nil {
		t.Fatal(err)
	}
	if !s.DropCache() {
		t.Fatal("DropCache after the truncation and a Sync dropped nothing")
	}
	if res, pages := pagecache.Resident(t, path); res > 1 {
		t.Fatalf("after the truncation, Sync and DropCache %d of %d pages cached, want at most the last", res, pages)
	}
}
