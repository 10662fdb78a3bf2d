package local

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

func ptr(s string) *string { return &s }

func createTopic(t *testing.T, s *Store, name string, n int32) *metadata.Topic {
	t.Helper()
	tp, err := s.CreateTopic(context.Background(), metadata.CreateTopic{Name: name, Partitions: n, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestLocalTopicMetaCodec(t *testing.T) {
	tm := &topicMeta{id: metadata.TopicID{1, 2, 3}, partitions: 7, overrides: map[string]string{"cleanup.policy": "compact,delete", "weird": "a=b\nc\"d"}}
	got, err := decodeTopicMeta(tm.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.id != tm.id || got.partitions != 7 || got.overrides["weird"] != tm.overrides["weird"] || len(got.overrides) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range []string{"", "version=0\n", "version=9\ntopic.id=AQIDAAAAAAAAAAAAAAAAAA\npartitions=1\n", "version=0\ntopic.id=x\npartitions=1\n", "version=0\ntopic.id=AQIDAAAAAAAAAAAAAAAAAA\npartitions=0\n", "junk"} {
		if _, err := decodeTopicMeta([]byte(bad)); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
	// The format of the files written before the metadata seam, byte for byte.
	want := "# Strata topic metadata, written atomically by the broker; do not edit while it runs.\nversion=0\ntopic.id=AQIDAAAAAAAAAAAAAAAAAA\npartitions=7\ndeleted=true\nconfig.a=\"1\"\n"
	if got := (&topicMeta{id: tm.id, partitions: 7, deleted: true, overrides: map[string]string{"a": "1"}}).encode(); string(got) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
}

// TestLocalInterruptedDeleteAndAdoption: a deletion interrupted after its commit point is
// finished at the next open (the partition directories go); partition directories whose
// topic metadata file is lost are adopted, not dropped; temporary files are removed.
func TestLocalInterruptedDeleteAndAdoption(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, metadata.Rules{})
	gone := createTopic(t, s, "gone", 2)
	s.Close()
	mkPartition := func(name string, id metadata.TopicID) {
		t.Helper()
		if err := fs.MkdirAll("/data/"+name, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := vfs.WriteFileAtomic(fs, "/data/"+name+"/"+metadata.PartitionMetadataFile, metadata.EncodePartitionMetadata(id)); err != nil {
			t.Fatal(err)
		}
	}
	mkPartition("gone-1", gone.ID)
	if err := vfs.WriteFileAtomic(fs, "/data/.topics/gone.properties", (&topicMeta{id: gone.ID, partitions: 2, deleted: true}).encode()); err != nil {
		t.Fatal(err)
	}
	orphan := metadata.TopicID{7}
	mkPartition("orphan-0", orphan)
	mkPartition("orphan-2", orphan)
	if err := vfs.WriteFileAtomic(fs, "/data/.topics/x.properties.tmp", []byte("junk")); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, metadata.Rules{})
	defer s.Close()
	if _, ok := s.Image().Topic("gone"); ok {
		t.Fatal("deleted topic came back")
	}
	entries, _ := fs.List("/data")
	if slices.Contains(entries, "gone-1") {
		t.Fatalf("interrupted delete not finished: %v", entries)
	}
	tp, ok := s.Image().Topic("orphan")
	if !ok || tp.ID != orphan || tp.NumPartitions() != 3 {
		t.Fatalf("adopted topic: %+v", tp)
	}
	if files, _ := fs.List("/data/.topics"); !slices.Equal(files, []string{"orphan.properties"}) {
		t.Fatalf("topic metadata files: %v", files)
	}
	// Adopted partitions of one name with different topic ids stop the open.
	s.Close()
	if err := fs.Remove("/data/.topics/orphan.properties"); err != nil {
		t.Fatal(err)
	}
	mkPartition("orphan-1", metadata.TopicID{8})
	if _, err := Open("/data", &Options{FS: fs, NodeID: testNode, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("open with partitions of two ids: %v", err)
	}
}

// TestLocalStoredConfigs: a stored override this version does not accept is dropped at
// open (the topic stays).
func TestLocalStoredConfigs(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, metadata.Rules{})
	tp, err := s.CreateTopic(context.Background(), metadata.CreateTopic{Name: "t", Partitions: 1, ReplicationFactor: -1,
		Configs: map[string]*string{"retention.ms": ptr("5000")}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	bad := &topicMeta{id: tp.ID, partitions: 1, overrides: map[string]string{"retention.ms": "5000", "no.such.setting": "1", "segment.bytes": "x"}}
	if err := vfs.WriteFileAtomic(fs, "/data/.topics/t.properties", bad.encode()); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, metadata.Rules{})
	defer s.Close()
	got, _ := s.Image().Topic("t")
	if len(got.Configs) != 1 || got.Configs["retention.ms"] != "5000" {
		t.Fatalf("configs %v", got.Configs)
	}
}

// TestLocalMetaProperties: a new data directory gets meta.properties with a cluster id
// that survives restarts; another node id, a bad version or no cluster id stop the open;
// a second store on the same directory fails on the lock.
func TestLocalMetaProperties(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, metadata.Rules{})
	if !s.Created() {
		t.Fatal("new data directory not reported as created")
	}
	cluster := s.Image().ClusterID()
	if _, err := Open("/data", &Options{FS: fs, NodeID: testNode}); err == nil || !strings.Contains(err.Error(), "in use by another broker") {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	s = openStore(t, fs, metadata.Rules{})
	if s.Created() || s.Image().ClusterID() != cluster {
		t.Fatalf("reopen: created %v, cluster %q, was %q", s.Created(), s.Image().ClusterID(), cluster)
	}
	s.Close()
	if _, err := Open("/data", &Options{FS: fs, NodeID: 2}); err == nil || !strings.Contains(err.Error(), "does not match configured node.id 2") {
		t.Fatalf("other node id: %v", err)
	}
	for _, content := range []string{"version=2\nnode.id=1\ncluster.id=x\n", "version=1\nnode.id=1\n"} {
		if err := vfs.WriteFileAtomic(fs, "/data/meta.properties", []byte(content)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open("/data", &Options{FS: fs, NodeID: testNode}); err == nil {
			t.Fatalf("opened with meta.properties %q", content)
		}
	}
}

// TestLocalProducerIDsFile: the producer-ids file holds the end of the last block, in the
// format written before the metadata seam; a file from then is honoured.
func TestLocalProducerIDsFile(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFileAtomic(fs, "/data/producer-ids", []byte("5000\n")); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, fs, metadata.Rules{})
	defer s.Close()
	b, err := s.AllocateProducerIDs(context.Background(), metadata.AllocateProducerIDs{Broker: testNode, Above: -1})
	if err != nil || b.Start != 5000 || b.End() != 6000 {
		t.Fatalf("block %+v: %v", b, err)
	}
	if data, _ := vfs.ReadSmallFile(fs, "/data/producer-ids", 100); string(data) != "6000\n" {
		t.Fatalf("producer-ids holds %q", data)
	}
	if _, err := s.AllocateProducerIDs(context.Background(), metadata.AllocateProducerIDs{Broker: testNode + 1}); !errors.Is(err, metadata.ErrInvalidBroker) {
		t.Fatalf("another broker: %v", err)
	}
	if err := s.RegisterBroker(context.Background(), metadata.Broker{ID: testNode + 1}); !errors.Is(err, metadata.ErrInvalidBroker) {
		t.Fatalf("register another broker: %v", err)
	}
}

// TestLocalWatcherFailure: when a watcher fails to follow a new topic (its partitions
// cannot be created), CreateTopic returns the error and the topic is deleted again, files
// included; a failure to follow new partitions or configs is returned and the change
// stays.
func TestLocalWatcherFailure(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, metadata.Rules{})
	defer s.Close()
	boom := errors.New("boom")
	var deleted []string
	_, cancel := s.Watch(func(d *metadata.Delta) error {
		for _, tp := range d.Deleted {
			deleted = append(deleted, tp.Name)
		}
		if len(d.Created) > 0 || len(d.Changed) > 0 {
			return boom
		}
		return nil
	})
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, metadata.CreateTopic{Name: "t", Partitions: 2, ReplicationFactor: -1}); !errors.Is(err, boom) {
		t.Fatalf("create: %v", err)
	}
	if _, ok := s.Image().Topic("t"); ok || !slices.Equal(deleted, []string{"t"}) {
		t.Fatalf("topic left after a failed creation (deleted %v)", deleted)
	}
	if files, _ := fs.List("/data/.topics"); len(files) != 0 {
		t.Fatalf("topic files left: %v", files)
	}
	cancel()
	createTopic(t, s, "u", 1)
	_, cancel = s.Watch(func(d *metadata.Delta) error { return boom })
	defer cancel()
	if err := s.CreatePartitions(ctx, metadata.CreatePartitions{Topic: "u", Total: 2}); !errors.Is(err, boom) {
		t.Fatalf("create partitions: %v", err)
	}
	if tp, _ := s.Image().Topic("u"); tp.NumPartitions() != 2 {
		t.Fatalf("partitions after a failed watcher: %d", tp.NumPartitions())
	}
}

// TestLocalMetaPropertiesCheck: meta.properties written for a cluster node reads back as
// written; a node of another id or another cluster is refused with both ids named.
func TestLocalMetaPropertiesCheck(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ReadMetaProperties(fs, "/data"); ok || err != nil {
		t.Fatalf("empty directory: ok %v, err %v", ok, err)
	}
	want := MetaProperties{NodeID: 3, ClusterID: "c-one"}
	if err := WriteMetaProperties(fs, "/data", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadMetaProperties(fs, "/data")
	if !ok || err != nil || got != want {
		t.Fatalf("read %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if err := got.Check("/data/meta.properties", 3, "c-one"); err != nil {
		t.Fatalf("same node and cluster: %v", err)
	}
	if err := got.Check("/data/meta.properties", 3, ""); err != nil {
		t.Fatalf("same node, cluster not known yet: %v", err)
	}
	for _, tc := range []struct {
		node    int32
		cluster string
		names   []string
	}{
		{4, "c-one", []string{"node.id 3", "node.id 4"}},
		{3, "c-two", []string{"cluster c-one", "cluster c-two"}},
	} {
		err := got.Check("/data/meta.properties", tc.node, tc.cluster)
		for _, n := range tc.names {
			if err == nil || !strings.Contains(err.Error(), n) {
				t.Errorf("Check(%d, %q) = %v, want it to name %q", tc.node, tc.cluster, err, n)
			}
		}
	}
	if err := vfs.WriteFileAtomic(fs, "/data/meta.properties", []byte("version=1\nnode.id=x\ncluster.id=c\n")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadMetaProperties(fs, "/data"); err == nil {
		t.Fatal("read a meta.properties with a bad node.id")
	}
}
