package server_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/server/servertest"
)

// legacySet builds the message set an old producer sends: n messages of format magic,
// plain or in one wrapper of codec (built by down-converting a batch, which writes what
// old clients write, the KAFKA-3160 lz4 checksum of magic 0 included).
func legacySet(t testing.TB, magic int8, codec, n int, ts int64) []byte {
	t.Helper()
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{TimestampDelta: int64(i), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	recs[0].Key = nil // a null key
	b, err := records.Default().Encode(nil, records.NewBatch(ts, recs), codec)
	if err != nil {
		t.Fatal(err)
	}
	set, err := records.DownConvert(nil, b, magic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// legacyProduce sends a Produce of version v with one partition's records, acks=1.
func legacyProduce(t *testing.T, addr string, v int16, topic string, set []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = v, 1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = set
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return sendRaw(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// TestProduceLegacyMessageSets produces message sets of formats 0 (v0-v1) and 1 (v2), plain
// and in gzip, snappy and lz4 wrappers, and reads them back with Fetch v12 (RecordBatch
// v2) and Fetch v0/v2: offsets assigned by the broker in order, keys (null kept), values,
// and the format 1 timestamps; format 0 has none (-1).
func TestProduceLegacyMessageSets(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	const ts = 1_700_000_000_000
	for v := int16(0); v <= 2; v++ {
		magic := records.MagicV0
		if v == 2 {
			magic = records.MagicV1
		}
		for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4} {
			topic := fmt.Sprintf("legacy-produce-v%d-%s", v, records.CodecName(codec))
			createTopic(t, s, topic, 1, nil)
			for round := range 2 {
				sp := legacyProduce(t, addr, v, topic, legacySet(t, magic, codec, 3, ts))
				if sp.ErrorCode != 0 || sp.BaseOffset != int64(3*round) {
					t.Fatalf("%s round %d: error %v, base offset %d", topic, round, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
				}
				if v == 2 && sp.LogAppendTime != -1 {
					t.Fatalf("%s: LogAppendTime %d under CreateTime", topic, sp.LogAppendTime)
				}
			}
			got := consumeAll(t, s, topic, 6)
			for i, r := range got {
				wantKey := fmt.Sprintf("k%d", i%3)
				if i%3 == 0 {
					wantKey = ""
				}
				wantTS := int64(ts + i%3)
				if magic == records.MagicV0 {
					wantTS = -1
				}
				if r.Offset != int64(i) || string(r.Key) != wantKey || (i%3 == 0) != (r.Key == nil) ||
					string(r.Value) != fmt.Sprintf("v%d", i%3) || r.Timestamp.UnixMilli() != wantTS {
					t.Fatalf("%s: record %d = {%d %q %q %d}", topic, i, r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli())
				}
			}
			// An old consumer of the same era reads them back.
			ms := legacyConsume(t, s, 2*(v/2), topic, 6, 1<<20, 1<<20)
			if len(ms) != 6 || string(ms[4].value) != "v1" || ms[4].offset != 4 {
				t.Fatalf("%s: fetched back %+v", topic, ms)
			}
		}
	}
}

// TestProduceLegacyRefused checks the answers to message sets Kafka refuses: a wrong CRC
// CORRUPT_MESSAGE, mixed formats or two wrappers INVALID_RECORD; nothing is appended.
// A RecordBatch v2 in a Produce v2 is accepted, as Kafka 2.x accepts it.
func TestProduceLegacyRefused(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	createTopic(t, s, "t", 1, nil)
	badCRC := legacySet(t, records.MagicV1, batch.CodecNone, 2, 1)
	badCRC[len(badCRC)-1] ^= 1
	gz := legacySet(t, records.MagicV1, batch.CodecGzip, 2, 1)
	for _, c := range []struct {
		name string
		set  []byte
		want *kerr.Error
	}{
		{"crc", badCRC, kerr.CorruptMessage},
		{"mixed magic", append(legacySet(t, records.MagicV0, batch.CodecNone, 1, 1), legacySet(t, records.MagicV1, batch.CodecNone, 1, 1)...), kerr.InvalidRecord},
		{"two wrappers", append(append([]byte(nil), gz...), gz...), kerr.InvalidRecord},
		{"truncated", gz[:len(gz)-3], kerr.CorruptMessage},
	} {
		if sp := legacyProduce(t, addr, 2, "t", c.set); sp.ErrorCode != c.want.Code || sp.BaseOffset != -1 {
			t.Errorf("%s: error %v, base offset %d; want %v", c.name, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset, c.want)
		}
	}
	if sp := listOffset(t, s, "t", 0, -1); sp.Offset != 0 {
		t.Fatalf("end offset %d after refused produces", sp.Offset)
	}
	recs := []records.Record{{Value: []byte("v2 batch")}}
	b, err := records.Default().Encode(nil, records.NewBatch(1, recs), batch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	if sp := legacyProduce(t, addr, 2, "t", b); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("RecordBatch v2 in Produce v2: error %v, base offset %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
}

// FuzzProduceLegacyRecords sends arbitrary bytes as the records of a Produce v0-v2, the
// versions that carry message sets of formats 0 and 1. Invariants as FuzzProduceRecords:
// no panic, no dropped connection, success at an offset or a mapped per-partition error
// code, and the broker keeps serving afterwards.
func FuzzProduceLegacyRecords(f *testing.F) {
	for magic := records.MagicV0; magic <= records.MagicV1; magic++ {
		for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4} {
			set := legacySet(f, magic, codec, 3, 1)
			f.Add(uint8(2*magic), set)
			f.Add(uint8(2*magic), set[:len(set)-1])
		}
	}
	f.Add(uint8(1), []byte{})
	s := servertest.StartBroker(f, "", nil)
	cl := newClientTB(f, s)
	createTopicTB(f, s, cl, "fuzz")
	f.Fuzz(func(t *testing.T, version uint8, set []byte) {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = int16(version%3), -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "fuzz"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = set
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := wireRequest(t, s, req).(*kmsg.ProduceResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("response shape %+v", resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode == 0 && p.BaseOffset < 0 {
			t.Fatalf("success without offset: %+v", p)
		}
		if p.ErrorCode == kerr.UnknownServerError.Code {
			t.Fatalf("unmapped error for %x", set)
		}
		if after := rawProduce(t, cl, "fuzz", 0, -1, testutil.Batch(testutil.BatchOptions{})); after.ErrorCode != 0 {
			t.Fatalf("valid produce after fuzz input: %+v", after)
		}
	})
}
