package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/wire"
)

// spliceLog is a log on disk holding one batch per size in sizes (batch i at offset i).
func spliceLog(t *testing.T, sizes []int) *log.Log {
	t.Helper()
	l, err := log.Open(t.TempDir(), &log.Options{Logger: slog.New(slog.DiscardHandler), FlushMessages: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, sz := range sizes {
		if _, err := l.Append(testutil.SizedBatch(sz, min(sz/2, 1000), time.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestFetchSpliceGolden encodes Fetch responses v4-v16 with record bytes left in the
// segment files (chunks of sizes around the uvarint and sendfile thresholds, mixed with
// inline records, errors, tagged fields) and checks the bytes written are exactly kmsg's
// encoding of the same response with the records copied in.
func TestFetchSpliceGolden(t *testing.T) {
	// SizedBatch rounds to whole records: the sizes only need to spread around 127/128
	// (one- vs two-byte uvarint), 16 KiB (three bytes) and spliceMin.
	sizes := []int{100, 200, 20 << 10, spliceMin + 5000, 300 << 10}
	l := spliceLog(t, sizes)
	read := func(off int64) *log.Chunk {
		c, err := l.Read(off, 1, l.EndOffset())
		if err != nil || c.Len() == 0 {
			t.Fatalf("read %d: %v", off, err)
		}
		return c
	}
	for v := int16(4); v <= 16; v++ {
		for _, layout := range []string{"all", "first", "mixed", "none"} {
			t.Run(fmt.Sprintf("v%d/%s", v, layout), func(t *testing.T) {
				resp := kmsg.NewPtrFetchResponse()
				resp.SetVersion(v)
				resp.ThrottleMillis = 3
				resp.SessionID = 0
				if v >= 16 {
					resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "h", Port: 9092}}
				}
				var (
					chunks  []fetchChunk
					offsets []int64
				)
				want := kmsg.NewPtrFetchResponse()
				off := int64(0)
				for ti := range 3 {
					st := kmsg.NewFetchResponseTopic()
					st.Topic = fmt.Sprintf("topic-%d", ti)
					st.TopicID = [16]byte{byte(ti + 1)}
					for pi := range 4 {
						sp := kmsg.NewFetchResponseTopicPartition()
						sp.Partition = int32(pi)
						sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 9, 9, 0
						sp.PreferredReadReplica = -1
						sp.RecordBatches = noRecords
						if v >= 12 && pi == 1 {
							sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = 4, 77
							sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = 1, 2
						}
						use := false
						switch layout {
						case "all":
							use = pi != 3
						case "first":
							use = ti == 0 && pi == 0
						case "mixed":
							use = (ti+pi)%2 == 0
						}
						switch {
						case pi == 3:
							sp.ErrorCode = 6
						case use:
							c := read(off % int64(len(sizes)))
							offsets = append(offsets, off%int64(len(sizes)))
							off++
							chunks = append(chunks, fetchChunk{ti: ti, pi: len(st.Partitions), c: segmentRecords{c}})
						default:
							sp.RecordBatches = []byte("inline records")
						}
						st.Partitions = append(st.Partitions, sp)
					}
					resp.Topics = append(resp.Topics, st)
				}
				// want: the same response with the records copied in, encoded by kmsg.
				*want = *resp
				want.Topics = nil
				for _, st := range resp.Topics {
					st.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), st.Partitions...)
					want.Topics = append(want.Topics, st)
				}
				for _, fc := range chunks {
					b, err := fc.c.bytes()
					if err != nil {
						t.Fatal(err)
					}
					want.Topics[fc.ti].Partitions[fc.pi].RecordBatches = b
				}
				h := wire.RequestHeader{APIKey: 1, APIVersion: v, CorrelationID: 42, Flexible: v >= 12}
				wantFrame := wire.AppendResponse(nil, h, want)

				var out bytes.Buffer
				bw := bufio.NewWriterSize(&out, 64<<10)
				var sp splicer
				cf := &chunkedFetch{FetchResponse: resp, chunks: chunks}
				if len(chunks) > 0 {
					if _, _, ok := sp.encode(h, cf); !ok {
						t.Fatal("encode: encodings do not line up")
					}
				}
				for round := range 2 { // the splicer's buffers are reused across responses
					if round > 0 {
						for i := range chunks {
							chunks[i].c = segmentRecords{read(offsets[i])}
						}
						cf = &chunkedFetch{FetchResponse: resp, chunks: chunks}
					}
					if _, err := sp.writeChunked(bw, &out, h, cf); err != nil {
						t.Fatal(err)
					}
					if err := bw.Flush(); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out.Bytes(), wantFrame) {
						t.Fatalf("spliced frame differs from kmsg's: %d bytes, want %d", out.Len(), len(wantFrame))
					}
					out.Reset()
				}
				for _, fc := range chunks {
					if _, err := fc.c.(segmentRecords).ReadAt(make([]byte, 1), 0); err == nil {
						t.Fatal("chunk not released after the write")
					}
				}
			})
		}
	}
}

// TestFetchSpliceWriteError checks that a failed write still releases every chunk.
func TestFetchSpliceWriteError(t *testing.T) {
	l := spliceLog(t, []int{100, 300 << 10})
	var chunks []fetchChunk
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	st := kmsg.NewFetchResponseTopic()
	for i := range 2 {
		c, err := l.Read(int64(i), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.Partition = int32(i)
		st.Partitions = append(st.Partitions, sp)
		chunks = append(chunks, fetchChunk{ti: 0, pi: i, c: segmentRecords{c}})
	}
	resp.Topics = append(resp.Topics, st)
	var sp splicer
	bw := bufio.NewWriterSize(failWriter{}, 64<<10)
	_, err := sp.writeChunked(bw, failWriter{}, wire.RequestHeader{APIKey: 1, APIVersion: 12, Flexible: true}, &chunkedFetch{FetchResponse: resp, chunks: chunks})
	if err == nil {
		t.Fatal("no error from a failing writer")
	}
	for _, fc := range chunks {
		if _, err := fc.c.(segmentRecords).ReadAt(make([]byte, 1), 0); err == nil {
			t.Fatal("chunk not released after a failed write")
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
