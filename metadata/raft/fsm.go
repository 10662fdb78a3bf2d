package raft

import (
	"errors"
	"fmt"
	"io"

	hraft "github.com/hashicorp/raft"

	"github.com/stratalog/strata/metadata"
)

// fsm is the Store's state machine, run by hashicorp/raft on its FSM goroutine: it
// applies the committed records to the image in log order and calls the watchers; it
// snapshots and restores the image.
type fsm struct{ s *Store }

// errConflict: a record computed on another version of the image than the one it
// meets (a deposed leader's); nothing was applied.
var errConflict = errors.New("raft: record computed on a stale image")

// applyResult is what Apply returns for a record (the future's Response on the leader).
type applyResult struct{ err error }

// Apply applies one committed record. A record that does not decode or meets another
// image version than its base changes nothing, the same way on every node.
func (f *fsm) Apply(l *hraft.Log) any {
	s := f.s
	res := applyResult{}
	rec, err := decodeRecord(l.Data)
	var nonce uint64
	switch {
	case err != nil:
		s.log.Error("metadata log entry does not decode; skipped", "index", l.Index, "err", err)
		res.err = err
	case rec.Base != s.image.Load().Version():
		res.err = fmt.Errorf("%w: base version %d, image version %d", errConflict, rec.Base, s.image.Load().Version())
	default:
		s.publish(rec.apply(s.image.Load()))
		nonce = rec.Nonce
	}
	s.noteApplied(l.Index, nonce)
	return res
}

// Snapshot returns the current image (immutable: persisting it needs no lock).
func (f *fsm) Snapshot() (hraft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: newSnapshot(f.s.image.Load(), f.s.appliedIndex())}, nil
}

// Restore replaces the image with a snapshot's; the watchers see the change as one delta
// from the old image.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	snap, err := decodeSnapshot(rc)
	if err != nil {
		return err
	}
	f.s.publish(snap.image())
	f.s.restored(snap.Applied)
	return nil
}

type fsmSnapshot struct{ snap *snapshot }

func (fs *fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(encodeVersioned(snapshotVersion, fs.snap)); err != nil {
		sink.Cancel()
		return fmt.Errorf("raft: write snapshot: %w", err)
	}
	return sink.Close()
}

func (fs *fsmSnapshot) Release() {}

// publish calls every watcher with the delta to next, then makes next the image. Watch
// takes the same lock, so a new watcher starts exactly from an image it gets every delta
// after.
func (s *Store) publish(next *metadata.Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := metadata.Diff(s.image.Load(), next)
	for _, w := range s.mu.watchers {
		if err := w.fn(d); err != nil {
			// A replicated change cannot be undone: this node fails to follow it.
			s.log.Error("a watcher failed to follow a metadata change", "version", next.Version(), "err", err)
		}
	}
	s.image.Store(next)
}
