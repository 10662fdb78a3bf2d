package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/server/servertest"
)

var kgoCodecs = []struct {
	name  string
	codec kgo.CompressionCodec
	bits  int
}{
	{"none", kgo.NoCompression(), batch.CodecNone},
	{"gzip", kgo.GzipCompression(), batch.CodecGzip},
	{"snappy", kgo.SnappyCompression(), batch.CodecSnappy},
	{"lz4", kgo.Lz4Compression(), batch.CodecLZ4},
	{"zstd", kgo.ZstdCompression(), batch.CodecZstd},
}

func createTopicCfg(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, configs map[string]*string) {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func testRecords(topic string, n int) []*kgo.Record {
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)),
			Value:     bytes.Repeat([]byte(fmt.Sprintf("value-%d ", i)), 1+i%20),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
			Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i))})
	}
	return rs
}

func consumeAllRecords(t *testing.T, ctx context.Context, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestCompressionFranzGoRoundTrip produces with every codec through franz-go and reads
// the records back, keys, values, headers and timestamps intact.
func TestCompressionFranzGoRoundTrip(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range kgoCodecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "rt-" + c.name
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			createTopicCfg(t, ctx, cl, topic, nil)
			in := testRecords(topic, 300)
			if err := cl.ProduceSync(ctx, in...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			out := consumeAllRecords(t, ctx, addr, topic, len(in))
			for i, r := range out {
				w := in[i]
				if r.Offset != int64(i) || !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) ||
					!r.Timestamp.Equal(w.Timestamp) || len(r.Headers) != 1 || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value) {
					t.Fatalf("record %d: got %+v", i, r)
				}
			}
		})
	}
}

// TestCompressionKcat produces with kcat -z for every codec and consumes with kcat -C -e:
// the records come back byte for byte. kcat must be installed (make test installs it).
func TestCompressionKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (make test installs it: apt-get install -y kcat): %v", err)
	}
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var in bytes.Buffer
	for i := range 300 {
		fmt.Fprintf(&in, "k-%05d:v-%05d-%s\n", i, i, bytes.Repeat([]byte{'a' + byte(i%26)}, i%50))
	}
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			run := func(args ...string) []byte {
				t.Helper()
				cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", addr, "-t", topic}, args...)...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("kcat %v: %v\n%s", args, err, stderr.String())
				}
				return out
			}
			run("-P", "-z", codec, "-K:", "-X", "acks=all", "-l", file)
			out := run("-C", "-K:", "-o", "beginning", "-e", "-q")
			if !bytes.Equal(out, in.Bytes()) {
				t.Fatalf("kcat consumed %d bytes, produced %d; first difference at byte %d", len(out), in.Len(), firstDiff(out, in.Bytes()))
			}
		})
	}
}

// fetchRaw fetches the stored batches of partition 0 of topic from offset 0, verbatim.
func fetchRaw(t *testing.T, ctx context.Context, cl *kgo.Client, topic string) []byte {
	t.Helper()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = 0, 10<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, td[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.LogStartOffset, rp.CurrentLeaderEpoch = 10<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatal(err)
	}
	return p.RecordBatches
}

// TestRecompression produces uncompressed and gzip batches to topics of every
// compression.type and checks the stored batches: the topic's codec (or the producer's
// under "producer"), and records, offsets, timestamps, headers and producer fields intact.
func TestRecompression(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	types := map[string]int{"uncompressed": batch.CodecNone, "gzip": batch.CodecGzip, "snappy": batch.CodecSnappy,
		"lz4": batch.CodecLZ4, "zstd": batch.CodecZstd, "producer": -1}
	for typ, want := range types {
		for _, prod := range kgoCodecs[:2] {
			t.Run(typ+"/from-"+prod.name, func(t *testing.T) {
				topic := "recompress-" + typ + "-" + prod.name
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(prod.codec), kgo.ProducerLinger(20*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				createTopicCfg(t, ctx, cl, topic, map[string]*string{"compression.type": &typ})
				in := testRecords(topic, 50)
				if err := cl.ProduceSync(ctx, in...).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
				raw := fetchRaw(t, ctx, cl, topic)
				wantCodec := want
				if want < 0 {
					wantCodec = prod.bits
				}
				i := 0
				for b := raw; len(b) > 0; {
					n, err := batch.Next(b)
					if err != nil {
						t.Fatal(err)
					}
					d, err := records.Decode(b[:n])
					if err != nil {
						t.Fatal(err)
					}
					h := d.Header
					if h.Codec() != wantCodec {
						t.Fatalf("stored codec %d, want %d", h.Codec(), wantCodec)
					}
					if h.ProducerID < 0 || h.ProducerEpoch < 0 || h.BaseSequence != int32(i) {
						t.Fatalf("producer fields lost: id %d epoch %d seq %d (want seq %d)", h.ProducerID, h.ProducerEpoch, h.BaseSequence, i)
					}
					for _, r := range d.Records {
						w := in[i]
						if h.BaseOffset+int64(r.OffsetDelta) != int64(i) || !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) ||
							h.BaseTimestamp+r.TimestampDelta != w.Timestamp.UnixMilli() || len(r.Headers) != 1 || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value) {
							t.Fatalf("record %d differs: %+v", i, r)
						}
						i++
					}
					b = b[n:]
				}
				if i != len(in) {
					t.Fatalf("%d records stored, want %d", i, len(in))
				}
			})
		}
	}
}

// TestCompactedTopicRejectsKeyless: records without a key are refused with INVALID_RECORD
// on a compacted topic, and accepted with a key.
func TestCompactedTopicRejectsKeyless(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	policy := "compact"
	createTopicCfg(t, ctx, cl, "compacted", map[string]*string{"cleanup.policy": &policy})
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record on a compacted topic: %v, want INVALID_RECORD", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("keyed record: %v", err)
	}
}

// TestListOffsetsTimestampCompressed: ListOffsets by timestamp answers with the exact
// record inside a compressed batch.
func TestListOffsetsTimestampCompressed(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopicCfg(t, ctx, cl, "ts", nil)
	in := testRecords("ts", 20) // timestamps base+0 … base+19, in one or few batches
	if err := cl.ProduceSync(ctx, in...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lo, err := kadm.NewClient(cl).ListOffsetsAfterMilli(ctx, 1_700_000_000_000+7, "ts")
	if err != nil {
		t.Fatal(err)
	}
	o, _ := lo.Lookup("ts", 0)
	if o.Err != nil || o.Offset != 7 || o.Timestamp != 1_700_000_000_000+7 {
		t.Fatalf("ListOffsets by timestamp: %+v, want offset 7", o)
	}
}
