package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/partition"
)

// Files of the data directory besides topics and partitions (docs/storage.md; the
// partition Manager keeps the clean-shutdown marker).
const (
	lockFile         = ".lock"
	metaPropsFile    = "meta.properties"
	metaPropsVersion = "1"
)

// serverData is the broker's data directory state, set by openData and read-only after
// it (closeData excepted).
type serverData struct {
	fs        vfs.FS
	dir       string
	lock      io.Closer
	parts     *partition.Manager
	clusterID string
	// broker holds the effective broker settings (Settings plus the values of Options
	// fields, and defaults) by Kafka name; read group.* and other settings from here.
	broker config.Resolved

	// pids allocates producer ids (22_init_producer_id.go).
	pids *producerIDs
	// groups is the consumer-group coordinator (groups.go).
	groups *group.Coordinator

	closeOnce sync.Once
	closeErr  error
}

// openData opens the data directory: lock, meta.properties, broker settings, topics.
func (s *Server) openData() (err error) {
	d := &s.data
	d.fs, d.dir = s.opts.FS, s.opts.DataDir
	if err := config.ValidateBroker(s.opts.Settings); err != nil {
		return fmt.Errorf("server: invalid broker settings: %w", err)
	}
	for _, ig := range config.IgnoredBroker(s.opts.Settings) {
		s.log.Warn(ig.String(), "setting", ig.Name)
	}
	d.broker = config.ResolveBroker(s.staticSettings())

	if err := d.fs.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("server: create data directory: %w", err)
	}
	lock, err := d.fs.Lock(filepath.Join(d.dir, lockFile))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return fmt.Errorf("server: data directory %s is in use by another broker: %w", d.dir, err)
		}
		return fmt.Errorf("server: lock data directory %s: %w", d.dir, err)
	}
	d.lock = lock
	defer func() {
		if err != nil {
			if d.groups != nil {
				d.groups.Close()
			}
			if d.parts != nil {
				d.parts.Close()
			}
			lock.Close()
		}
	}()
	created, err := s.loadMetaProperties()
	if err != nil {
		return err
	}
	if created {
		s.log.Info("created data directory", "dir", d.dir)
	}
	d.parts, err = partition.OpenManager(d.dir, &partition.ManagerOptions{
		FS:     d.fs,
		Logger: s.log,
		Broker: s.opts.Settings,
	})
	if err != nil {
		return fmt.Errorf("server: open topics: %w", err)
	}
	if d.pids, err = openProducerIDs(d.fs, d.dir, d.parts); err != nil {
		return err
	}
	if d.groups, err = s.openGroups(); err != nil {
		return fmt.Errorf("server: open group coordinator: %w", err)
	}
	s.log.Info("data directory open", "dir", d.dir, "cluster.id", d.clusterID, "node.id", s.opts.NodeID,
		"topics", len(d.parts.Topics()), "clean", created || d.parts.CleanShutdown())
	return nil
}

// staticSettings returns the broker settings explicitly set: Settings plus the Options
// fields that differ from their defaults (DescribeConfigs reports them as
// STATIC_BROKER_CONFIG).
func (s *Server) staticSettings() map[string]string {
	out := maps.Clone(s.opts.Settings)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range s.optionSettings() {
		if st, ok := config.Lookup(k); !ok || st.Default != v {
			out[k] = v
		}
	}
	return out
}

// optionSettings returns the settings carried by Options fields, by Kafka name.
func (s *Server) optionSettings() map[string]string {
	listeners, adv, protocols := s.listenerSettings()
	return map[string]string{
		"listeners":                listeners,
		"advertised.listeners":     adv,
		protocolMapSetting:         protocols,
		"log.dirs":                 s.opts.DataDir,
		"node.id":                  strconv.Itoa(int(s.opts.NodeID)),
		"socket.request.max.bytes": strconv.Itoa(int(s.opts.MaxRequestBytes)),
		"max.connections":          strconv.Itoa(s.opts.MaxConnections),
		"connections.max.idle.ms":  strconv.FormatInt(s.opts.IdleTimeout.Milliseconds(), 10),
	}
}

// closeData closes every hook and partition (the partition Manager writes the
// clean-shutdown marker if all closed cleanly) and releases the lock. It is idempotent.
func (s *Server) closeData() error {
	d := &s.data
	d.closeOnce.Do(func() {
		if d.lock == nil {
			return
		}
		var errs []error
		if d.groups != nil {
			if err := d.groups.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close group coordinator: %w", err))
			}
		}
		if d.parts != nil {
			if err := d.parts.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close topics: %w", err))
			}
		}
		if len(errs) > 0 {
			s.log.Warn("closing the data directory failed", "err", errors.Join(errs...))
		}
		if err := d.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: unlock data directory: %w", err))
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// loadMetaProperties reads meta.properties, checking node.id, or creates it with a new
// cluster id.
//
// It reports created when the file did not exist, that is, when the data directory is new.
func (s *Server) loadMetaProperties() (created bool, err error) {
	d := &s.data
	path := filepath.Join(d.dir, metaPropsFile)
	data, err := vfs.ReadSmallFile(d.fs, path, 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return false, fmt.Errorf("server: cluster id: %w", err)
		}
		d.clusterID = base64.RawURLEncoding.EncodeToString(id[:])
		content := fmt.Sprintf("#\n# Written by Strata when the data directory was created; do not edit.\nversion=%s\nnode.id=%d\ncluster.id=%s\n",
			metaPropsVersion, s.opts.NodeID, d.clusterID)
		return true, vfs.WriteFileAtomic(d.fs, path, []byte(content))
	}
	if err != nil {
		return false, fmt.Errorf("server: read %s: %w", path, err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if v := props["version"]; v != metaPropsVersion {
		return false, fmt.Errorf("server: %s: unsupported version %q", path, v)
	}
	if props["cluster.id"] == "" {
		return false, fmt.Errorf("server: %s: no cluster.id", path)
	}
	if v := props["node.id"]; v != strconv.Itoa(int(s.opts.NodeID)) {
		return false, fmt.Errorf("server: %s: stored node.id %s does not match configured node.id %d", path, v, s.opts.NodeID)
	}
	d.clusterID = props["cluster.id"]
	return false, nil
}
