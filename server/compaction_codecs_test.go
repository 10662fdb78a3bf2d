package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/server/servertest"
)

// compactedSettings make the broker's cleaner visit every partition every 50 ms.
var compactedSettings = map[string]string{"log.retention.check.interval.ms": "50", "log.cleaner.backoff.ms": "50"}

// rawHeaders fetches partition 0 of topic from offset 0 to its high watermark with raw
// Fetch requests and returns the header of every stored batch, checking each batch.
func rawHeaders(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) []batch.Header {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var hs []batch.Header
	for off := int64(0); ; {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = 0, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, td[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.LogStartOffset, rp.CurrentLeaderEpoch = off, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			t.Fatal(err)
		}
		if off >= p.HighWatermark {
			return hs
		}
		b := p.RecordBatches
		if len(b) == 0 {
			t.Fatalf("fetch at %d below the high watermark %d returned nothing", off, p.HighWatermark)
		}
		for len(b) > 0 {
			n, err := batch.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := records.Decode(b[:n]); err != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			h, _ := batch.ParseHeader(b)
			hs = append(hs, h)
			off = h.LastOffset() + 1
			b = b[n:]
		}
	}
}

// topicSize is the bytes of topic's partitions on disk (DescribeLogDirs).
func topicSize(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) int64 {
	t.Helper()
	dirs, err := kadm.NewClient(cl).DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				n += p.Size
			}
		})
	})
	return n
}

// consumeToEnd reads partition 0 of topic with a kgo consumer from the start to the
// high watermark and returns the latest value of each key; any fetch error fails.
func consumeToEnd(t *testing.T, ctx context.Context, addr, topic string) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	got := map[string]string{}
	next := int64(0)
	for next < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("kgo consume %s at %d: %v", topic, next, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[string(r.Key)] = string(r.Value)
			next = r.Offset + 1
		})
		if ctx.Err() != nil {
			t.Fatalf("kgo consume %s: stuck at %d, end %d", topic, next, end.Offset)
		}
	}
	return got
}

// kcatLatest consumes topic with kcat from the beginning to the end and returns the
// latest value of each key.
func kcatLatest(t *testing.T, ctx context.Context, kcat, addr, topic string) map[string]string {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-t", topic, "-C", "-K:", "-o", "beginning", "-e", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat consume %s: %v\n%s", topic, err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("kcat line %q", line)
		}
		got[k] = v
	}
	return got
}

func sameLatest(t *testing.T, who string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", who, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: key %s = %q, want %q", who, k, got[k], v)
		}
	}
}

// TestKgoKcatCompactedIdempotentCodecs: idempotent kgo producers write compacted topics
// with every codec, one of them wholly superseded by the other (so compaction keeps its
// last batch, emptied, for producer state) and most batches wholly superseded; once the
// cleaner has compacted them, kgo and kcat read every topic back to the end with the
// latest value of every key, and every batch served without records is header-only with
// codec none (before, a snappy one carried a bare xerial header that kgo refused with
// "s2: corrupt input" and failed the whole fetch).
func TestKgoKcatCompactedIdempotentCodecs(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	s := servertest.StartBroker(t, "", compactedSettings)
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, c := range kgoCodecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "compacted-idem-" + c.name
			adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
			if err != nil {
				t.Fatal(err)
			}
			defer adm.Close()
			createTopicCfg(t, ctx, adm, topic, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact"),
				"segment.bytes": kmsg.StringPtr("2048"), "min.cleanable.dirty.ratio": kmsg.StringPtr("0.01")})
			want := map[string]string{}
			produce := func(keys, rounds int) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(0))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				for r := range rounds {
					var rs []*kgo.Record
					for k := range keys {
						key, value := fmt.Sprintf("key-%02d", k), fmt.Sprintf("round-%03d-%s", r, strings.Repeat("v", 20+k))
						rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)})
						want[key] = value
					}
					if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
						t.Fatalf("produce: %v", err)
					}
				}
			}
			produce(20, 2)  // a first producer, wholly superseded by the second
			produce(20, 60) // one batch per round, most wholly superseded
			// Wait until the cleaner has compacted the ~70 kB produced to the live keys
			// (about 1 kB), the batches it emptied and the active segment (< 2 kB).
			waitFor(t, "compaction of "+topic, 60*time.Second, func() bool { return topicSize(t, ctx, adm, topic) < 8<<10 })
			for _, h := range rawHeaders(t, ctx, adm, topic) {
				if h.RecordCount == 0 && (h.Codec() != batch.CodecNone || h.Size() != batch.HeaderSize) {
					t.Fatalf("empty batch %d: codec %d, %d bytes; want header-only, codec none", h.BaseOffset, h.Codec(), h.Size())
				}
				if h.RecordCount > 0 && h.Codec() != c.bits && h.Codec() != batch.CodecNone { // kgo sends a batch raw when compressing does not shrink it
					t.Fatalf("batch %d: codec %d, produced with %d", h.BaseOffset, h.Codec(), c.bits)
				}
			}
			sameLatest(t, "kgo", consumeToEnd(t, ctx, addr, topic), want)
			sameLatest(t, "kcat", kcatLatest(t, ctx, kcat, addr, topic), want)
		})
	}
}

// TestKgoKcatReadRepairedEmptyBatch plants, in a closed segment of a compacted topic, the
// empty snappy batch earlier versions of compaction wrote (a bare xerial header), as if
// it were on disk from before the upgrade: kgo and kcat read the topic to its end (the
// broker serves the batch header-only, codec none), and the read makes the cleaner
// rewrite it on disk (the partition shrinks by the 16 bytes of the xerial header).
func TestKgoKcatReadRepairedEmptyBatch(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const topic = "repair"
	want := map[string]string{}
	s := servertest.StartBroker(t, dir, compactedSettings)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	if err != nil {
		t.Fatal(err)
	}
	createTopicCfg(t, ctx, cl, topic, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")})
	for i := range 10 {
		key, value := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[key] = value
	}
	cl.Close()
	shutdown, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := s.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}

	// The planted batch: producer 1000 (unknown to the kgo producers), three offsets, no
	// records, flagged snappy, payload the 16-byte xerial header alone.
	l, err := log.Open(filepath.Join(dir, topic+"-0"), &log.Options{SegmentMs: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	h := batch.Header{Magic: 2, LastOffsetDelta: 2, BaseTimestamp: 1, MaxTimestamp: 1, ProducerID: 1000, BaseSequence: 0, LeaderEpoch: -1}
	bad, err := records.Encode(nil, &records.Batch{Header: h}, batch.CodecSnappy)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != batch.HeaderSize+16 {
		t.Fatalf("planted batch of %d bytes", len(bad))
	}
	if _, err := l.Append(bad, 0); err != nil {
		t.Fatal(err)
	}
	more, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, ProducerID: -1, BaseSequence: -1, LeaderEpoch: -1},
		Records: []records.Record{{Key: []byte("planted"), Value: []byte("p")}}}, batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(more, 0); err != nil { // rolls: the planted batch is in a closed segment
		t.Fatal(err)
	}
	want["planted"] = "p"
	// The planted segment counts as compacted already: only a read can trigger its repair.
	ck := filepath.Join(dir, topic+"-0", log.CleanerOffsetFile)
	if err := os.WriteFile(ck, fmt.Appendf(nil, "0\n%d\n", l.EndOffset()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	s = servertest.StartBroker(t, dir, compactedSettings)
	addr := s.Addr().String()
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// More records after it, so that it is neither the first nor the last batch served.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("after"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want["after"] = "x"
	before := topicSize(t, ctx, cl, topic)
	sameLatest(t, "kgo", consumeToEnd(t, ctx, addr, topic), want)
	sameLatest(t, "kcat", kcatLatest(t, ctx, kcat, addr, topic), want)
	for _, h := range rawHeaders(t, ctx, cl, topic) {
		if h.EmptyCompressed() {
			t.Fatalf("batch %d served empty and compressed", h.BaseOffset)
		}
	}
	waitFor(t, "the cleaner's repair on disk", 30*time.Second, func() bool { return topicSize(t, ctx, cl, topic) == before-16 })
}

// TestKcatPassesOverEmptySegments plants twelve segments that hold one empty batch each
// (what compaction leaves until its next pass merges them) between two records: kcat
// (librdkafka) reads both records to the end. A fetch answered with empty batches only
// makes librdkafka double its fetch size, and fail ("might be too large to fetch") after
// ten of them; the broker serves the next segment's records instead.
func TestKcatPassesOverEmptySegments(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "empties"
	s := servertest.StartBroker(t, dir, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	createTopicCfg(t, ctx, cl, topic, nil)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("first"), Value: []byte("1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	shutdown, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := s.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(filepath.Join(dir, topic+"-0"), &log.Options{SegmentMs: time.Nanosecond}) // every append rolls
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for range 12 {
		e := batch.AppendEmpty(nil, &batch.Header{LastOffsetDelta: 2, MaxTimestamp: now, ProducerID: -1, BaseSequence: -1, LeaderEpoch: -1})
		if _, err := l.Append(e, 0); err != nil {
			t.Fatal(err)
		}
	}
	last, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, BaseTimestamp: now, MaxTimestamp: now, ProducerID: -1, BaseSequence: -1, LeaderEpoch: -1},
		Records: []records.Record{{Key: []byte("last"), Value: []byte("2")}}}, batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(last, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s = servertest.StartBroker(t, dir, nil)
	sameLatest(t, "kcat", kcatLatest(t, ctx, kcat, s.Addr().String(), topic), map[string]string{"first": "1", "last": "2"})
	sameLatest(t, "kgo", consumeToEnd(t, ctx, s.Addr().String(), topic), map[string]string{"first": "1", "last": "2"})
}
