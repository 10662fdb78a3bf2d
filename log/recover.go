package log

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

func (l *Log) recover() error {
	o := &l.mu.opts
	if err := l.finishSwaps(); err != nil { // compaction swaps (compact.go)
		return err
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	ownMarker := false
	var bases []int64
	for _, n := range names {
		switch {
		case n == CleanMarker:
			ownMarker = true
		case strings.HasSuffix(n, segment.DeletedSuffix), strings.HasSuffix(n, vfs.TmpSuffix):
			if err := l.fs.Remove(l.path(n)); err != nil {
				return fmt.Errorf("log: remove leftover %s: %w", n, err)
			}
		default:
			if b, suf, ok := segment.ParseName(n); ok && suf == segment.LogSuffix {
				bases = append(bases, b)
			}
		}
	}
	// Index files without a log are leftovers of a crash during roll or delete.
	for _, n := range names {
		if b, suf, ok := segment.ParseName(n); ok && (suf == segment.IndexSuffix || suf == segment.TimeIndexSuffix || suf == segment.TxnIndexSuffix) && !slices.Contains(bases, b) {
			if err := l.fs.Remove(l.path(n)); err != nil {
				return fmt.Errorf("log: remove orphan %s: %w", n, err)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	logStart, _ := l.readCheckpoint(LogStartOffsetFile)
	rp, hasRP := l.readCheckpoint(RecoveryPointFile)
	if !hasRP {
		rp = 0
	}
	l.ckRP = rp
	clean := ownMarker || (o.SharedMarker && o.CleanShutdown)
	// A new log (no segment, no recovery point) has nothing to recover and nothing to make
	// durable: it is empty, and a file of it lost in a crash is created again at the next
	// Open. The directory is synced by the first flush, before any append is durable.
	fresh := len(bases) == 0 && !hasRP && !ownMarker
	now := l.now()
	rescanned := false
	trusted := int64(math.MaxInt64)
	for i, b := range bases {
		last := i == len(bases)-1
		rec := !clean && (last || bases[i+1] > rp)
		var (
			s   *segment.Segment
			r   segment.Recovery
			err error
		)
		if !rec && !last {
			// Trusted and sealed: its files are opened on first use.
			s, err = segment.OpenCold(l.fs, l.dir, b, l.segOpts(o), bases[i+1], now)
		} else {
			s, r, err = segment.Open(l.fs, l.dir, b, l.segOpts(o), rec, last, now)
		}
		if err != nil {
			return fmt.Errorf("log: open segment %d: %w", b, err)
		}
		rescanned = rescanned || r.Rescanned
		if rec || r.Rescanned {
			trusted = min(trusted, b)
		}
		if !slices.Contains(names, segment.BaseName(b)+segment.TxnIndexSuffix) {
			s.NoAbortedTxns()
		}
		if len(l.segs) > 0 {
			if prev := l.segs[len(l.segs)-1]; prev.Next() != b {
				l.logger.Warn("log: recovery: segment does not follow its predecessor; dropping it and later segments",
					"segment", b, "expected", prev.Next())
				s.Close()
				if err := l.removeSegmentFiles(bases[i:]); err != nil {
					return err
				}
				break
			}
		}
		l.segs = append(l.segs, s)
		if r.TruncatedBytes > 0 {
			l.logger.Warn("log: recovery: truncated torn or corrupt tail",
				"segment", b, "from_offset", s.Next(), "bytes", r.TruncatedBytes, "kept_bytes", r.ValidBytes, "reason", r.Reason)
			if !last {
				l.logger.Warn("log: recovery: dropping segments after the cut", "segments", bases[i+1:])
				if err := l.removeSegmentFiles(bases[i+1:]); err != nil {
					return err
				}
			}
			break
		}
	}
	if len(l.segs) == 0 {
		s, err := segment.Create(l.fs, l.dir, logStart, l.segOpts(o), now)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	act := l.segs[len(l.segs)-1]
	if err := act.Unseal(); err != nil {
		return err
	}
	end := act.Next()
	if end < logStart {
		// The data the start offset refers to is gone: start afresh at logStart.
		l.logger.Warn("log: recovery: log end below log start offset; starting empty", "end", end, "log_start", logStart)
		old := l.segs
		l.segs = nil
		for _, s := range old {
			if err := s.MarkDeleted(); err != nil {
				return err
			}
		}
		s, err := segment.Create(l.fs, l.dir, logStart, l.segOpts(o), now)
		if err != nil {
			return err
		}
		l.segs = []*segment.Segment{s}
		end = logStart
	}
	logStart = max(logStart, l.segs[0].Base())
	// Delete whole segments below the log start offset (a crash after the checkpoint).
	for len(l.segs) > 1 && l.segs[0].Next() <= logStart {
		if err := l.segs[0].MarkDeleted(); err != nil {
			return err
		}
		l.segs = l.segs[1:]
	}
	l.start.Store(logStart)
	l.end.Store(end)
	l.trusted = min(trusted, end)
	l.d.end = end
	if fresh {
		l.mu.dirDirty = true
		return nil
	}
	if ownMarker {
		// Gone (durably, below) before anything changes, so that a crash from now on
		// recovers.
		if err := l.fs.Remove(l.path(CleanMarker)); err != nil {
			return fmt.Errorf("log: remove clean marker: %w", err)
		}
	}
	switch {
	case !clean || rescanned:
		// Make the repairs durable (a trusted open rescans a segment whose index failed
		// its check), then move the recovery point to the end.
		for _, s := range l.segs {
			if err := s.Sync(true); err != nil {
				return err
			}
		}
		if err := l.syncDir(); err != nil {
			return err
		}
	case ownMarker:
		if err := l.syncDir(); err != nil {
			return err
		}
	default:
		// Trusted on the caller's word. The files may be those of a new log that was
		// closed without any sync: the first flush syncs the directory, as for a new log.
		l.mu.dirDirty = true
	}
	if !clean || rescanned || l.staleRecoveryPoint(rp, end) {
		if err := l.writeRecoveryPoint(end, l.gen.Load()); err != nil {
			return err
		}
	}
	return nil
}

// staleRecoveryPoint reports whether the recovery point rp must move to end (durable
// already): recovery rescans the whole active segment in any case, so a recovery point
// within it is as good as the end offset; one below it would rescan sealed segments for
// nothing, and one above end is wrong. The caller holds mu (or owns the log).
func (l *Log) staleRecoveryPoint(rp, end int64) bool {
	return rp < l.activeLocked().Base() || rp > end
}

func (l *Log) removeSegmentFiles(bases []int64) error {
	for _, b := range bases {
		for _, suf := range []string{segment.LogSuffix, segment.IndexSuffix, segment.TimeIndexSuffix, segment.TxnIndexSuffix} {
			if err := l.fs.Remove(l.path(segment.BaseName(b) + suf)); err != nil && !errors.Is(err, errNotExist) {
				return fmt.Errorf("log: remove segment %d: %w", b, err)
			}
		}
	}
	return nil
}

func (l *Log) syncDir() error { return vfs.SyncDir(l.fs, l.dir) }

// readCheckpoint parses a checkpoint file: "<version>\n<offset>\n".
func (l *Log) readCheckpoint(name string) (int64, bool) {
	f, err := l.fs.Open(l.path(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, _ := f.ReadAt(buf, 0)
	lines := strings.Split(string(buf[:n]), "\n")
	if len(lines) < 3 || lines[0] != strconv.Itoa(checkpointVersion) || lines[2] != "" {
		l.logger.Warn("log: ignoring malformed checkpoint", "file", name)
		return 0, false
	}
	off, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || off < 0 {
		l.logger.Warn("log: ignoring malformed checkpoint", "file", name)
		return 0, false
	}
	return off, true
}

// writeCheckpoint writes name atomically (vfs.WriteFileAtomic).
func (l *Log) writeCheckpoint(name string, off int64) error {
	if err := vfs.WriteFileAtomic(l.fs, l.path(name), fmt.Appendf(nil, "%d\n%d\n", checkpointVersion, off)); err != nil {
		return fmt.Errorf("log: checkpoint %s: %w", name, err)
	}
	return nil
}

// writeRecoveryPoint checkpoints rp unless a truncation happened since gen was read.
func (l *Log) writeRecoveryPoint(rp, gen int64) error {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if l.gen.Load() != gen {
		return nil
	}
	if err := l.writeCheckpoint(RecoveryPointFile, rp); err != nil {
		return err
	}
	l.ckRP = rp
	return nil
}

// recoveryPoint is the last recovery point read or written.
func (l *Log) recoveryPoint() int64 {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	return l.ckRP
}
