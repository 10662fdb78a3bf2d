package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

// legacyMessage is a message as an old client reads it out of a Fetch v0-v3 response.
type legacyMessage struct {
	offset     int64
	magic      int8
	ts         int64
	key, value []byte
}

// readLegacySet reads a down-converted message set as an old client does: messages in
// order, wrappers opened (inner offsets made absolute in format 1), messages before
// fetchOffset skipped, a partial last message (a cut, or the overflow message) dropped.
// Anything else malformed fails the test.
func readLegacySet(t *testing.T, set []byte, fetchOffset int64) []legacyMessage {
	t.Helper()
	var out []legacyMessage
	for len(set) > 0 {
		if len(set) < records.MessageLogOverhead || int(int32(binary.BigEndian.Uint32(set[8:])))+records.MessageLogOverhead > len(set) {
			break // partial message at the end
		}
		m, n, err := records.ReadMessage(set)
		if err != nil {
			t.Fatalf("message at offset %d of the set: %v", len(set), err)
		}
		set = set[n:]
		msgs := []records.Message{m}
		if m.Codec() != batch.CodecNone {
			if msgs, err = records.Default().Inner(&m); err != nil {
				t.Fatalf("wrapper at %d: %v", m.Offset, err)
			}
			if m.Magic == records.MagicV1 { // relative inner offsets; the wrapper has the last
				last := msgs[len(msgs)-1].Offset
				for i := range msgs {
					msgs[i].Offset += m.Offset - last
				}
			}
		}
		for _, im := range msgs {
			if im.Offset >= fetchOffset {
				out = append(out, legacyMessage{im.Offset, im.Magic, im.Timestamp, im.Key, im.Value})
			}
		}
	}
	return out
}

// legacyFetch sends a Fetch of version v for one partition on its own connection.
func legacyFetch(t *testing.T, s interface{ Addr() net.Addr }, v int16, topic string, part int32, offset int64, partMax, respMax int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, respMax
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = part, offset, partMax
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := sendRaw(t, s.Addr().String(), req).(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch v%d: response %+v", v, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// sendRaw sends req at its version on a new connection and decodes the response.
func sendRaw(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := trySendRaw(addr, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func trySendRaw(addr string, req kmsg.Request) (kmsg.Response, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(wire.AppendRequest(nil, 7, "legacy", req)); err != nil {
		return nil, err
	}
	frame, err := wire.ReadFrame(nc, nil, 64<<20)
	if err != nil {
		return nil, fmt.Errorf("read %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	resp := req.ResponseKind()
	body := frame[4:]
	if req.IsFlexible() && req.Key() != 18 {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	return resp, nil
}

// legacyConsume reads partition 0 of topic from offset 0 to n with Fetch v, as an old
// client does: each fetch from the offset after the last message read.
func legacyConsume(t *testing.T, s interface{ Addr() net.Addr }, v int16, topic string, n int, partMax, respMax int32) []legacyMessage {
	t.Helper()
	var got []legacyMessage
	for off := int64(0); off < int64(n); {
		sp := legacyFetch(t, s, v, topic, 0, off, partMax, respMax)
		if sp.ErrorCode != 0 {
			t.Fatalf("fetch v%d at %d: %v", v, off, kerr.ErrorForCode(sp.ErrorCode))
		}
		if sp.HighWatermark != int64(n) {
			t.Fatalf("fetch v%d: high watermark %d, want %d", v, sp.HighWatermark, n)
		}
		ms := readLegacySet(t, sp.RecordBatches, off)
		if len(ms) == 0 {
			t.Fatalf("fetch v%d limits %d/%d: no message at %d (%d bytes)", v, partMax, respMax, off, len(sp.RecordBatches))
		}
		got = append(got, ms...)
		off = ms[len(ms)-1].offset + 1
	}
	return got
}

// TestFetchLegacyDownConversion produces RecordBatch v2 with every codec of the old
// formats and reads the partition back with Fetch v0-v3, as an old client does (from
// each last offset + 1), under small and large partition limits and, for v3, a small
// response limit: every record comes back once, in order, with its offset, key and value,
// and in format 1 (v2-v3) its timestamp; format 0 (v0-v1) has none.
func TestFetchLegacyDownConversion(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	addr := s.Addr().String()
	ctx := testCtx(t)
	for _, c := range kgoCodecs[:4] { // zstd has no legacy codec: TestFetchLegacyZstd
		t.Run(c.name, func(t *testing.T) {
			topic := "legacy-" + c.name
			cl := newClient(t, s, kgo.ProducerBatchCompression(c.codec), kgo.DefaultProduceTopic(topic),
				kgo.AllowAutoTopicCreation())
			createTopicCfg(t, ctx, cl, topic, nil)
			const n = 60
			want := testRecords(topic, n)
			want[5].Key, want[5].Value = nil, nil // null key and value survive
			for i := 0; i < n; i += 7 {           // batches of 7 records
				if err := cl.ProduceSync(ctx, want[i:min(i+7, n)]...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Timestamp: time.UnixMilli(1_700_000_000_005)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			want = append(want, &kgo.Record{Timestamp: time.UnixMilli(1_700_000_000_005)})

			for v := int16(0); v <= 3; v++ {
				for _, limits := range [][2]int32{{1 << 20, 1 << 20}, {200, 1 << 20}, {1 << 20, 150}} {
					if limits[1] != 1<<20 && v < 3 {
						continue // the response limit came with v3
					}
					got := legacyConsume(t, s, v, topic, len(want), limits[0], limits[1])
					if len(got) != len(want) {
						t.Fatalf("v%d limits %v: %d messages, want %d", v, limits, len(got), len(want))
					}
					for i, m := range got {
						w := want[i]
						wantMagic, wantTS := records.MagicV0, records.NoTimestamp
						if v >= 2 {
							wantMagic, wantTS = records.MagicV1, w.Timestamp.UnixMilli()
						}
						if m.offset != int64(i) || m.magic != wantMagic || m.ts != wantTS ||
							!bytes.Equal(m.key, w.Key) || (m.key == nil) != (w.Key == nil) ||
							!bytes.Equal(m.value, w.Value) || (m.value == nil) != (w.Value == nil) {
							t.Fatalf("v%d limits %v: message %d = {%d magic %d ts %d %q %q}, want {%d magic %d ts %d %q %q}",
								v, limits, i, m.offset, m.magic, m.ts, m.key, m.value, i, wantMagic, wantTS, w.Key, w.Value)
						}
					}
				}
			}
			// The same partition still serves RecordBatch v2 to new clients.
			if got := consumeAllRecords(t, ctx, addr, topic, len(want)); len(got) != len(want) {
				t.Fatalf("kgo consumed %d records, want %d", len(got), len(want))
			}
		})
	}
}

// TestFetchLegacyZstd checks that a zstd batch fetched in an old format is refused
// UNSUPPORTED_COMPRESSION_TYPE, as Kafka answers, and that what precedes it is served.
func TestFetchLegacyZstd(t *testing.T) {
	s := servertest.StartBroker(t, "", nil)
	ctx := testCtx(t)
	const topic = "legacy-zstd"
	plain := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopicCfg(t, ctx, plain, topic, nil)
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	zstd := newClient(t, s, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err := zstd.ProduceSync(ctx, &kgo.Record{Value: bytes.Repeat([]byte("zstd "), 100)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sp := legacyFetch(t, s, 3, topic, 0, 0, 1<<20, 1<<20)
	if ms := readLegacySet(t, sp.RecordBatches, 0); sp.ErrorCode != 0 || len(ms) != 1 || string(ms[0].value) != "plain" {
		t.Fatalf("fetch at 0: error %d, messages %+v", sp.ErrorCode, ms)
	}
	sp = legacyFetch(t, s, 3, topic, 0, 1, 1<<20, 1<<20)
	if sp.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("fetch of the zstd batch: error %d, want UNSUPPORTED_COMPRESSION_TYPE", sp.ErrorCode)
	}
	if sp := legacyFetch(t, s, 4, topic, 0, 1, 1<<20, 1<<20); sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 {
		t.Fatalf("fetch v4 of the zstd batch: error %d, %d bytes", sp.ErrorCode, len(sp.RecordBatches))
	}
}

// TestFetchLegacyReadsPastEmptyBatches: batches that give no message in the old formats
// (emptied by compaction, transaction markers) are read past within the same fetch, since
// an old client cannot skip offsets that hold no message: a Fetch v2 at the first of them,
// with a partition limit that reads one batch at a time, answers the messages after them.
func TestFetchLegacyReadsPastEmptyBatches(t *testing.T) {
	dir := t.TempDir()
	s := servertest.StartBroker(t, dir, nil)
	createTopic(t, s, "emptied", 1, nil)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(filepath.Join(dir, "emptied-0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // offsets 0-14, no records
		empty, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, LastOffsetDelta: 2, MaxTimestamp: 1,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, LeaderEpoch: -1}}, batch.CodecNone)
		if err == nil {
			_, err = l.Append(empty, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(testutil.Batch(testutil.BatchOptions{Records: 2, Timestamp: 1000}), 0); err != nil { // 15-16
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s = servertest.StartBroker(t, dir, nil)
	sp := legacyFetch(t, s, 2, "emptied", 0, 0, 100, 1<<20)
	ms := readLegacySet(t, sp.RecordBatches, 0)
	if sp.ErrorCode != 0 || len(ms) == 0 || ms[0].offset != 15 {
		t.Fatalf("fetch v2 at 0: error %d, messages %+v (%d bytes)", sp.ErrorCode, ms, len(sp.RecordBatches))
	}
}
