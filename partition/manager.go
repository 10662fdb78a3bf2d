package partition

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/segment"
)

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock handed to every partition; nil means time.Now.
	Now func() time.Time
	// Broker holds the broker settings by Kafka name (server.Options.Settings), already
	// validated with config.ValidateBroker: num.partitions, auto.create.topics.enable and
	// the broker-wide defaults of topic settings (log.retention.ms, ...).
	Broker map[string]string

	// open opens one partition; nil means Open. Unit tests substitute in-memory stores.
	open func(dir string, opts *Options) (*Partition, error)
}

// topicsDir is the directory, under the data directory, of the topic metadata files.
const topicsDir = ".topics"

// cleanShutdownFile, in the data directory, says that every partition was closed cleanly
// (written by Close); OpenManager removes it before it opens anything, so its partitions
// open trusted (no recovery scan) while a crash from then on leaves no marker. It stands
// for all the partitions' logs, which keep no marker of their own (log.Options.SharedMarker).
const cleanShutdownFile = ".clean-shutdown"

// Manager owns every topic and partition of one data directory.
//
// On disk (docs/storage.md, "Topic metadata"): <dir>/.topics/<topic>.properties holds a
// topic's id, partition count and config overrides and is the source of truth of what
// topics exist; partition n lives in <dir>/<topic>-<n>/, whose partition.metadata repeats
// the topic id. Changes are written atomically (tmp, fsync, rename, dir fsync) before they
// take effect.
//
// Concurrency: safe for concurrent use. Reads (Topic, Topics, TopicByID) take a read lock
// briefly; changes (create, delete, add partitions, alter configs) are serialised by an
// admin mutex held across their disk I/O. Lock order: admin, then mu, then Topic.mu.
// OpenManager, CreateTopic, AddPartitions, DeleteTopic and Close work on up to
// num.recovery.threads.per.data.dir partitions at once (forEach), on goroutines they
// start and wait for.
type Manager struct {
	dir    string
	fs     vfs.FS
	log    *slog.Logger
	opts   ManagerOptions
	broker config.Resolved
	clean  bool // OpenManager found the clean-shutdown marker
	// workers is num.recovery.threads.per.data.dir: how many partitions are created,
	// opened, closed or deleted at once. Their file-system calls overlap in the kernel
	// (fsyncs of different files can share a journal commit and a device cache flush).
	workers int

	admin   sync.Mutex
	cleaner *cleaner       // retention and compaction goroutine (cleaner.go)
	segs    *segment.Cache // open sealed segments of every partition (strata.log.open.segments.max)
	mu      struct {
		sync.RWMutex
		topics map[string]*Topic
		byID   map[[16]byte]*Topic
		closed bool
	}
}

// OpenManager opens the data directory dir, creating it if needed, and opens every
// partition of every topic. It logs progress while opening many partitions.
func OpenManager(dir string, opts *ManagerOptions) (*Manager, error) {
	m := &Manager{dir: dir}
	if opts != nil {
		m.opts = *opts
	}
	m.opts.Broker = maps.Clone(m.opts.Broker)
	if m.opts.Broker == nil {
		m.opts.Broker = map[string]string{}
	}
	if m.opts.FS == nil {
		m.opts.FS = vfs.Default
	}
	if m.opts.Logger == nil {
		m.opts.Logger = slog.Default()
	}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	if m.opts.open == nil {
		m.opts.open = Open
	}
	m.fs, m.log = m.opts.FS, m.opts.Logger
	m.broker = config.ResolveBroker(m.opts.Broker)
	m.segs = segment.NewCache(int(m.broker.Int64("strata.log.open.segments.max")))
	m.workers = int(m.broker.Int64("num.recovery.threads.per.data.dir"))
	m.mu.topics = map[string]*Topic{}
	m.mu.byID = map[[16]byte]*Topic{}

	if err := m.fs.MkdirAll(filepath.Join(dir, topicsDir), 0o755); err != nil {
		return nil, fmt.Errorf("partition: create %s: %w", dir, err)
	}
	clean, err := m.takeCleanMarker()
	if err != nil {
		return nil, err
	}
	m.clean = clean
	metas, err := m.loadMetas()
	if err != nil {
		return nil, err
	}
	if err := m.sweep(metas); err != nil {
		return nil, err
	}
	type slot struct {
		t  *Topic
		tm *topicMeta
		i  int32
	}
	var slots []slot
	for _, name := range sortedKeys(metas) {
		tm := metas[name]
		t := m.newTopic(name, tm.id, tm.overrides)
		t.mu.parts = make([]*Partition, tm.partitions)
		for i := range tm.partitions {
			slots = append(slots, slot{t, tm, i})
		}
		m.mu.topics[name] = t
		m.mu.byID[t.ID] = t
	}
	if len(slots) > 0 && !clean {
		m.log.Info("no clean-shutdown marker: recovering partitions", "dir", dir, "partitions", len(slots))
	}
	start := time.Now()
	var progress struct {
		sync.Mutex
		opened  int
		lastLog time.Time
	}
	progress.lastLog = start
	errs := m.forEach(len(slots), func(k int) error {
		s := slots[k]
		p, err := m.openPartition(s.t.Name, s.tm.id, s.i, s.tm.overrides, false, clean)
		if err != nil {
			return err
		}
		s.t.mu.parts[s.i] = p // a slot of its own; published after forEach returns
		progress.Lock()
		defer progress.Unlock()
		if progress.opened++; time.Since(progress.lastLog) >= 5*time.Second {
			progress.lastLog = time.Now()
			m.log.Info("opening partitions", "opened", progress.opened, "total", len(slots))
		}
		return nil
	})
	if len(errs) > 0 {
		m.closeAll()
		return nil, firstError(errs)
	}
	if len(slots) > 0 {
		m.log.Info("opened topics", "topics", len(metas), "partitions", len(slots), "took", time.Since(start).Round(time.Millisecond), "clean", clean)
	}
	m.startCleaner()
	return m, nil
}

// takeCleanMarker reports whether the clean-shutdown marker is there, and removes it
// durably (before any partition is opened, so before anything changes).
func (m *Manager) takeCleanMarker() (bool, error) {
	path := filepath.Join(m.dir, cleanShutdownFile)
	if _, err := m.fs.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("partition: stat %s: %w", path, err)
	}
	if err := m.fs.Remove(path); err != nil {
		return false, fmt.Errorf("partition: remove %s: %w", path, err)
	}
	return true, vfs.SyncDir(m.fs, m.dir)
}

// CleanShutdown reports whether OpenManager found the clean-shutdown marker, that is,
// whether the partitions were opened without recovery.
func (m *Manager) CleanShutdown() bool { return m.clean }

// forEach calls fn(i) for every i in [0, n) on up to m.workers goroutines, waits for
// them, and returns fn's errors in the order of i.
func (m *Manager) forEach(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, max(m.workers, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				errs[i] = fn(i)
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// firstError returns the first of errs, saying how many more there are.
func firstError(errs []error) error {
	if len(errs) > 1 {
		return fmt.Errorf("%w (and %d more partitions failed)", errs[0], len(errs)-1)
	}
	return errs[0]
}

func sortedKeys[V any](mp map[string]V) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (m *Manager) newTopic(name string, id [16]byte, overrides map[string]string) *Topic {
	t := &Topic{Name: name, ID: id, m: m}
	t.mu.overrides = maps.Clone(overrides)
	if t.mu.overrides == nil {
		t.mu.overrides = map[string]string{}
	}
	return t
}

// loadMetas reads every topic metadata file and removes temporary leftovers.
func (m *Manager) loadMetas() (map[string]*topicMeta, error) {
	tdir := filepath.Join(m.dir, topicsDir)
	names, err := m.fs.List(tdir)
	if err != nil {
		return nil, fmt.Errorf("partition: list %s: %w", tdir, err)
	}
	metas := map[string]*topicMeta{}
	for _, fn := range names {
		path := filepath.Join(tdir, fn)
		if strings.HasSuffix(fn, ".tmp") {
			if err := m.fs.Remove(path); err != nil {
				return nil, fmt.Errorf("partition: remove %s: %w", path, err)
			}
			continue
		}
		name, ok := strings.CutSuffix(fn, ".properties")
		if !ok || ValidateTopicName(name) != nil {
			m.log.Warn("ignoring unexpected file in topic metadata directory", "file", path)
			continue
		}
		data, err := vfs.ReadSmallFile(m.fs, path, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("partition: read %s: %w", path, err)
		}
		tm, err := decodeTopicMeta(data)
		if err != nil {
			return nil, fmt.Errorf("partition: %s: %w", path, err)
		}
		if tm.deleted {
			m.log.Info("finishing an interrupted topic deletion", "topic", name)
			if err := m.finishDelete(name, tm.partitions); err != nil {
				return nil, err
			}
			continue
		}
		if err := config.ValidateTopic(tm.overrides); err != nil {
			// A setting this version does not know (or no longer accepts): keep the
			// topic, drop the override, say so.
			m.log.Warn("ignoring invalid stored topic config", "topic", name, "err", err)
			for k, v := range tm.overrides {
				if s, ok := config.Lookup(k); !ok || s.Scope != config.Topic || s.Validate(v) != nil {
					delete(tm.overrides, k)
				}
			}
		}
		metas[name] = tm
	}
	return metas, nil
}

// sweep adopts partition directories that have a partition.metadata but no topic metadata file (a data
// directory from before topic metadata files, or a lost one), with default configs.
func (m *Manager) sweep(metas map[string]*topicMeta) error {
	entries, err := m.fs.List(m.dir)
	if err != nil {
		return fmt.Errorf("partition: list %s: %w", m.dir, err)
	}
	adopted := map[string]*topicMeta{}
	for _, e := range entries {
		path := filepath.Join(m.dir, e)
		name, index, ok := splitPartitionDir(e)
		if !ok {
			continue
		}
		if tm, known := metas[name]; known {
			if index >= tm.partitions {
				m.log.Warn("ignoring partition directory beyond the topic's partition count", "dir", path, "partitions", tm.partitions)
			}
			continue
		}
		data, err := vfs.ReadSmallFile(m.fs, filepath.Join(path, "partition.metadata"), 1<<20)
		if err != nil {
			continue // not a partition directory of ours
		}
		id, err := parsePartitionMetadata(data)
		if err != nil {
			return fmt.Errorf("partition: %s: %w", path, err)
		}
		tm := adopted[name]
		if tm == nil {
			tm = &topicMeta{id: id, overrides: map[string]string{}}
			adopted[name] = tm
		}
		if tm.id != id {
			return fmt.Errorf("partition: %s: topic id %s differs from other partitions of %s", path, FormatTopicID(id), name)
		}
		tm.partitions = max(tm.partitions, index+1)
	}
	for name, tm := range adopted {
		m.log.Warn("adopting partition directories without topic metadata", "topic", name, "partitions", tm.partitions)
		if err := m.writeMeta(name, tm); err != nil {
			return err
		}
		metas[name] = tm
	}
	return nil
}

// splitPartitionDir parses "<topic>-<n>".
func splitPartitionDir(e string) (string, int32, bool) {
	i := strings.LastIndexByte(e, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(e[i+1:], 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != e[i+1:] {
		return "", 0, false
	}
	name := e[:i]
	if ValidateTopicName(name) != nil {
		return "", 0, false
	}
	return name, int32(n), true
}

func (m *Manager) metaPath(name string) string {
	return filepath.Join(m.dir, topicsDir, name+".properties")
}

func (m *Manager) partitionDir(name string, i int32) string {
	return filepath.Join(m.dir, name+"-"+strconv.Itoa(int(i)))
}

func (m *Manager) writeMeta(name string, tm *topicMeta) error {
	return vfs.WriteFileAtomic(m.fs, m.metaPath(name), tm.encode())
}

// openPartition creates (fresh: removing whatever is in the way) or opens partition i;
// clean says that the data directory was shut down cleanly (see cleanShutdownFile).
//
// A fresh partition's files are not fsynced: the topic metadata file, durable before, is
// the commit point, and what a crash takes from a fresh partition is an empty log that the
// next open creates again. The caller fsyncs the data directory once for all the new
// directories, and each log fsyncs its own directory at its first flush, before anything
// appended to it is durable. partition.metadata, a copy of the topic id, is rewritten at
// open when it is missing or cut short.
func (m *Manager) openPartition(name string, id [16]byte, i int32, overrides map[string]string, fresh, clean bool) (*Partition, error) {
	dir := m.partitionDir(name, i)
	mdPath := filepath.Join(dir, "partition.metadata")
	if fresh {
		if err := m.fs.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("partition: remove stale %s: %w", dir, err)
		}
	}
	if err := m.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("partition: create %s: %w", dir, err)
	}
	if fresh {
		if err := writeFile(m.fs, mdPath, partitionMetadata(id)); err != nil {
			return nil, err
		}
	} else if err := m.checkPartitionMetadata(mdPath, id); err != nil {
		return nil, err
	}
	opts := m.partitionOptions(name, id, i, overrides)
	opts.Log.CleanShutdown = clean && !fresh
	p, err := m.opts.open(dir, &opts)
	if err != nil {
		return nil, fmt.Errorf("partition: open %s-%d: %w", name, i, err)
	}
	return p, nil
}

// checkPartitionMetadata checks that the partition.metadata at path names topic id, and
// writes it (durably) when it is missing or unreadable: the topic metadata file is the
// source of truth, and a crash while a partition was created can leave the copy empty.
func (m *Manager) checkPartitionMetadata(path string, id [16]byte) error {
	data, err := vfs.ReadSmallFile(m.fs, path, 1<<20)
	switch {
	case err == nil:
		got, perr := parsePartitionMetadata(data)
		if perr == nil {
			if got != id {
				return fmt.Errorf("partition: %s: topic id %s, want %s", path, FormatTopicID(got), FormatTopicID(id))
			}
			return nil
		}
		m.log.Warn("rewriting an unreadable partition.metadata from the topic metadata", "file", path, "err", perr)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("partition: read %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(m.fs, path, partitionMetadata(id)); err != nil {
		return err
	}
	return vfs.SyncDir(m.fs, m.dir)
}

// writeFile creates name with data, without fsync.
func writeFile(fsys vfs.FS, name string, data []byte) error {
	f, err := fsys.Create(name)
	if err != nil {
		return fmt.Errorf("partition: create %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("partition: write %s: %w", name, err)
	}
	return nil
}

// createPartitions creates partitions [from, to) of a topic, then fsyncs the data
// directory (their directory entries). On error it closes the ones it opened.
func (m *Manager) createPartitions(name string, id [16]byte, from, to int32, overrides map[string]string) ([]*Partition, error) {
	parts := make([]*Partition, to-from)
	errs := m.forEach(len(parts), func(k int) error {
		p, err := m.openPartition(name, id, from+int32(k), overrides, true, false)
		parts[k] = p
		return err
	})
	var err error
	if len(errs) > 0 {
		err = firstError(errs)
	} else {
		err = vfs.SyncDir(m.fs, m.dir)
	}
	if err != nil {
		m.closeParts(parts)
		return nil, err
	}
	return parts, nil
}

// closeParts closes parts (nil entries skipped), m.workers at once.
func (m *Manager) closeParts(parts []*Partition) error {
	return errors.Join(m.forEach(len(parts), func(i int) error {
		if parts[i] == nil {
			return nil
		}
		return parts[i].Close()
	})...)
}

// closeAll closes every registered topic's partitions (failed open).
func (m *Manager) closeAll() {
	for _, t := range m.mu.topics {
		m.closeParts(t.mu.parts)
	}
}

// Dir is the data directory.
func (m *Manager) Dir() string { return m.dir }

// BrokerSettings returns a copy of the broker settings the manager was opened with.
func (m *Manager) BrokerSettings() map[string]string { return maps.Clone(m.opts.Broker) }

// Topic returns the topic by name.
func (m *Manager) Topic(name string) (*Topic, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.mu.topics[name]
	return t, ok
}

// TopicByID returns the topic by id.
func (m *Manager) TopicByID(id [16]byte) (*Topic, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.mu.byID[id]
	return t, ok
}

// Topics returns every topic, sorted by name.
func (m *Manager) Topics() []*Topic {
	m.mu.RLock()
	out := make([]*Topic, 0, len(m.mu.topics))
	for _, t := range m.mu.topics {
		out = append(out, t)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateTopic creates a topic with the given partitions (-1: num.partitions) and config
// overrides (a nil value is invalid, as in Kafka). With validateOnly it checks everything
// and returns the Topic it would create (with a zero ID and no partitions) without
// creating it. Errors wrap ErrInvalidTopicName, ErrInvalidPartitions, ErrInvalidConfig or
// ErrTopicExists.
func (m *Manager) CreateTopic(name string, partitions int32, configs map[string]*string, validateOnly bool) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if partitions == -1 {
		partitions = int32(m.broker.Int64("num.partitions"))
	}
	if partitions <= 0 {
		return nil, fmt.Errorf("%w: %d; must be positive (or -1 for num.partitions)", ErrInvalidPartitions, partitions)
	}
	overrides := make(map[string]string, len(configs))
	for k, v := range configs {
		if v == nil {
			return nil, fmt.Errorf("%w: null value for %s", ErrInvalidConfig, k)
		}
		overrides[k] = *v
	}
	if err := m.validateOverrides(overrides); err != nil {
		return nil, err
	}

	m.admin.Lock()
	defer m.admin.Unlock()
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	if _, ok := m.Topic(name); ok {
		return nil, fmt.Errorf("%w: %s", ErrTopicExists, name)
	}
	if validateOnly {
		return m.newTopic(name, [16]byte{}, overrides), nil
	}
	id, err := m.newTopicID()
	if err != nil {
		return nil, err
	}
	tm := &topicMeta{id: id, partitions: partitions, overrides: overrides}
	if err := m.writeMeta(name, tm); err != nil {
		return nil, err
	}
	parts, err := m.createPartitions(name, id, 0, partitions, overrides)
	if err != nil {
		m.removeTopicFiles(name, id, partitions)
		return nil, err
	}
	t := m.newTopic(name, id, overrides)
	t.mu.parts = parts
	m.mu.Lock()
	m.mu.topics[name] = t
	m.mu.byID[id] = t
	m.mu.Unlock()
	m.log.Info("created topic", "topic", name, "partitions", partitions, "id", FormatTopicID(id))
	return t, nil
}

// AutoCreate returns the topic, creating it with num.partitions and no overrides when
// auto.create.topics.enable allows; otherwise (and for internal topic names, which their
// owners create with CreateTopic) it returns an error wrapping ErrUnknownTopic.
func (m *Manager) AutoCreate(name string) (*Topic, error) {
	if t, ok := m.Topic(name); ok {
		return t, nil
	}
	if IsInternal(name) {
		return nil, fmt.Errorf("%w: %s (internal topics are not auto-created)", ErrUnknownTopic, name)
	}
	if !m.broker.Bool("auto.create.topics.enable") {
		return nil, fmt.Errorf("%w: %s (auto.create.topics.enable is false)", ErrUnknownTopic, name)
	}
	t, err := m.CreateTopic(name, -1, nil, false)
	if errors.Is(err, ErrTopicExists) {
		if t, ok := m.Topic(name); ok {
			return t, nil
		}
	}
	return t, err
}

// AutoCreateEnabled reports auto.create.topics.enable.
func (m *Manager) AutoCreateEnabled() bool { return m.broker.Bool("auto.create.topics.enable") }

func (m *Manager) newTopicID() ([16]byte, error) {
	for {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("partition: topic id: %w", err)
		}
		if id == ([16]byte{}) {
			continue
		}
		if _, dup := m.TopicByID(id); !dup {
			return id, nil
		}
	}
}

func (m *Manager) checkOpen() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.mu.closed {
		return ErrManagerClosed
	}
	return nil
}

// DeleteTopic deletes a topic and its files. Its partitions are closed first, then the
// files go (see removeTopicFiles; an interrupted deletion is finished at the next open).
// Errors wrap ErrUnknownTopic or ErrInternalTopic.
func (m *Manager) DeleteTopic(name string) error {
	m.admin.Lock()
	defer m.admin.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	t, ok := m.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	if t.Internal() {
		return fmt.Errorf("%w: %s cannot be deleted", ErrInternalTopic, name)
	}
	m.mu.Lock()
	delete(m.mu.topics, name)
	delete(m.mu.byID, t.ID)
	m.mu.Unlock()
	t.mu.Lock()
	t.mu.deleted = true
	parts := t.mu.parts
	t.mu.Unlock()
	// The commit point first: from there the deletion completes, now or at the next open,
	// so the partitions go without a flush.
	if err := m.writeMeta(name, &topicMeta{id: t.ID, partitions: int32(len(parts)), deleted: true}); err != nil {
		m.closeParts(parts)
		return err
	}
	if errs := m.forEach(len(parts), func(i int) error { return parts[i].Delete() }); len(errs) > 0 {
		m.log.Warn("deleting partitions of deleted topic", "topic", name, "err", firstError(errs))
	}
	if err := m.finishDelete(name, int32(len(parts))); err != nil {
		return err
	}
	m.log.Info("deleted topic", "topic", name, "id", FormatTopicID(t.ID))
	return nil
}

// removeTopicFiles deletes a topic's files crash-safely: the metadata file is first
// rewritten with deleted=true (the commit point), then the partition directories are
// removed, then the metadata file. An interrupted deletion is finished at the next open.
func (m *Manager) removeTopicFiles(name string, id [16]byte, partitions int32) error {
	if err := m.writeMeta(name, &topicMeta{id: id, partitions: partitions, deleted: true}); err != nil {
		return err
	}
	return m.finishDelete(name, partitions)
}

// finishDelete removes the partition directories and the metadata file of a topic marked
// deleted.
func (m *Manager) finishDelete(name string, partitions int32) error {
	errs := m.forEach(int(partitions), func(i int) error {
		dir := m.partitionDir(name, int32(i))
		if err := m.fs.RemoveAll(dir); err != nil {
			return fmt.Errorf("partition: delete %s: %w", dir, err)
		}
		return nil
	})
	if len(errs) > 0 {
		return firstError(errs)
	}
	if err := vfs.SyncDir(m.fs, m.dir); err != nil {
		return err
	}
	if err := m.fs.Remove(m.metaPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("partition: delete %s: %w", m.metaPath(name), err)
	}
	return vfs.SyncDir(m.fs, filepath.Join(m.dir, topicsDir))
}

// AddPartitions grows a topic to total partitions. Errors wrap ErrUnknownTopic or
// ErrInvalidPartitions (total not above the current count).
func (m *Manager) AddPartitions(name string, total int32, validateOnly bool) error {
	m.admin.Lock()
	defer m.admin.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	t, ok := m.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	cur := t.NumPartitions()
	if total <= cur {
		return fmt.Errorf("%w: topic %s has %d partitions; the new count %d must be larger", ErrInvalidPartitions, name, cur, total)
	}
	if validateOnly {
		return nil
	}
	overrides := t.Overrides()
	if err := m.writeMeta(name, &topicMeta{id: t.ID, partitions: total, overrides: overrides}); err != nil {
		return err
	}
	parts, err := m.createPartitions(name, t.ID, cur, total, overrides)
	if err != nil {
		// The metadata file already names total partitions: the missing ones are created
		// at the next open.
		return err
	}
	t.mu.Lock()
	t.mu.parts = append(t.mu.parts, parts...)
	t.mu.Unlock()
	m.log.Info("added partitions", "topic", name, "from", cur, "to", total)
	return nil
}

// SetTopicConfig replaces a topic's overrides (AlterConfigs), persists them and applies
// them to its open partitions. Errors wrap ErrUnknownTopic or ErrInvalidConfig.
func (m *Manager) SetTopicConfig(name string, overrides map[string]string, validateOnly bool) error {
	return m.alterTopicConfig(name, func(map[string]string) (map[string]string, error) {
		return maps.Clone(overrides), nil
	}, validateOnly)
}

// AlterTopicConfig applies incremental changes to a topic's overrides
// (IncrementalAlterConfigs: SET, DELETE, APPEND, SUBTRACT), persists them and applies them
// to its open partitions. Errors wrap ErrUnknownTopic or ErrInvalidConfig.
func (m *Manager) AlterTopicConfig(name string, alters []config.Alter, validateOnly bool) error {
	return m.alterTopicConfig(name, func(cur map[string]string) (map[string]string, error) {
		out, err := config.ApplyTopic(m.opts.Broker, cur, alters)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		return out, nil
	}, validateOnly)
}

func (m *Manager) alterTopicConfig(name string, change func(map[string]string) (map[string]string, error), validateOnly bool) error {
	m.admin.Lock()
	defer m.admin.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	t, ok := m.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	next, err := change(t.Overrides())
	if err != nil {
		return err
	}
	if next == nil {
		next = map[string]string{}
	}
	if err := m.validateOverrides(next); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	parts := t.Partitions()
	if err := m.writeMeta(name, &topicMeta{id: t.ID, partitions: int32(len(parts)), overrides: next}); err != nil {
		return err
	}
	t.mu.Lock()
	t.mu.overrides = next
	t.mu.Unlock()
	var errs []error
	for i, p := range parts {
		if err := p.Reconfigure(m.partitionOptions(name, t.ID, int32(i), next)); err != nil {
			errs = append(errs, fmt.Errorf("partition: reconfigure %s-%d: %w", name, i, err))
		}
	}
	m.log.Info("altered topic config", "topic", name, "overrides", next)
	return errors.Join(errs...)
}

// Close stops the cleaner, then closes every partition cleanly and, when all of them did,
// writes the clean-shutdown marker. Later calls of Close return nil and other methods
// ErrManagerClosed.
func (m *Manager) Close() error {
	if m.cleaner != nil {
		m.cleaner.close() // before the partitions close: a compaction in progress aborts
	}
	m.admin.Lock()
	defer m.admin.Unlock()
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	topics := make([]*Topic, 0, len(m.mu.topics))
	for _, t := range m.mu.topics {
		topics = append(topics, t)
	}
	m.mu.Unlock()
	var parts []*Partition
	for _, t := range topics {
		parts = append(parts, t.Partitions()...)
	}
	if err := m.closeParts(parts); err != nil {
		m.log.Warn("unclean shutdown: partitions will be recovered at the next open", "err", err)
		return err
	}
	return vfs.WriteFileAtomic(m.fs, filepath.Join(m.dir, cleanShutdownFile), nil)
}
