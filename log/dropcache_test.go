package log

import (
	"path/filepath"
	"testing"

	"github.com/stratalog/strata/internal/testutil/pagecache"
	"github.com/stratalog/strata/segment"
)

// TestLogDropCache: after a flush, DropCache drops the durable pages of the active
// segment and of the one before it (rolled since the last call), and leaves older ones.
func TestLogDropCache(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, &Options{Logger: quiet, SegmentBytes: 64 << 10})
	for i := range 60 { // 5 segments
		mustAppend(t, l, mkBatch(5, 1000, int64(i), byte(i)))
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := l.Segments()
	if len(segs) < 4 {
		t.Fatalf("%d segments, want at least 4", len(segs))
	}
	l.DropCache()
	for i, s := range segs {
		res, pages := pagecache.Resident(t, filepath.Join(dir, segment.BaseName(s.BaseOffset)+segment.LogSuffix))
		if last := i >= len(segs)-2; last && res > 1 || !last && res != pages {
			t.Errorf("segment %d of %d: %d of %d pages cached after DropCache", i+1, len(segs), res, pages)
		}
	}
}
