package local

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratalog/strata/internal/vfs"
)

// Files of the data directory that the store owns besides the topic metadata
// (docs/storage.md, "Topic metadata").
const (
	lockFile         = ".lock"
	metaPropsFile    = "meta.properties"
	metaPropsVersion = "1"
)

// LockDataDir takes the data directory's exclusive lock (<dir>/.lock; dir must exist): a
// second broker on the same directory fails. Open takes it; a broker whose metadata is
// elsewhere (a cluster node) takes it with this.
func LockDataDir(fsys vfs.FS, dir string) (io.Closer, error) {
	lock, err := fsys.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("local: data directory %s is in use by another broker: %w", dir, err)
		}
		return nil, fmt.Errorf("local: lock data directory %s: %w", dir, err)
	}
	return lock, nil
}

// MetaProperties is the content of a data directory's meta.properties (Kafka's file of
// the same name): the node and the cluster the directory belongs to.
type MetaProperties struct {
	NodeID    int32
	ClusterID string
}

// Check returns an error naming both ids when the directory (at path) belongs to another
// node, or to another cluster; an empty clusterID checks the node alone.
func (mp MetaProperties) Check(path string, nodeID int32, clusterID string) error {
	if mp.NodeID != nodeID {
		return fmt.Errorf("local: %s: stored node.id %d does not match configured node.id %d", path, mp.NodeID, nodeID)
	}
	if clusterID != "" && mp.ClusterID != clusterID {
		return fmt.Errorf("local: %s: the data directory belongs to cluster %s, not to this node's cluster %s", path, mp.ClusterID, clusterID)
	}
	return nil
}

// ReadMetaProperties reads dir's meta.properties; ok is false when there is none.
func ReadMetaProperties(fsys vfs.FS, dir string) (mp MetaProperties, ok bool, err error) {
	path := filepath.Join(dir, metaPropsFile)
	data, err := vfs.ReadSmallFile(fsys, path, 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return mp, false, nil
	}
	if err != nil {
		return mp, false, fmt.Errorf("local: read %s: %w", path, err)
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
		return mp, false, fmt.Errorf("local: %s: unsupported version %q", path, v)
	}
	if mp.ClusterID = props["cluster.id"]; mp.ClusterID == "" {
		return mp, false, fmt.Errorf("local: %s: no cluster.id", path)
	}
	n, err := strconv.ParseInt(props["node.id"], 10, 32)
	if err != nil {
		return mp, false, fmt.Errorf("local: %s: bad node.id %q", path, props["node.id"])
	}
	mp.NodeID = int32(n)
	return mp, true, nil
}

// WriteMetaProperties writes dir's meta.properties (atomically).
func WriteMetaProperties(fsys vfs.FS, dir string, mp MetaProperties) error {
	content := fmt.Sprintf("#\n# Written by Strata when the data directory was created; do not edit.\nversion=%s\nnode.id=%d\ncluster.id=%s\n",
		metaPropsVersion, mp.NodeID, mp.ClusterID)
	return vfs.WriteFileAtomic(fsys, filepath.Join(dir, metaPropsFile), []byte(content))
}

// loadMetaProperties reads meta.properties, checking node.id, or creates it with a new
// cluster id. created reports that the file did not exist: the data directory is new.
func loadMetaProperties(fsys vfs.FS, dir string, nodeID int32) (clusterID string, created bool, err error) {
	mp, ok, err := ReadMetaProperties(fsys, dir)
	if err != nil {
		return "", false, err
	}
	if ok {
		return mp.ClusterID, false, mp.Check(filepath.Join(dir, metaPropsFile), nodeID, "")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", false, fmt.Errorf("local: cluster id: %w", err)
	}
	mp = MetaProperties{NodeID: nodeID, ClusterID: base64.RawURLEncoding.EncodeToString(id[:])}
	return mp.ClusterID, true, WriteMetaProperties(fsys, dir, mp)
}
