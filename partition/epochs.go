package partition

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/stratalog/strata/internal/vfs"
)

// LeaderEpochFile is the leader-epoch checkpoint in the partition directory: Kafka's file
// name and text format, a version line "0", the entry count, then one "<epoch>
// <startOffset>" line per entry, oldest first.
const LeaderEpochFile = "leader-epoch-checkpoint"

const (
	epochFileVersion = 0
	maxEpochFileSize = 1 << 20 // far above any real history; a larger file is not read
)

// epochEntry says that leader epoch epoch starts at offset start.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the partition's leader-epoch cache (Kafka's LeaderEpochFileCache): the
// start offset of every leader epoch in the log, both strictly increasing.
//
// The checkpoint file is written when an epoch starts (before an append writes the first
// batches of a newer epoch, and by MakeLeader), when entries were removed from the end (by
// Truncate, and before the next append after a repair or stale entries found at open),
// and by a clean Close when the entries changed otherwise (clamped to a new log start,
// rebuilt at open): see record. So it never lacks the start of an epoch whose batches
// are in the log, nor holds an entry the log contradicts below its end. What it may hold
// at open: entries at or past the log end (a crash took their batches: dropped, and the
// file marked stale) or below the log start (clamped); what it may lack: the epochs of a
// log written before the file existed, found again in the batches' PartitionLeaderEpoch
// by the scan the partition makes for its producer state anyway.
//
// mu guards the entries; it is a leaf lock. Changes are made, and the file written, by the
// partition's writers (amu held), which also serialises the writes.
type epochCache struct {
	fs     vfs.FS // nil: no file (a partition on a test store)
	path   string
	logger *slog.Logger

	mu struct {
		sync.Mutex
		entries []epochEntry
		file    []epochEntry // what the file holds (nil: missing or unreadable)
		stale   bool         // entries were removed from the end since the file was written
	}
}

func newEpochCache(fsys vfs.FS, path string, logger *slog.Logger) *epochCache {
	return &epochCache{fs: fsys, path: path, logger: logger}
}

// load reads the checkpoint file (a missing or malformed one is an empty cache, found
// again by the scan at open) and fits it to the log: entries at or past end go (a crash
// took their batches), entries below start are clamped (Kafka's truncateFromStart).
func (c *epochCache) load(start, end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fs == nil {
		return
	}
	data, err := vfs.ReadSmallFile(c.fs, c.path, maxEpochFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var entries []epochEntry
	if err == nil {
		entries, err = parseEpochFile(data)
	}
	if err != nil {
		c.logger.Warn("partition: leader-epoch checkpoint unreadable; rebuilding it from the log", "file", c.path, "err", err)
		return
	}
	c.mu.entries, c.mu.file = entries, slices.Clone(entries)
	c.truncateFromEndLocked(end) // the file is stale if this removed any
	c.truncateFromStartLocked(start)
}

// fromFile reports whether load found the checkpoint file (or there is none to find, a
// partition on a test store): a missing or unreadable one is rebuilt from every batch
// of the log, not only those after a producer-state snapshot.
func (c *epochCache) fromFile() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fs == nil || c.mu.file != nil
}

// parseEpochFile parses the checkpoint text; entries must increase in epoch and offset.
func parseEpochFile(data []byte) ([]epochEntry, error) {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) < 2 || string(lines[0]) != strconv.Itoa(epochFileVersion) {
		return nil, errors.New("bad version line")
	}
	n, err := strconv.Atoi(string(lines[1]))
	if err != nil || n < 0 || len(lines) != n+3 || len(lines[n+2]) != 0 {
		return nil, fmt.Errorf("bad entry count %q for %d lines", lines[1], len(lines))
	}
	entries := make([]epochEntry, 0, n)
	for i, l := range lines[2 : n+2] {
		f := bytes.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("entry %d: %q", i, l)
		}
		e, err1 := strconv.ParseInt(string(f[0]), 10, 32)
		s, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 != nil || err2 != nil || e < 0 || s < 0 {
			return nil, fmt.Errorf("entry %d: %q", i, l)
		}
		if k := len(entries); k > 0 && (int32(e) <= entries[k-1].epoch || s <= entries[k-1].start) {
			return nil, fmt.Errorf("entry %d: %q does not follow %d %d", i, l, entries[k-1].epoch, entries[k-1].start)
		}
		entries = append(entries, epochEntry{epoch: int32(e), start: s})
	}
	return entries, nil
}

func formatEpochFile(entries []epochEntry) []byte {
	b := fmt.Appendf(nil, "%d\n%d\n", epochFileVersion, len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "%d %d\n", e.epoch, e.start)
	}
	return b
}

// write writes the entries to the checkpoint file (vfs.WriteFileAtomic) if they differ
// from what it holds, or unconditionally when the file may be stale. The caller holds
// the partition's amu.
func (c *epochCache) write() error {
	c.mu.Lock()
	entries, same := slices.Clone(c.mu.entries), !c.mu.stale && slices.Equal(c.mu.entries, c.mu.file)
	c.mu.Unlock()
	if c.fs == nil || same {
		return nil
	}
	if err := vfs.WriteFileAtomic(c.fs, c.path, formatEpochFile(entries)); err != nil {
		return fmt.Errorf("leader-epoch checkpoint: %w", err)
	}
	c.mu.Lock()
	c.mu.file, c.mu.stale = entries, false
	c.mu.Unlock()
	return nil
}

// record assigns the entries add (see assignEntry), in order, and writes the file before
// it returns when that changed the entries or the file is stale; on a write error nothing
// changes. Appends call it before they write their batches, with the epochs those start
// (a leader's at the log end, a follower's at the base offsets of the batches that carry
// a newer epoch), MakeLeader with its new epoch, and Truncate with none: so the file
// never lacks the start of an epoch whose batches are in the log (compaction could remove
// them, and the scan at open could not find the epoch again), nor holds an entry that
// the log contradicts below its end. The caller holds the partition's amu.
func (c *epochCache) record(add ...epochEntry) error {
	c.mu.Lock()
	es, changed := c.mu.entries, false
	var removed []epochEntry
	for _, e := range add {
		if n := len(es); e.epoch < 0 || e.start < 0 || (n > 0 && es[n-1].epoch == e.epoch && es[n-1].start <= e.start) {
			continue // nothing to change: the common case, without a copy
		}
		if !changed {
			es, changed = slices.Clone(es), true
		}
		var r []epochEntry
		es, r, _ = assignEntry(es, e)
		removed = append(removed, r...)
	}
	write := changed || c.mu.stale
	c.mu.Unlock()
	if !write {
		return nil
	}
	if len(removed) > 1 || (len(removed) == 1 && removed[0].start != add[len(add)-1].start) {
		// Kafka warns likewise; one entry at the same start is a leader that never wrote.
		// (add is copied so that it stays on the caller's stack: no allocation per append.)
		c.logger.Warn("partition: new leader epoch entries truncate conflicting entries",
			"new", fmt.Sprint(slices.Clone(add)), "removed", fmt.Sprint(removed))
	}
	if c.fs != nil {
		if err := vfs.WriteFileAtomic(c.fs, c.path, formatEpochFile(es)); err != nil {
			return fmt.Errorf("leader-epoch checkpoint: %w", err)
		}
	}
	c.mu.Lock()
	c.mu.entries, c.mu.file, c.mu.stale = es, slices.Clone(es), false
	c.mu.Unlock()
	return nil
}

// latest is the latest entry (ok false when the cache is empty).
func (c *epochCache) latest() (e epochEntry, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.mu.entries); n > 0 {
		return c.mu.entries[n-1], true
	}
	return epochEntry{}, false
}

// entries returns a copy of the entries.
func (c *epochCache) entries() []epochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mu.entries)
}

// assign records in memory only that epoch starts at start (see assignEntry): an epoch
// found in the log's batches at open, which the file lacks (written by a clean Close).
func (c *epochCache) assign(epoch int32, start int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	es, removed, _ := assignEntry(c.mu.entries, epochEntry{epoch: epoch, start: start})
	if len(removed) > 0 {
		c.mu.stale = true
	}
	c.mu.entries = es
}

// truncateFromEnd removes the entries starting at or after end (the log was truncated to
// end). It reports whether any went.
func (c *epochCache) truncateFromEnd(end int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.truncateFromEndLocked(end)
}

func (c *epochCache) truncateFromEndLocked(end int64) bool {
	es := truncateEnd(c.mu.entries, end)
	if len(es) == len(c.mu.entries) {
		return false
	}
	c.mu.entries, c.mu.stale = es, true
	return true
}

// truncateFromStart fits the entries to a log starting at start (see truncateStart).
func (c *epochCache) truncateFromStart(start int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.truncateFromStartLocked(start)
}

func (c *epochCache) truncateFromStartLocked(start int64) {
	c.mu.entries = truncateStart(c.mu.entries, start)
}

// endOffsetFor answers OffsetForLeaderEpoch for epoch (see endOffsetFor) once the
// entries are clamped to the log start. leaderEpoch >= 0 is the epoch this partition
// leads: when the cache has not recorded it yet (a partition that has been leader since
// it opened and has appended nothing in that epoch), the answer is the one Kafka gives
// after makeLeader assigned (leaderEpoch, logEnd).
func (c *epochCache) endOffsetFor(epoch, leaderEpoch int32, logStart, logEnd int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.truncateFromStartLocked(logStart)
	es := c.mu.entries
	if n := len(es); leaderEpoch >= 0 && (n == 0 || es[n-1].epoch < leaderEpoch) {
		es, _, _ = assignEntry(slices.Clone(es), epochEntry{epoch: leaderEpoch, start: logEnd})
	}
	return endOffsetFor(es, epoch, logEnd)
}

// The pure rules of Kafka's LeaderEpochFileCache, on entries increasing in epoch and
// start offset.

// assignEntry adds e (Kafka's assign): nothing changes when e.epoch is the latest epoch
// and e.start is not below its start; otherwise the entries that are not below e in both
// epoch and start offset go (returned as removed), and e is appended. Negative epochs or
// offsets change nothing.
func assignEntry(es []epochEntry, e epochEntry) (out, removed []epochEntry, changed bool) {
	if e.epoch < 0 || e.start < 0 {
		return es, nil, false
	}
	n := len(es)
	if n > 0 && es[n-1].epoch == e.epoch && es[n-1].start <= e.start {
		return es, nil, false
	}
	keep := n
	for keep > 0 && (es[keep-1].epoch >= e.epoch || es[keep-1].start >= e.start) {
		keep--
	}
	removed = slices.Clone(es[keep:])
	return append(es[:keep], e), removed, true
}

// truncateEnd removes the entries starting at or after end (Kafka's truncateFromEnd); a
// negative end changes nothing.
func truncateEnd(es []epochEntry, end int64) []epochEntry {
	if end < 0 {
		return es
	}
	keep := len(es)
	for keep > 0 && es[keep-1].start >= end {
		keep--
	}
	return es[:keep]
}

// truncateStart drops the entries starting at or below start and puts back the last of
// them with start as its start offset (Kafka's truncateFromStart: the entry covering the
// new log start keeps its epoch); a negative start changes nothing.
func truncateStart(es []epochEntry, start int64) []epochEntry {
	i := 0
	for i < len(es) && es[i].start <= start {
		i++
	}
	if i == 0 || start < 0 || (i == 1 && es[0].start == start) {
		return es
	}
	first := epochEntry{epoch: es[i-1].epoch, start: start}
	return append([]epochEntry{first}, es[i:]...)
}

// endOffsetFor is Kafka's LeaderEpochFileCache.endOffsetFor: the epoch and end offset of
// the requested epoch, given the log end offset:
//   - epoch -1 (undefined), an empty cache, or an epoch above every entry's: (-1, -1);
//   - the latest epoch: (it, logEnd);
//   - otherwise the largest epoch at or below the requested one and the start offset of
//     the first epoch above it; below the first entry's epoch, the requested epoch itself
//     and the first entry's start offset (the data before it is gone: a follower
//     replicates from there).
func endOffsetFor(es []epochEntry, epoch int32, logEnd int64) (int32, int64) {
	n := len(es)
	switch {
	case epoch < 0 || n == 0:
		return -1, -1
	case es[n-1].epoch == epoch:
		return epoch, logEnd
	}
	higher := 0 // the first entry of an epoch above the requested one
	for higher < n && es[higher].epoch <= epoch {
		higher++
	}
	switch {
	case higher == n:
		return -1, -1
	case higher == 0:
		return epoch, es[0].start
	default:
		return es[higher-1].epoch, es[higher].start
	}
}
