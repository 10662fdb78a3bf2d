package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

// Options configures a Store.
type Options struct {
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// NodeID is this node's id (node.id): the only broker, the controller and the leader
	// of every partition. meta.properties must name it.
	NodeID int32
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Rules are the command checks; Rules.Broker holds the broker settings by Kafka name
	// (num.partitions, num.recovery.threads.per.data.dir, topic defaults …).
	Rules metadata.Rules
}

// Store is the single-node metadata.Store: the image lives in memory and every change is
// persisted in the data directory before it is applied (docs/storage.md, "Topic
// metadata"). The image has one broker, this node, which is the controller and the
// leader of every partition at leader epoch 0, the only replica and in-sync replica.
//
// Concurrency: safe for concurrent use. Image reads an atomic pointer; commands are
// serialised by one mutex (admin) held across their disk I/O and the watcher calls, so
// watchers see deltas one at a time, in order, before the command returns.
type Store struct {
	dir     string
	fs      vfs.FS
	log     *slog.Logger
	node    int32
	rules   metadata.Rules
	workers int // num.recovery.threads.per.data.dir: directories removed at once
	created bool
	lock    io.Closer

	image atomic.Pointer[metadata.Image]

	admin    sync.Mutex // serialises commands, Watch and Close
	watchers []*watcher // admin
	closed   bool       // admin
	pidEnd   int64      // admin: the end of the reserved producer ids, as persisted
}

type watcher struct{ fn func(*metadata.Delta) error }

var _ metadata.Store = (*Store)(nil)

// Open locks the data directory dir (creating it if needed), reads or creates
// meta.properties, and loads the topic metadata: temporary files are removed,
// interrupted deletions finished, orphan partition directories adopted.
func Open(dir string, opts *Options) (st *Store, err error) {
	s := &Store{dir: dir}
	if opts != nil {
		s.fs, s.log, s.node, s.rules = opts.FS, opts.Logger, opts.NodeID, opts.Rules
	}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.rules.Broker = maps.Clone(s.rules.Broker)
	s.workers = int(config.ResolveBroker(s.rules.Broker).Int64("num.recovery.threads.per.data.dir"))

	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local: create data directory: %w", err)
	}
	if s.lock, err = LockDataDir(s.fs, dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.lock.Close()
		}
	}()
	clusterID, created, err := loadMetaProperties(s.fs, dir, s.node)
	if err != nil {
		return nil, err
	}
	s.created = created
	if err := s.fs.MkdirAll(filepath.Join(dir, topicsDir), 0o755); err != nil {
		return nil, fmt.Errorf("local: create %s: %w", dir, err)
	}
	metas, err := s.loadMetas()
	if err != nil {
		return nil, err
	}
	if err := s.sweep(metas); err != nil {
		return nil, err
	}
	if s.pidEnd, err = s.loadProducerIDs(); err != nil {
		return nil, err
	}
	creds, err := s.loadScram()
	if err != nil {
		return nil, err
	}
	b := metadata.NewImage(clusterID, s.node, metadata.Broker{ID: s.node}).Edit().SetNextProducerID(s.pidEnd)
	for _, c := range creds {
		b.PutScramCredential(c)
	}
	bindings, err := s.loadACLs()
	if err != nil {
		return nil, err
	}
	for _, a := range bindings {
		b.PutACL(a)
	}
	quotas, err := s.loadQuotas()
	if err != nil {
		return nil, err
	}
	for _, q := range quotas {
		b.PutClientQuota(q)
	}
	groupConfigs, err := s.loadGroupConfigs()
	if err != nil {
		return nil, err
	}
	for _, g := range groupConfigs {
		b.PutGroupConfig(g)
	}
	brokerConfigs, err := s.loadBrokerConfigs()
	if err != nil {
		return nil, err
	}
	for _, c := range brokerConfigs {
		b.PutBrokerConfig(c)
	}
	for name, tm := range metas {
		t := &metadata.Topic{Name: name, ID: tm.id, Configs: tm.overrides, Partitions: make([]metadata.PartitionState, tm.partitions)}
		for i := range t.Partitions {
			t.Partitions[i] = s.partitionState()
		}
		b.PutTopic(t)
	}
	s.image.Store(b.Build())
	return s, nil
}

// partitionState is the state of every partition on a single node.
func (s *Store) partitionState() metadata.PartitionState {
	r := []int32{s.node}
	return metadata.PartitionState{Replicas: r, ISR: r, Leader: s.node}
}

// Created reports whether Open created the data directory (there was no
// meta.properties).
func (s *Store) Created() bool { return s.created }

// Image returns the current image.
func (s *Store) Image() *metadata.Image { return s.image.Load() }

// Watch registers fn; see metadata.Store.
func (s *Store) Watch(fn func(*metadata.Delta) error) (*metadata.Image, func()) {
	s.admin.Lock()
	defer s.admin.Unlock()
	w := &watcher{fn: fn}
	s.watchers = append(s.watchers, w)
	cancel := func() {
		s.admin.Lock()
		defer s.admin.Unlock()
		s.watchers = slices.DeleteFunc(s.watchers, func(x *watcher) bool { return x == w })
	}
	return s.image.Load(), cancel
}

// begin takes the admin lock for a command; it fails once the store is closed.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.admin.Lock()
	if s.closed {
		s.admin.Unlock()
		return metadata.ErrClosed
	}
	return nil
}

// publishLocked calls every watcher with the delta to next, then makes next the current
// image (so that what Image shows, the watchers follow already), returning the watchers'
// errors joined. The caller holds admin.
func (s *Store) publishLocked(next *metadata.Image) error {
	d := metadata.Diff(s.image.Load(), next)
	var errs []error
	for _, w := range s.watchers {
		if err := w.fn(d); err != nil {
			errs = append(errs, err)
		}
	}
	s.image.Store(next)
	return errors.Join(errs...)
}

// RegisterBroker updates this node's registration (its endpoints and rack); the store
// knows no other broker (ErrInvalidBroker).
func (s *Store) RegisterBroker(ctx context.Context, b metadata.Broker) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	if b.ID != s.node {
		return fmt.Errorf("%w: broker %d on the single node %d", metadata.ErrInvalidBroker, b.ID, s.node)
	}
	b.Fenced = false
	return s.publishLocked(s.image.Load().Edit().PutBroker(b).Build())
}

// CreateTopic creates a topic: its metadata file is written (the commit point), then
// the watchers create its partitions. When a watcher fails, the topic is deleted again
// and the error returned.
func (s *Store) CreateTopic(ctx context.Context, cmd metadata.CreateTopic) (*metadata.Topic, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	t, err := s.rules.CreateTopic(im, &cmd)
	if err != nil || cmd.ValidateOnly {
		return t, err
	}
	if t.ID, err = metadata.NewTopicID(func(id metadata.TopicID) bool { _, ok := im.TopicByID(id); return ok }); err != nil {
		return nil, err
	}
	if err := s.writeTopic(t); err != nil {
		return nil, err
	}
	if err := s.publishLocked(im.Edit().PutTopic(t).Build()); err != nil {
		if derr := s.deleteLocked(t); derr != nil {
			s.log.Warn("removing a topic whose partitions could not be created", "topic", t.Name, "err", derr)
		}
		return nil, err
	}
	s.log.Info("created topic", "topic", t.Name, "partitions", t.NumPartitions(), "id", t.ID)
	return t, nil
}

// DeleteTopic deletes a topic: its metadata file is marked deleted (the commit point),
// the watchers delete its partitions, then its directories and metadata file go. An
// interrupted deletion is finished at the next Open.
func (s *Store) DeleteTopic(ctx context.Context, id metadata.TopicID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	t, err := s.rules.DeleteTopic(s.image.Load(), id)
	if err != nil {
		return err
	}
	if err := s.deleteLocked(t); err != nil {
		return err
	}
	s.log.Info("deleted topic", "topic", t.Name, "id", t.ID)
	return nil
}

// deleteLocked deletes topic t; the caller holds admin.
func (s *Store) deleteLocked(t *metadata.Topic) error {
	// The commit point first: from there the deletion completes, now or at the next open.
	if err := s.writeMeta(t.Name, &topicMeta{id: t.ID, partitions: t.NumPartitions(), deleted: true}); err != nil {
		return err
	}
	if err := s.publishLocked(s.image.Load().Edit().RemoveTopic(t.ID).Build()); err != nil {
		s.log.Warn("deleting partitions of deleted topic", "topic", t.Name, "err", err)
	}
	return s.finishDelete(t.Name, t.NumPartitions())
}

// CreatePartitions grows a topic: its metadata file first, then the watchers create the
// new partitions. If they fail, the metadata file already names the new count (the
// missing partitions are created at the next open) and the error is returned.
func (s *Store) CreatePartitions(ctx context.Context, cmd metadata.CreatePartitions) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	t, err := s.rules.CreatePartitions(im, &cmd)
	if err != nil || cmd.ValidateOnly {
		return err
	}
	if err := s.writeTopic(t); err != nil {
		return err
	}
	from, _ := im.Topic(t.Name)
	err = s.publishLocked(im.Edit().PutTopic(t).Build())
	s.log.Info("added partitions", "topic", t.Name, "from", from.NumPartitions(), "to", t.NumPartitions())
	return err
}

// AlterTopicConfigs changes a topic's overrides: its metadata file first, then the
// watchers apply them to the partitions (whose errors are returned; the change stays).
func (s *Store) AlterTopicConfigs(ctx context.Context, cmd metadata.AlterTopicConfigs) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	t, err := s.rules.AlterTopicConfigs(im, &cmd)
	if err != nil || cmd.ValidateOnly {
		return err
	}
	if err := s.writeTopic(t); err != nil {
		return err
	}
	err = s.publishLocked(im.Edit().PutTopic(t).Build())
	s.log.Info("altered topic config", "topic", t.Name, "overrides", t.Configs)
	return err
}

// AlterPartition changes a partition's ISR (metadata.Rules.AlterPartition); on a single
// node the only valid ISR is the node itself, so a command that passes the rules
// changes nothing.
func (s *Store) AlterPartition(ctx context.Context, cmd metadata.AlterPartition) (metadata.PartitionState, error) {
	if err := s.begin(ctx); err != nil {
		return metadata.PartitionState{}, err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	t, err := s.rules.AlterPartition(im, &cmd)
	if err != nil {
		return metadata.PartitionState{}, err
	}
	if t != nil {
		if err := s.writeTopic(t); err != nil {
			return metadata.PartitionState{}, err
		}
		if err := s.publishLocked(im.Edit().PutTopic(t).Build()); err != nil {
			return metadata.PartitionState{}, err
		}
	}
	tp, _ := s.image.Load().TopicByID(cmd.Topic)
	st, _ := tp.Partition(cmd.Partition)
	return st, nil
}

// ElectLeaders elects partitions' leaders (metadata.Rules.ElectLeaders); on a single
// node every partition's only replica leads it, so no election is ever needed.
func (s *Store) ElectLeaders(ctx context.Context, cmd metadata.ElectLeaders) ([]metadata.ElectionResult, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.admin.Unlock()
	im := s.image.Load()
	changed, results := s.rules.ElectLeaders(im, &cmd)
	if len(changed) == 0 {
		return results, nil
	}
	b := im.Edit()
	for _, t := range changed {
		if err := s.writeTopic(t); err != nil {
			return nil, err
		}
		b.PutTopic(t)
	}
	return results, s.publishLocked(b.Build())
}

// AlterReassignments runs metadata.Rules.AlterReassignments. On a single node the only
// valid target is the node itself, which every partition has already (nothing to do);
// any other broker is not registered (INVALID_REPLICA_ASSIGNMENT), and no reassignment is
// ever in progress to cancel (NO_REASSIGNMENT_IN_PROGRESS).
func (s *Store) AlterReassignments(ctx context.Context, cmd metadata.AlterReassignments) ([]metadata.ReassignmentResult, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.admin.Unlock()
	changed, results := s.rules.AlterReassignments(s.image.Load(), &cmd)
	if len(changed) != 0 { // cannot happen: the node's files do not record replicas
		return nil, fmt.Errorf("metadata/local: a reassignment changed %s on a single node", changed[0].Name)
	}
	return results, nil
}

// AllocateProducerIDs reserves the next block of producer ids, starting above both the
// persisted end of the last block and cmd.Above, and persists its end before returning.
func (s *Store) AllocateProducerIDs(ctx context.Context, cmd metadata.AllocateProducerIDs) (metadata.ProducerIDBlock, error) {
	if err := s.begin(ctx); err != nil {
		return metadata.ProducerIDBlock{}, err
	}
	defer s.admin.Unlock()
	if cmd.Broker != s.node {
		return metadata.ProducerIDBlock{}, fmt.Errorf("%w: broker %d on the single node %d", metadata.ErrInvalidBroker, cmd.Broker, s.node)
	}
	// Ids start at 1: 0 reads as "unset" too easily.
	b := metadata.ProducerIDBlock{Start: max(s.pidEnd, cmd.Above+1, 1), Len: metadata.ProducerIDBlockSize}
	if err := s.persistProducerIDs(b.End()); err != nil {
		return metadata.ProducerIDBlock{}, err
	}
	s.pidEnd = b.End()
	return b, s.publishLocked(s.image.Load().Edit().SetNextProducerID(b.End()).Build())
}

// Close stops the store and releases the data directory's lock. Later calls return nil;
// commands fail with ErrClosed.
func (s *Store) Close() error {
	s.admin.Lock()
	defer s.admin.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.watchers = nil
	if err := s.lock.Close(); err != nil {
		return fmt.Errorf("local: unlock data directory: %w", err)
	}
	return nil
}
