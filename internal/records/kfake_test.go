package records

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
)

// TestRecordsKgoCompressed decodes batches compressed by franz-go's own producer (kgo
// against the in-memory kfake broker, which stores batches verbatim), fetched raw.
func TestRecordsKgoCompressed(t *testing.T) {
	cases := []struct {
		codec int
		kgo   kgo.CompressionCodec
	}{
		{batch.CodecGzip, kgo.GzipCompression()},
		{batch.CodecSnappy, kgo.SnappyCompression()},
		{batch.CodecLZ4, kgo.Lz4Compression()},
		{batch.CodecZstd, kgo.ZstdCompression()},
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 200
	for _, tc := range cases {
		t.Run(CodecName(tc.codec), func(t *testing.T) {
			cl, err := kgo.NewClient(
				kgo.SeedBrokers(c.ListenAddrs()...),
				kgo.ProducerBatchCompression(tc.kgo),
				kgo.ProducerLinger(50*time.Millisecond),
				kgo.DefaultProduceTopic("t"),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			// Where the log ends before this subtest's records.
			start := fetchRaw(ctx, t, cl, 0)
			startOff := int64(0)
			for len(start) > 0 {
				sz, _ := batch.Next(start)
				h, _ := batch.ParseHeader(start)
				startOff = h.LastOffset() + 1
				start = start[sz:]
			}
			want := make([]*kgo.Record, n)
			for i := range want {
				r := &kgo.Record{
					Key:     fmt.Appendf(nil, "key-%d", i),
					Value:   bytes.Repeat(fmt.Appendf(nil, "%s value %d ", CodecName(tc.codec), i), 10),
					Headers: []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
				}
				if i%10 == 0 {
					r.Key = nil
				}
				want[i] = r
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			raw := fetchRaw(ctx, t, cl, startOff)
			got, batches, xerial := 0, 0, 0
			for len(raw) > 0 {
				sz, err := batch.Next(raw)
				if err != nil {
					t.Fatal(err)
				}
				b := raw[:sz]
				raw = raw[sz:]
				bt, err := Decode(b)
				if err != nil {
					t.Fatalf("decode kgo %s batch: %v", CodecName(tc.codec), err)
				}
				if bt.Header.Codec() != tc.codec {
					t.Fatalf("batch codec %d, want %d", bt.Header.Codec(), tc.codec)
				}
				batches++
				if tc.codec == batch.CodecSnappy && bytes.HasPrefix(b[batch.HeaderSize:], xerialMagic) {
					xerial++
				}
				nullKey := false
				for _, r := range bt.Records {
					nullKey = nullKey || r.Key == nil
					w := want[got]
					if !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Value, w.Value) ||
						len(r.Headers) != 1 || r.Headers[0].Key != "i" || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value) {
						t.Fatalf("record %d: %+v", got, r)
					}
					got++
				}
				// Every re-compression of a real producer's batch decodes to the same
				// records; ValidateKeys sees the null keys (every tenth record has one; kgo
				// may cut a batch without any).
				for _, to := range allCodecs {
					out, err := Recompress(b, to)
					if err != nil {
						t.Fatalf("recompress to %s: %v", CodecName(to), err)
					}
					again, err := Decode(out)
					if err != nil {
						t.Fatal(err)
					}
					sameRecords(t, bt.Records, again.Records)
				}
				if err := ValidateKeys(b); (err == nil) == nullKey {
					t.Fatalf("ValidateKeys of a batch with null keys %v: %v", nullKey, err)
				}
			}
			t.Logf("%d batches (%d xerial-framed)", batches, xerial)
			if got != n {
				t.Fatalf("%d records in %d batches, want %d", got, batches, n)
			}
		})
	}
}

// fetchRaw fetches partition 0 of topic t from offset with a raw kmsg FetchRequest and
// returns the record batch bytes as the broker sent them.
func fetchRaw(ctx context.Context, t *testing.T, cl *kgo.Client, offset int64) []byte {
	t.Helper()
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("t")
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil || len(mresp.Topics) != 1 {
		t.Fatalf("metadata: %v", err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 64 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.TopicID = mresp.Topics[0].TopicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 0
	fp.FetchOffset = offset
	fp.PartitionMaxBytes = 64 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch error %d", p.ErrorCode)
	}
	return p.RecordBatches
}
