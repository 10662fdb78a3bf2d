package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/server/servertest"
)

// TestGroupIntegrationOffsetsCompactedRestart: __consumer_offsets is compacted by the
// background cleaner, and a broker restarted on the compacted log still knows every
// group's latest committed offsets and forgets deleted groups.
func TestGroupIntegrationOffsetsCompactedRestart(t *testing.T) {
	dir := t.TempDir()
	settings := map[string]string{
		"offsets.topic.num.partitions":    "1",
		"log.segment.bytes":               "4096",
		"log.retention.check.interval.ms": "50",
	}
	s := servertest.StartBroker(t, dir, settings)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := newAdmin(t, s.Addr().String())
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "ct"); err != nil {
		t.Fatal(err)
	}
	const commits = 300
	for i := 1; i <= commits; i++ {
		for _, g := range []string{"gkeep", "gdel"} {
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: "ct", Partition: 0, At: int64(i), LeaderEpoch: -1, Metadata: "m"})
			os.Add(kadm.Offset{Topic: "ct", Partition: 1, At: int64(2 * i), LeaderEpoch: -1})
			resp, err := adm.CommitOffsets(ctx, g, os)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("commit %d for %s: %v", i, g, err)
			}
		}
	}
	if _, err := adm.DeleteGroups(ctx, "gdel"); err != nil {
		t.Fatal(err)
	}

	// 600 commit batches of two records (well over 100 bytes each, so over 60 kB) were
	// written; once compacted, the closed segments hold one record per live key and the
	// log shrinks to a few kB. The cleaner may already be at work, so the bound is fixed
	// rather than relative to a measurement.
	offsetsSize := func() int64 {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.Topic == "__consumer_offsets" {
					size += p.Size
				}
			})
		})
		return size
	}
	const compacted = 20000
	waitFor(t, "compaction of __consumer_offsets", 30*time.Second, func() bool { return offsetsSize() < compacted })
	t.Logf("__consumer_offsets: %d bytes after compaction", offsetsSize())

	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := s.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.StartBroker(t, dir, settings)
	adm = newAdmin(t, s2.Addr().String())
	offs, err := adm.FetchOffsets(ctx, "gkeep")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: commits, 1: 2 * commits} {
		o, ok := offs.Lookup("ct", p)
		if !ok || o.At != want || o.Err != nil {
			t.Fatalf("gkeep partition %d after restart: %+v (found %v), want offset %d", p, o, ok, want)
		}
	}
	if o, _ := offs.Lookup("ct", 0); o.Metadata != "m" {
		t.Fatalf("metadata after restart: %q", o.Metadata)
	}
	deleted, err := adm.FetchOffsets(ctx, "gdel")
	if err != nil {
		t.Fatal(err)
	}
	deleted.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			t.Errorf("deleted group still has offset %+v after compaction and restart", o)
		}
	})
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
