package replica

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/parallel"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
	"github.com/stratalog/strata/segment"
)

// Options configures a Manager.
type Options struct {
	// Dir is the data directory: partition i of topic t lives in Dir/t-i.
	Dir string
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// NodeID is this broker's id: the partitions whose replicas name it are hosted here.
	NodeID int32
	// Broker holds the broker settings by Kafka name (server.Options.Settings), already
	// validated with config.ValidateBroker: the defaults of topic settings, the cleaner's
	// settings, num.recovery.threads.per.data.dir, strata.log.open.segments.max.
	Broker map[string]string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock handed to every partition; nil means time.Now.
	Now func() time.Time
	// Transactions lets the partitions take transactional batches from producers
	// (partition.Options.Transactional): set when the broker runs the transaction
	// coordinator that ends their transactions.
	Transactions bool
	// Transport, when set (a cluster node), makes the partitions this broker follows
	// replicate from their leaders (fetcher.go); nil: followers stay as they are.
	Transport Transport
	// Fetch tunes the follower fetchers.
	Fetch FetchOptions
	// OnFlush, if set, is every partition's log.Options.OnFlush: called after each
	// successful flush of a log with the time its fsyncs took (the broker's fsync
	// histogram).
	OnFlush func(time.Duration)
}

// Manager makes the partitions hosted on this broker follow the metadata image: it opens
// them at start, creates, reconfigures and deletes them as the image changes, makes each
// leader (or, in a cluster, follower) with the image's epoch, runs the cleaner over them,
// and answers every handler's "which partition, and am I its leader" (Lookup).
//
// Concurrency: safe for concurrent use. Lookups and Hosted read an immutable snapshot
// (an atomic pointer) and take no lock. Changes arrive from the store's watcher calls,
// one at a time; mu serialises them with OnLeadership and Close. Partitions are opened,
// closed and deleted num.recovery.threads.per.data.dir at a time on goroutines the
// Manager starts and waits for.
type Manager struct {
	store   metadata.Store
	dir     string
	fs      vfs.FS
	log     *slog.Logger
	node    int32
	opts    Options
	broker  config.Resolved
	workers int
	clean   bool // Open found the clean-shutdown marker

	// The replication throttles (throttle.go): as leader and as follower.
	leaderQuota, followerQuota *quota

	segs    *segment.Cache // open sealed segments of every partition (strata.log.open.segments.max)
	flusher *log.Flusher   // the group-commit flusher of the data directory, shared by every partition; closed after them (nil: strata.log.flusher.shared false)
	cleaner *cleaner

	hosted atomic.Pointer[hostedSet]
	ready  chan struct{} // closed once Open has opened the partitions (watch calls wait)
	cancel func()        // stops the store's watcher calls

	// The ISR loop of a cluster node (isr.go): woken by follower fetches, stopped by
	// closing isrStop; isrDone is closed when it returns. nil on a single node.
	isrWake chan struct{}
	isrStop chan struct{}
	isrDone chan struct{}

	mu struct {
		sync.Mutex
		closed     bool
		leadership []LeadershipFunc
		fetchers   map[int32]*fetcher // by source broker (Options.Transport set)
		following  map[tp]int32       // the source broker of each partition followed
	}
}

// LeadershipFunc is told that this broker became (leader) or stopped being (!leader) the
// leader of a partition, with the partition's new leader epoch (-1 when it stopped
// because the partition was deleted).
type LeadershipFunc func(topic string, index, epoch int32, leader bool)

// Open opens every partition the store's image places on this node, in parallel (each
// trusted if the clean-shutdown marker was there, recovered if not, with a progress log
// every 5 s), then follows the store's changes until Close.
func Open(store metadata.Store, opts *Options) (*Manager, error) {
	m := &Manager{store: store, ready: make(chan struct{})}
	if opts != nil {
		m.opts = *opts
	}
	m.opts.Broker = maps.Clone(m.opts.Broker)
	if m.opts.FS == nil {
		m.opts.FS = vfs.Default
	}
	if m.opts.Logger == nil {
		m.opts.Logger = slog.Default()
	}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	m.opts.Fetch.ensureDefaults()
	m.mu.fetchers, m.mu.following = map[int32]*fetcher{}, map[tp]int32{}
	m.dir, m.fs, m.log, m.node = m.opts.Dir, m.opts.FS, m.opts.Logger, m.opts.NodeID
	m.broker = config.ResolveBroker(m.opts.Broker)
	m.segs = segment.NewCache(int(m.broker.Int64("strata.log.open.segments.max")))
	m.workers = int(m.broker.Int64("num.recovery.threads.per.data.dir"))
	qnum, qsize := int(m.broker.Int64("replication.quota.window.num")), time.Duration(m.broker.Int64("replication.quota.window.size.seconds"))*time.Second
	m.leaderQuota, m.followerQuota = newQuota(qnum, qsize), newQuota(qnum, qsize)

	if err := m.fs.MkdirAll(m.dir, 0o755); err != nil {
		return nil, fmt.Errorf("replica: create %s: %w", m.dir, err)
	}
	clean, err := m.takeCleanMarker()
	if err != nil {
		return nil, err
	}
	m.clean = clean
	if m.broker.Bool("strata.log.flusher.shared") {
		m.flusher = log.NewFlusher()
	}
	// Nothing is hosted until openAll's set is published, but the fetchers openAll starts
	// for follower replicas already ask about throttles (throttle.go): they see no topic.
	m.hosted.Store(&hostedSet{})
	// Changes wait for ready: the first one applies on top of the partitions opened here.
	im, cancel := store.Watch(m.apply)
	m.cancel = cancel
	m.setThrottleRates(im)
	hs, err := m.openAll(im, clean)
	if err != nil {
		m.mu.Lock()
		m.mu.closed = true
		m.stopFetchersLocked()
		m.mu.Unlock()
		close(m.ready) // a change waiting (under the store's lock) returns before cancel takes it
		cancel()
		m.closeFlusher() // openAll closed the partitions it opened
		return nil, err
	}
	m.hosted.Store(hs.seal())
	close(m.ready)
	m.startCleaner()
	if m.opts.Transport != nil {
		m.isrWake, m.isrStop, m.isrDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go m.isrLoop(m.isrStop, m.isrDone)
	}
	return m, nil
}

// openAll opens the partitions of im hosted here.
func (m *Manager) openAll(im *metadata.Image, clean bool) (*hostedSet, error) {
	hs := newHostedSet(im)
	type slot struct {
		ht *hostedTopic
		i  int32
	}
	var slots []slot
	for _, t := range im.Topics() {
		ht := hs.put(m.newHostedTopic(t))
		for i, st := range t.Partitions {
			if st.HasReplica(m.node) {
				slots = append(slots, slot{ht, int32(i)})
			}
		}
	}
	if len(slots) > 0 && !clean {
		m.log.Info("no clean-shutdown marker: recovering partitions", "dir", m.dir, "partitions", len(slots))
	}
	start := time.Now()
	var progress struct {
		sync.Mutex
		opened  int
		lastLog time.Time
	}
	progress.lastLog = start
	errs := parallel.ForEach(len(slots), m.workers, func(k int) error {
		s := slots[k]
		p, err := m.openPartition(s.ht.topic, s.i, false, clean)
		if st, _ := s.ht.topic.Partition(s.i); errors.Is(err, errForeignTopic) && !slices.Contains(st.ISR, m.node) {
			// A directory of a deleted topic of the same name, left while this broker
			// was down, where the image places a replica out of the ISR (a reassignment's
			// adding replica): no acknowledged record depends on it (apply.go does the
			// same at run time). In the ISR it stops the open: the metadata and the data
			// directory disagree.
			m.log.Warn("replacing the directory of another topic with a new replica", "err", err)
			if p, err = m.openPartition(s.ht.topic, s.i, true, false); err == nil {
				if err = vfs.SyncDir(m.fs, m.dir); err != nil {
					err = errors.Join(err, p.Close())
				}
			}
		}
		if err != nil {
			return err
		}
		s.ht.parts[s.i] = &replica{p: p} // a slot of its own; published after ForEach returns
		progress.Lock()
		defer progress.Unlock()
		if progress.opened++; time.Since(progress.lastLog) >= 5*time.Second {
			progress.lastLog = time.Now()
			m.log.Info("opening partitions", "opened", progress.opened, "total", len(slots))
		}
		return nil
	})
	if len(errs) > 0 {
		m.closeParts(hs.partitions())
		return nil, parallel.FirstError(errs)
	}
	for _, s := range slots {
		st, _ := s.ht.topic.Partition(s.i)
		if err := m.setRole(s.ht, s.i, st, nil); err != nil {
			m.log.Warn("a partition refused the role the metadata gives it", "err", err)
		}
	}
	if len(slots) > 0 {
		m.log.Info("opened topics", "topics", len(im.Topics()), "partitions", len(slots), "took", time.Since(start).Round(time.Millisecond), "clean", clean)
	}
	return hs, nil
}

// CleanShutdown reports whether Open found the clean-shutdown marker, that is, whether
// the partitions were opened without recovery.
func (m *Manager) CleanShutdown() bool { return m.clean }

// openPartition creates (fresh: removing whatever is in the way) or opens partition i of
// t; clean says that the data directory was shut down cleanly (see cleanShutdownFile).
//
// A fresh partition's files are not fsynced: the topic's metadata, durable before, is
// the commit point, and what a crash takes from a fresh partition is an empty log that the
// next open creates again. The caller fsyncs the data directory once for all the new
// directories, and each log fsyncs its own directory at its first flush, before anything
// appended to it is durable. partition.metadata, a copy of the topic id, is rewritten at
// open when it is missing or cut short.
func (m *Manager) openPartition(t *metadata.Topic, i int32, fresh, clean bool) (*partition.Partition, error) {
	dir := filepath.Join(m.dir, metadata.PartitionDir(t.Name, i))
	mdPath := filepath.Join(dir, metadata.PartitionMetadataFile)
	if fresh {
		if err := m.fs.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("replica: remove stale %s: %w", dir, err)
		}
	}
	if err := m.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("replica: create %s: %w", dir, err)
	}
	if fresh {
		if err := writeFile(m.fs, mdPath, metadata.EncodePartitionMetadata(t.ID)); err != nil {
			return nil, err
		}
	} else if err := m.checkPartitionMetadata(mdPath, t.ID); err != nil {
		return nil, err
	}
	opts := m.partitionOptions(t, i)
	opts.Log.CleanShutdown = clean && !fresh
	p, err := partition.Open(dir, &opts)
	if err != nil {
		return nil, fmt.Errorf("replica: open %s-%d: %w", t.Name, i, err)
	}
	return p, nil
}

// errForeignTopic: a partition directory's partition.metadata names another topic id
// than the image's topic of that name.
var errForeignTopic = errors.New("replica: partition directory of another topic")

// checkPartitionMetadata checks that the partition.metadata at path names topic id, and
// writes it (durably) when it is missing or unreadable: the topic's metadata is the
// source of truth, and a crash while a partition was created can leave the copy empty.
func (m *Manager) checkPartitionMetadata(path string, id metadata.TopicID) error {
	data, err := vfs.ReadSmallFile(m.fs, path, 1<<20)
	switch {
	case err == nil:
		got, perr := metadata.ParsePartitionMetadata(data)
		if perr == nil {
			if got != id {
				return fmt.Errorf("%w: %s: topic id %s, want %s", errForeignTopic, path, got, id)
			}
			return nil
		}
		m.log.Warn("rewriting an unreadable partition.metadata from the topic metadata", "file", path, "err", perr)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("replica: read %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(m.fs, path, metadata.EncodePartitionMetadata(id)); err != nil {
		return err
	}
	return vfs.SyncDir(m.fs, m.dir)
}

// writeFile creates name with data, without fsync.
func writeFile(fsys vfs.FS, name string, data []byte) error {
	f, err := fsys.Create(name)
	if err != nil {
		return fmt.Errorf("replica: create %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("replica: write %s: %w", name, err)
	}
	return nil
}

// closeParts closes parts, m.workers at once.
func (m *Manager) closeParts(parts []*partition.Partition) error {
	return errors.Join(parallel.ForEach(len(parts), m.workers, func(i int) error { return parts[i].Close() })...)
}

// OnLeadership registers fn, which is called at once for every partition this broker
// leads, then whenever it becomes or stops being a partition's leader (a partition
// deleted while led counts as stopping). Calls are made one at a time, in the order of
// the changes, on the goroutine that applies them (the store's command, under its lock):
// fn must be quick and must not call the store's commands or OnLeadership.
func (m *Manager) OnLeadership(fn LeadershipFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.leadership = append(m.mu.leadership, fn)
	for _, r := range m.hosted.Load().leaders() {
		fn(r.topic, r.index, r.epoch, true)
	}
}

// stopISRLoop stops the ISR loop (without mu: its command may wait for the watcher,
// which takes mu) and waits for it; idempotent.
func (m *Manager) stopISRLoop() {
	if m.isrStop == nil {
		return
	}
	m.mu.Lock()
	select {
	case <-m.isrStop:
	default:
		close(m.isrStop)
	}
	m.mu.Unlock()
	<-m.isrDone
}

// closeFlusher stops the shared flusher, once every partition is closed.
func (m *Manager) closeFlusher() {
	if m.flusher != nil {
		m.flusher.Close()
	}
}

// Close stops following the store and the cleaner, then closes every hosted partition
// cleanly and, when all of them did, writes the clean-shutdown marker. Later calls
// return nil; lookups then fail with ErrClosed.
func (m *Manager) Close() error {
	m.cancel() // first, without mu: a change in progress holds the store's lock and waits for mu
	m.stopISRLoop()
	if m.cleaner != nil {
		m.cleaner.close() // before the partitions close: a compaction in progress aborts
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return nil
	}
	m.mu.closed = true
	m.stopFetchersLocked() // before the partitions close: no append in flight
	hs := m.hosted.Load()
	m.hosted.Store(closedSet)
	err := m.closeParts(hs.partitions())
	m.closeFlusher()
	if err != nil {
		m.log.Warn("unclean shutdown: partitions will be recovered at the next open", "err", err)
		return err
	}
	return m.writeCleanMarker()
}
