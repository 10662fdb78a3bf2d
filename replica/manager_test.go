package replica

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
)

func TestManagerCreateDeleteRestart(t *testing.T) {
	fs := vfs.NewMem()
	m := openTestManager(t, fs, map[string]string{"num.partitions": "2", "log.retention.ms": "1000"})
	tp, err := m.CreateTopic("orders", 3, map[string]*string{"retention.bytes": ptr("4096")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Partitions()) != 3 || tp.ID == (metadata.TopicID{}) {
		t.Fatalf("topic %+v", tp)
	}
	if _, err := m.CreateTopic("orders", 1, nil, false); !errors.Is(err, metadata.ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := m.CreateTopic("bad/name", 1, nil, false); !errors.Is(err, metadata.ErrInvalidTopic) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := m.CreateTopic("zero", 0, nil, false); !errors.Is(err, metadata.ErrInvalidPartitions) {
		t.Fatalf("zero partitions: %v", err)
	}
	for _, cfg := range []map[string]*string{{"retention.ms": ptr("x")}, {"nope": ptr("1")}, {"retention.ms": nil}, {"segment.index.bytes": ptr("8")}} {
		if _, err := m.CreateTopic("cfg", 1, cfg, false); !errors.Is(err, metadata.ErrInvalidConfig) {
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
	if err != nil || len(def.Partitions()) != 2 {
		t.Fatalf("default partitions: %v %v", err, def)
	}
	if got := config.ResolveTopic(m.opts.Broker, tp.Configs); got.Int64("retention.bytes") != 4096 || got.Int64("retention.ms") != 1000 || got.Int64("segment.bytes") != 1<<30 {
		t.Fatalf("resolved config %v", got)
	}
	opts := m.partitionOptions(tp.Topic, 1)
	if opts.Log.RetentionBytes != 4096 || opts.Log.RetentionMs.Milliseconds() != 1000 || opts.Index != 1 || opts.TopicID != tp.ID || opts.MaxMessageBytes != 1048588 || opts.LogAppendTime {
		t.Fatalf("partition options %+v", opts)
	}
	if names := topicNames(m); !slices.Equal(names, []string{"def", "orders"}) {
		t.Fatalf("topics %v", names)
	}
	if err := m.AddPartitions("orders", 4, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Topic("orders"); len(got.Partitions()) != 4 {
		t.Fatalf("partitions after adding: %d", len(got.Partitions()))
	}
	if err := m.AddPartitions("orders", 4, false); !errors.Is(err, metadata.ErrInvalidPartitions) {
		t.Fatalf("same count: %v", err)
	}
	if err := m.AlterTopicConfig("orders", []config.Alter{{Name: "cleanup.policy", Op: config.OpAppend, Value: "compact"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTopic("def"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTopic("def"); !errors.Is(err, metadata.ErrUnknownTopic) {
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
		if !ok || tp2.ID != tp.ID || len(tp2.Partitions()) != 4 {
			t.Fatalf("after reopen: %+v", tp2)
		}
		if byID, ok := m2.store.Image().TopicByID(tp.ID); !ok || byID != tp2.Topic {
			t.Fatal("TopicByID after reopen")
		}
		if got := tp2.Configs; got["retention.bytes"] != "4096" || got["cleanup.policy"] != "delete,compact" {
			t.Fatalf("overrides after reopen: %v", got)
		}
		if _, ok := m2.Topic("def"); ok {
			t.Fatal("deleted topic came back")
		}
		closeManager(t, m2)
	}
}

// TestManagerAdoptsOrphans: partition directories whose topic metadata file is lost are
// adopted with their records, not lost.
func TestManagerAdoptsOrphans(t *testing.T) {
	fs := vfs.NewMem()
	m := openTestManager(t, fs, nil)
	tp, err := m.CreateTopic("adopt", 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tp.Partitions() {
		appendDurable(t, p, record(1))
	}
	closeManager(t, m)
	if err := fs.Remove("/data/.topics/adopt.properties"); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, fs, nil)
	defer closeManager(t, m)
	got, ok := m.Topic("adopt")
	if !ok || got.ID != tp.ID || got.NumPartitions() != 2 {
		t.Fatalf("adopted topic: %+v", got)
	}
	checkRecords(t, got, 1)
}

func topicNames(m *node) []string {
	var out []string
	for _, t := range m.store.Image().Topics() {
		out = append(out, t.Name)
	}
	return out
}
