package partition

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
)

// Producer-state snapshots (Kafka's ProducerStateManager): the producer and transaction
// state of a partition as of an offset, in <offset>.snapshot in the partition directory
// (the offset as 20 digits, as a segment's name). Open loads the newest usable one and
// replays only the log after it, and the state of a producer whose batches compaction,
// retention or DeleteRecords removed survives a restart. See docs/storage.md for the
// layout and the rules.
const (
	// SnapshotSuffix ends the name of a producer-state snapshot file.
	SnapshotSuffix = ".snapshot"
	// snapshotVersion is the version Strata writes: Kafka's version 1 layout with each
	// entry followed by the producer's last batches (Kafka keeps only the last). Version 1
	// files (Kafka's) are read too.
	snapshotVersion      = 2
	kafkaSnapshotVersion = 1
	// snapshotHeader is version int16 + CRC32C uint32 + entry count int32.
	snapshotHeader = 2 + 4 + 4
	// snapshotEntry is the size of Kafka's version 1 entry; snapshotBatch the size of
	// one batch of a version 2 entry's batch array (after its int32 count).
	snapshotEntry = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
	snapshotBatch = 4 + 8 + 4 + 8
	// maxSnapshotBytes bounds the file read at open (a corrupt length cannot make it
	// allocate more): 10 million producers of 5 batches each.
	maxSnapshotBytes = 10_000_000 * (snapshotEntry + 4 + producerBatches*snapshotBatch)
)

// errBadSnapshot marks a snapshot file that does not decode (version, CRC, lengths,
// values): it is ignored and the state is rebuilt from an older one or the log.
var errBadSnapshot = errors.New("partition: corrupt producer-state snapshot")

var snapshotCRC = crc32.MakeTable(crc32.Castagnoli)

// encodeSnapshot encodes the producer state m (Kafka's ProducerSnapshot layout, version
// 2; docs/storage.md), entries by producer id.
func encodeSnapshot(m map[int64]*producerState) []byte {
	pids := make([]int64, 0, len(m))
	size := snapshotHeader
	for pid, st := range m {
		pids = append(pids, pid)
		size += snapshotEntry + 4 + len(st.batches)*snapshotBatch
	}
	slices.Sort(pids)
	be := binary.BigEndian
	b := make([]byte, 0, size)
	b = be.AppendUint16(b, snapshotVersion)
	b = be.AppendUint32(b, 0) // CRC, below
	b = be.AppendUint32(b, uint32(len(pids)))
	for _, pid := range pids {
		st := m[pid]
		last := batchMeta{firstSeq: -1, lastSeq: -1, baseOffset: -1, lastOffset: -1}
		if n := len(st.batches); n > 0 {
			last = st.batches[n-1]
		}
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint16(b, uint16(st.epoch))
		b = be.AppendUint32(b, uint32(last.lastSeq))
		b = be.AppendUint64(b, uint64(last.lastOffset))
		b = be.AppendUint32(b, uint32(last.lastOffset-last.baseOffset))
		b = be.AppendUint64(b, uint64(st.lastTS))
		b = be.AppendUint32(b, uint32(st.coordEpoch))
		b = be.AppendUint64(b, uint64(st.txnFirst))
		b = be.AppendUint32(b, uint32(len(st.batches)))
		for _, bm := range st.batches {
			b = be.AppendUint32(b, uint32(bm.lastSeq))
			b = be.AppendUint64(b, uint64(bm.lastOffset))
			b = be.AppendUint32(b, uint32(bm.lastOffset-bm.baseOffset))
			b = be.AppendUint64(b, uint64(bm.maxTimestamp))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[6:], snapshotCRC))
	return b
}

// decodeSnapshot decodes a snapshot file (version 2, or Kafka's version 1, whose entries
// carry only the last batch). Anything but a well-formed file whose CRC matches is
// errBadSnapshot. It never panics.
func decodeSnapshot(b []byte) (map[int64]*producerState, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadSnapshot, fmt.Sprintf(format, args...))
	}
	if len(b) < snapshotHeader {
		return nil, bad("%d bytes", len(b))
	}
	be := binary.BigEndian
	version := be.Uint16(b)
	if version != snapshotVersion && version != kafkaSnapshotVersion {
		return nil, bad("version %d", version)
	}
	if got, want := crc32.Checksum(b[6:], snapshotCRC), be.Uint32(b[2:]); got != want {
		return nil, bad("CRC %08x, computed %08x", want, got)
	}
	n := int64(be.Uint32(b[6:]))
	r := b[snapshotHeader:]
	if n*snapshotEntry > int64(len(r)) {
		return nil, bad("%d entries in %d bytes", n, len(r))
	}
	m := make(map[int64]*producerState, n)
	for range n {
		if len(r) < snapshotEntry {
			return nil, bad("truncated entry")
		}
		pid := int64(be.Uint64(r))
		st := &producerState{
			epoch:      int16(be.Uint16(r[8:])),
			lastTS:     int64(be.Uint64(r[26:])),
			coordEpoch: int32(be.Uint32(r[34:])),
			txnFirst:   int64(be.Uint64(r[38:])),
		}
		lastSeq, lastOff, delta := int32(be.Uint32(r[10:])), int64(be.Uint64(r[14:])), int32(be.Uint32(r[22:]))
		r = r[snapshotEntry:]
		if pid < 0 || st.epoch < 0 || st.txnFirst < -1 || m[pid] != nil {
			return nil, bad("producer %d epoch %d transaction at %d", pid, st.epoch, st.txnFirst)
		}
		if version == kafkaSnapshotVersion {
			if lastSeq >= 0 {
				bm, err := snapshotBatchMeta(lastSeq, lastOff, delta, st.lastTS)
				if err != nil {
					return nil, bad("producer %d: %v", pid, err)
				}
				st.batches = append(st.batches, bm)
			}
		} else {
			if len(r) < 4 {
				return nil, bad("truncated entry")
			}
			k := int(be.Uint32(r))
			r = r[4:]
			if k > producerBatches || len(r) < k*snapshotBatch {
				return nil, bad("producer %d: %d batches", pid, k)
			}
			for range k {
				bm, err := snapshotBatchMeta(int32(be.Uint32(r)), int64(be.Uint64(r[4:])), int32(be.Uint32(r[12:])), int64(be.Uint64(r[16:])))
				if err != nil {
					return nil, bad("producer %d: %v", pid, err)
				}
				if len(st.batches) > 0 && bm.baseOffset <= st.batches[len(st.batches)-1].lastOffset {
					return nil, bad("producer %d: batches out of order", pid)
				}
				st.batches = append(st.batches, bm)
				r = r[snapshotBatch:]
			}
			if k > 0 && (st.batches[k-1].lastSeq != lastSeq || st.batches[k-1].lastOffset != lastOff) {
				return nil, bad("producer %d: last batch %d/%d, entry says %d/%d", pid, st.batches[k-1].lastSeq, st.batches[k-1].lastOffset, lastSeq, lastOff)
			}
		}
		m[pid] = st
	}
	if len(r) != 0 {
		return nil, bad("%d bytes after the entries", len(r))
	}
	return m, nil
}

// snapshotBatchMeta rebuilds a batch's metadata from Kafka's fields (the first sequence
// is the last minus the offset delta, wrapping as sequences do).
func snapshotBatchMeta(lastSeq int32, lastOff int64, delta int32, ts int64) (batchMeta, error) {
	if lastSeq < 0 || delta < 0 || lastOff < int64(delta) {
		return batchMeta{}, fmt.Errorf("batch sequence %d offset %d delta %d", lastSeq, lastOff, delta)
	}
	first := int64(lastSeq) - int64(delta)
	if first < 0 {
		first += 1 << 31
	}
	return batchMeta{firstSeq: int32(first), lastSeq: lastSeq, baseOffset: lastOff - int64(delta), lastOffset: lastOff, maxTimestamp: ts}, nil
}

// snapshotName is the file name of the snapshot as of offset off.
func snapshotName(off int64) string { return fmt.Sprintf("%020d%s", off, SnapshotSuffix) }

// parseSnapshotName returns the offset a snapshot file name carries.
func parseSnapshotName(name string) (int64, bool) {
	s, ok := strings.CutSuffix(name, SnapshotSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(s, 10, 64)
	return off, err == nil && off >= 0
}

// snapshots are the producer-state snapshot files of one partition directory. Their
// methods are called with the partition's amu held.
type snapshots struct {
	fs  vfs.FS
	dir string
}

// list returns the offsets of the snapshot files, newest first.
func (s *snapshots) list() ([]int64, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list producer-state snapshots: %w", err)
	}
	var offs []int64
	for _, n := range names {
		if off, ok := parseSnapshotName(n); ok {
			offs = append(offs, off)
		}
	}
	slices.SortFunc(offs, func(a, b int64) int { return cmp.Compare(b, a) })
	return offs, nil
}

// write writes the snapshot of m as of offset off: with sync atomically and durably
// (vfs.WriteFileAtomic), else through a renamed temporary file without an fsync (a clean
// Close: the broker fsyncs its data directory once for every partition before it writes
// its clean-shutdown marker; a crash before that may leave the file empty or torn, which
// its CRC tells).
func (s *snapshots) write(off int64, m map[int64]*producerState, sync bool) error {
	name := filepath.Join(s.dir, snapshotName(off))
	var err error
	if sync {
		err = vfs.WriteFileAtomic(s.fs, name, encodeSnapshot(m))
	} else {
		var f vfs.File
		if f, err = s.fs.Create(name + vfs.TmpSuffix); err == nil {
			_, err = f.Write(encodeSnapshot(m))
			err = errors.Join(err, f.Close())
		}
		if err == nil {
			err = s.fs.Rename(name+vfs.TmpSuffix, name)
		}
	}
	if err != nil {
		return fmt.Errorf("write producer-state snapshot: %w", err)
	}
	return nil
}

// read reads and decodes the snapshot as of offset off.
func (s *snapshots) read(off int64) (map[int64]*producerState, error) {
	b, err := vfs.ReadSmallFile(s.fs, filepath.Join(s.dir, snapshotName(off)), maxSnapshotBytes)
	if err != nil {
		return nil, fmt.Errorf("read producer-state snapshot %d: %w", off, err)
	}
	m, err := decodeSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("producer-state snapshot %d: %w", off, err)
	}
	return m, nil
}

// remove deletes the snapshot as of offset off.
func (s *snapshots) remove(off int64) error {
	if err := s.fs.Remove(filepath.Join(s.dir, snapshotName(off))); err != nil {
		return fmt.Errorf("remove producer-state snapshot: %w", err)
	}
	return nil
}

// snapshotLocked writes the producer state as of the log end to a snapshot file (Kafka
// takes one at every segment roll and at a clean shutdown), fsynced if sync is set (see
// snapshots.write), then deletes the snapshots no longer needed: those below the log
// start and those past the newest keptSnapshots, but never the newest. A failure is
// logged, not returned: the log stays the source of truth, and Open falls back to an
// older snapshot or the log. The caller holds amu.
func (p *Partition) snapshotLocked(sync bool) {
	if p.snaps == nil {
		return
	}
	if err := p.snaps.write(p.st.EndOffset(), p.amu.producers.m, sync); err != nil {
		p.logger.Warn("partition: producer-state snapshot not written", "topic", p.topic, "partition", p.index, "err", err)
		return
	}
	offs, err := p.snaps.list()
	if err == nil {
		start := p.st.StartOffset()
		for i, off := range offs {
			if i > 0 && (off < start || i >= keptSnapshots) {
				err = errors.Join(err, p.snaps.remove(off))
			}
		}
	}
	if err != nil {
		p.logger.Warn("partition: old producer-state snapshots not deleted", "topic", p.topic, "partition", p.index, "err", err)
	}
}

// keptSnapshots is how many snapshots a partition keeps at most: the newest, and older
// ones for when a crash leaves the newer ones above what recovery trusts (in the segments
// it rescans) or damaged.
const keptSnapshots = 5

// startMovedLocked follows a move of the log start offset (DeleteRecords, a follower
// following its leader's start, retention): a snapshot at the log end keeps the state of
// the producers whose batches went, and the snapshots below the new start go. The
// caller holds amu.
func (p *Partition) startMovedLocked() { p.snapshotLocked(true) }

// loadSnapshotLocked replaces the producer and transaction state by the newest snapshot
// usable with the log and returns the offset from which the log must be replayed on top
// of it: the snapshot's, or the log start if none is usable (then the state is left
// empty). A snapshot past the log end (the log was truncated or lost its tail in a
// crash since) or one that does not decode is deleted; one below the log start or above
// trusted (the part of the log that a crash may have changed below it: see
// log.TrustedEnd) is not used. The caller holds amu; the state is empty.
func (p *Partition) loadSnapshotLocked(trusted int64) int64 {
	start, end := p.st.StartOffset(), p.st.EndOffset()
	if p.snaps == nil {
		return start
	}
	offs, err := p.snaps.list()
	if err != nil {
		p.logger.Warn("partition: producer-state snapshots not read; rebuilding from the log", "topic", p.topic, "partition", p.index, "err", err)
		return start
	}
	for _, off := range offs {
		if off < start || (off > trusted && off <= end) {
			continue
		}
		var m map[int64]*producerState
		if off <= end {
			if m, err = p.snaps.read(off); err != nil {
				p.logger.Warn("partition: deleting a producer-state snapshot that does not load", "topic", p.topic, "partition", p.index, "err", err)
			}
		}
		if m == nil {
			if err := p.snaps.remove(off); err != nil {
				p.logger.Warn("partition: producer-state snapshot not deleted", "topic", p.topic, "partition", p.index, "err", err)
			}
			continue
		}
		ps := &p.amu.producers
		ps.m = m
		p.mu.Lock()
		for pid, st := range m {
			ps.maxID = max(ps.maxID, pid)
			if st.txnFirst >= 0 {
				p.mu.open[pid] = st.txnFirst
			}
		}
		p.mu.Unlock()
		return off
	}
	return start
}
