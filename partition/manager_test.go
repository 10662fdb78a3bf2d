package partition

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
)

func ptr(s string) *string { return &s }

// openTestManager opens a Manager on fs at /data with the real partition Open.
func openTestManager(t *testing.T, fs vfs.FS, broker map[string]string) *Manager {
	t.Helper()
	m, err := OpenManager("/data", &ManagerOptions{
		FS:     fs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Broker: broker,
	})
	if err != nil {
		t.Fatalf("open manager: %v", err)
	}
	return m
}

func closeManager(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatalf("close manager: %v", err)
	}
}

func TestManagerTopicNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"orders", true}, {"a.b_c-D9", true}, {strings.Repeat("x", 249), true},
		{"", false}, {".", false}, {"..", false}, {strings.Repeat("x", 250), false},
		{"a/b", false}, {"a b", false}, {"ü", false}, {"a:b", false},
	} {
		err := ValidateTopicName(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidTopicName)) {
			t.Errorf("ValidateTopicName(%q) = %v", tc.name, err)
		}
	}
}

func TestManagerCreateDeleteRestart(t *testing.T) {
	fs := vfs.NewMem()
	m := openTestManager(t, fs, map[string]string{"num.partitions": "2", "log.retention.ms": "1000"})
	tp, err := m.CreateTopic("orders", 3, map[string]*string{"retention.bytes": ptr("4096")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if tp.NumPartitions() != 3 || tp.ID == ([16]byte{}) {
		t.Fatalf("topic %+v", tp)
	}
	if _, err := m.CreateTopic("orders", 1, nil, false); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := m.CreateTopic("bad/name", 1, nil, false); !errors.Is(err, ErrInvalidTopicName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := m.CreateTopic("zero", 0, nil, false); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("zero partitions: %v", err)
	}
	for _, cfg := range []map[string]*string{{"retention.ms": ptr("x")}, {"nope": ptr("1")}, {"retention.ms": nil}} {
		if _, err := m.CreateTopic("cfg", 1, cfg, false); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("config %v: %v", cfg, err)
		}
	}
	vo, err := m.CreateTopic("dry", 5, nil, true)
	if err != nil || vo.Name != "dry" {
		t.Fatalf("validate only: %v", err)
	}
	if _, ok := m.Topic("dry"); ok {
		t.Fatal("validate-only created the topic")
	}
	def, err := m.CreateTopic("def", -1, nil, false)
	if err != nil || def.NumPartitions() != 2 {
		t.Fatalf("default partitions: %v %v", err, def)
	}
	if got := tp.Config(); got.Int64("retention.bytes") != 4096 || got.Int64("retention.ms") != 1000 || got.Int64("segment.bytes") != 1<<30 {
		t.Fatalf("resolved config %v", got)
	}
	opts := m.partitionOptions("orders", tp.ID, 1, tp.Overrides())
	if opts.Log.RetentionBytes != 4096 || opts.Log.RetentionMs.Milliseconds() != 1000 || opts.Index != 1 || opts.TopicID != tp.ID || opts.MaxMessageBytes != 1048588 || opts.LogAppendTime {
		t.Fatalf("partition options %+v", opts)
	}
	if names := topicNames(m); !slices.Equal(names, []string{"def", "orders"}) {
		t.Fatalf("topics %v", names)
	}
	if err := m.AddPartitions("orders", 4, false); err != nil {
		t.Fatal(err)
	}
	if err := m.AddPartitions("orders", 4, false); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("same count: %v", err)
	}
	if err := m.AlterTopicConfig("orders", []config.Alter{{Name: "cleanup.policy", Op: config.OpAppend, Value: "compact"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTopic("def"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTopic("def"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("delete twice: %v", err)
	}
	entries, _ := fs.List("/data")
	for _, e := range entries {
		if strings.HasPrefix(e, "def-") {
			t.Fatalf("files of deleted topic left: %v", entries)
		}
	}

	// Crash (only synced data survives) and reopen: everything acknowledged is there.
	crashed := fs.CrashClone()
	closeManager(t, m)
	for _, f := range []*vfs.MemFS{fs, crashed} {
		m2 := openTestManager(t, f, map[string]string{"log.retention.ms": "1000"})
		tp2, ok := m2.Topic("orders")
		if !ok || tp2.ID != tp.ID || tp2.NumPartitions() != 4 {
			t.Fatalf("after reopen: %+v", tp2)
		}
		if byID, ok := m2.TopicByID(tp.ID); !ok || byID != tp2 {
			t.Fatal("TopicByID after reopen")
		}
		if got := tp2.Overrides(); got["retention.bytes"] != "4096" || got["cleanup.policy"] != "delete,compact" {
			t.Fatalf("overrides after reopen: %v", got)
		}
		if _, ok := m2.Topic("def"); ok {
			t.Fatal("deleted topic came back")
		}
		closeManager(t, m2)
	}
}

func TestManagerAutoCreate(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), map[string]string{"num.partitions": "3"})
	defer closeManager(t, m)
	tp, err := m.AutoCreate("auto")
	if err != nil || tp.NumPartitions() != 3 {
		t.Fatalf("auto create: %v", err)
	}
	again, err := m.AutoCreate("auto")
	if err != nil || again != tp {
		t.Fatalf("auto create existing: %v", err)
	}
	off := openTestManager(t, vfs.NewMem(), map[string]string{"auto.create.topics.enable": "false"})
	defer closeManager(t, off)
	if _, err := off.AutoCreate("auto"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("disabled: %v", err)
	}
}

func TestManagerInterruptedDelete(t *testing.T) {
	fs := vfs.NewMem()
	m := openTestManager(t, fs, nil)
	tp, err := m.CreateTopic("gone", 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	closeManager(t, m)
	// A delete interrupted after the commit point, one directory already removed.
	if err := m.writeMeta("gone", &topicMeta{id: tp.ID, partitions: 2, deleted: true}); err != nil {
		t.Fatal(err)
	}
	if err := fs.RemoveAll("/data/gone-0"); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, fs, nil)
	if _, ok := m.Topic("gone"); ok {
		t.Fatal("deleted topic came back")
	}
	if entries, _ := fs.List("/data"); slices.Contains(entries, "gone-1") {
		t.Fatalf("interrupted delete not finished: %v", entries)
	}
	tp, err = m.CreateTopic("adopt", 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	closeManager(t, m)
	// Partition directories whose topic metadata file is lost are adopted, not lost.
	if err := fs.Remove("/data/.topics/adopt.properties"); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, fs, nil)
	defer closeManager(t, m)
	got, ok := m.Topic("adopt")
	if !ok || got.ID != tp.ID || got.NumPartitions() != 2 {
		t.Fatalf("adopted topic: %+v", got)
	}
}

func TestManagerTopicMetaCodec(t *testing.T) {
	tm := &topicMeta{id: [16]byte{1, 2, 3}, partitions: 7, overrides: map[string]string{"cleanup.policy": "compact,delete", "weird": "a=b\nc\"d"}}
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
	id, err := parsePartitionMetadata(partitionMetadata(tm.id))
	if err != nil || id != tm.id {
		t.Fatalf("partition.metadata round trip: %v", err)
	}
	if !strings.Contains(string(partitionMetadata(tm.id)), "topic_id: "+FormatTopicID(tm.id)) {
		t.Fatal("partition.metadata format")
	}
}

func topicNames(m *Manager) []string {
	var out []string
	for _, t := range m.Topics() {
		out = append(out, t.Name)
	}
	return out
}
