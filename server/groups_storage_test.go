package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/server/servertest"
)

// TestGroupIntegrationOffsetsCompressed: __consumer_offsets follows compression.type like
// any topic (here the broker-wide one, gzip): the coordinator's batches are stored
// re-compressed, and a restarted broker replays them to the same committed offsets.
func TestGroupIntegrationOffsetsCompressed(t *testing.T) {
	dir := t.TempDir()
	settings := map[string]string{"offsets.topic.num.partitions": "3", "compression.type": "gzip"}
	s := servertest.StartBroker(t, dir, settings)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "ct"); err != nil {
		t.Fatal(err)
	}
	const group = "gz"
	for i := int64(1); i <= 5; i++ {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "ct", Partition: 0, At: i, LeaderEpoch: -1, Metadata: "m"})
		os.Add(kadm.Offset{Topic: "ct", Partition: 1, At: 10 * i, LeaderEpoch: -1})
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}

	// The stored batches, as a Fetch returns them verbatim.
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "__consumer_offsets"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes = coord.PartitionFor(group, 3), 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// Fetch v12 at most: by topic name.
	raw, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()), kgo.MaxVersions(kversion.V2_8_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	resp, err := req.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("fetch of __consumer_offsets: %+v", resp)
	}
	b := resp.Topics[0].Partitions[0].RecordBatches
	n := 0
	for len(b) > 0 {
		sz, err := batch.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := batch.Validate(b[:sz])
		if err != nil {
			t.Fatal(err)
		}
		if h.Codec() != batch.CodecGzip {
			t.Fatalf("batch at offset %d stored with codec %d, want gzip", h.BaseOffset, h.Codec())
		}
		n++
		b = b[sz:]
	}
	if n != 5 {
		t.Fatalf("%d batches in __consumer_offsets, want the 5 commits", n)
	}

	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := s.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.StartBroker(t, dir, settings)
	offs, err := newAdmin(t, s2.Addr().String()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 5, 1: 50} {
		if o, ok := offs.Lookup("ct", p); !ok || o.At != want || o.Err != nil {
			t.Fatalf("partition %d after restart: %+v (found %v), want offset %d", p, o, ok, want)
		}
	}
}
