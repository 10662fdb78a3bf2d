package log

import "github.com/stratalog/strata/segment"

// DropCache drops from the OS page cache the pages of the newest segments that their
// syncs made durable (segment.DropCache): the active segment and the one before it,
// whose end a roll since the last call may have synced. A follower's fetcher calls it
// after its appends are flushed: nothing reads a follower's copy until it leads, and the
// next writes reuse the freed pages instead of the OS finding fresh ones, which on the
// development machine costs more than the copy itself (docs/benchmarks.md).
func (l *Log) DropCache() {
	l.rmu.RLock()
	var segs [2]*segment.Segment
	for i, s := range l.segs[max(len(l.segs)-2, 0):] {
		if s.Acquire() {
			segs[i] = s
		}
	}
	l.rmu.RUnlock()
	for _, s := range segs {
		if s != nil {
			s.DropCache()
			s.Release()
		}
	}
}
