package replica

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/local"
	"github.com/stratalog/strata/partition"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testNode = 0

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ptr(s string) *string { return &s }

// node is a single-node broker's storage for tests: the local metadata store and the
// replica Manager on one data directory, with the admin calls the server makes.
type node struct {
	*Manager
	store *local.Store
}

// openNode opens the store and the Manager on fs at /data; now (nil: time.Now) is the
// partitions' clock.
func openNode(fs vfs.FS, broker map[string]string, now func() time.Time) (*node, error) {
	return openNodeIn(fs, "/data", broker, now)
}

// openNodeDir opens a node on the real file system in dir.
func openNodeDir(dir string) (*node, error) { return openNodeIn(vfs.Default, dir, nil, nil) }

func openNodeIn(fs vfs.FS, dir string, broker map[string]string, now func() time.Time) (*node, error) {
	store, err := local.Open(dir, &local.Options{FS: fs, NodeID: testNode, Logger: quietLogger(),
		Rules: metadata.Rules{Broker: broker, ValidateConfigs: ValidateTopicConfig(broker)}})
	if err != nil {
		return nil, err
	}
	m, err := Open(store, &Options{Dir: dir, FS: fs, NodeID: testNode, Broker: broker, Logger: quietLogger(), Now: now})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &node{Manager: m, store: store}, nil
}

// openTestManager opens a node on fs at /data, failing the test on error.
func openTestManager(t testing.TB, fs vfs.FS, broker map[string]string) *node {
	t.Helper()
	n, err := openNode(fs, broker, nil)
	if err != nil {
		t.Fatalf("open manager: %v", err)
	}
	return n
}

// Close closes the Manager, then the store.
func (n *node) Close() error {
	return errors.Join(n.Manager.Close(), n.store.Close())
}

func closeManager(t testing.TB, n *node) {
	t.Helper()
	if err := n.Close(); err != nil {
		t.Fatalf("close manager: %v", err)
	}
}

// testTopic is a topic of the image with its hosted partitions.
type testTopic struct {
	*metadata.Topic
	n *node
}

func (tt *testTopic) Partition(i int32) (*partition.Partition, bool) {
	p, err := tt.n.Lookup(tt.Name, i, -1)
	return p, err == nil
}

func (tt *testTopic) Partitions() []*partition.Partition {
	var out []*partition.Partition
	for i := range tt.NumPartitions() {
		if p, ok := tt.Partition(i); ok {
			out = append(out, p)
		}
	}
	return out
}

func (n *node) Topic(name string) (*testTopic, bool) {
	t, ok := n.store.Image().Topic(name)
	if !ok {
		return nil, false
	}
	return &testTopic{t, n}, true
}

func (n *node) CreateTopic(name string, partitions int32, configs map[string]*string, validateOnly bool) (*testTopic, error) {
	t, err := n.store.CreateTopic(context.Background(), metadata.CreateTopic{Name: name, Partitions: partitions,
		ReplicationFactor: -1, Configs: configs, ValidateOnly: validateOnly})
	if err != nil {
		return nil, err
	}
	return &testTopic{t, n}, nil
}

func (n *node) DeleteTopic(name string) error {
	t, ok := n.store.Image().Topic(name)
	if !ok {
		return metadata.ErrUnknownTopic
	}
	return n.store.DeleteTopic(context.Background(), t.ID)
}

func (n *node) AddPartitions(name string, total int32, validateOnly bool) error {
	return n.store.CreatePartitions(context.Background(), metadata.CreatePartitions{Topic: name, Total: total, ValidateOnly: validateOnly})
}

func (n *node) AlterTopicConfig(name string, alters []config.Alter, validateOnly bool) error {
	return n.store.AlterTopicConfigs(context.Background(), metadata.AlterTopicConfigs{Topic: name, Alters: alters, ValidateOnly: validateOnly})
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func appendDurable(t *testing.T, p *partition.Partition, b []byte) {
	t.Helper()
	res, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitDurable(t.Context(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes (no timing asserts:
// the deadline only bounds a hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
