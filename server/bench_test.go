package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/batch"
	"github.com/stratalog/strata/internal/records"
	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/testcerts"
	"github.com/stratalog/strata/log"
	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/server/servertest"
	"github.com/stratalog/strata/wire"
)

// benchConn is a raw connection that sends request frames and reads response frames
// into a reused buffer (the client side costs as little as possible).
type benchConn struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
}

func dialBench(b *testing.B, s *server.Server) *benchConn {
	b.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return &benchConn{nc: nc, br: bufio.NewReaderSize(nc, 1<<20)}
}

// roundTrip writes one request frame and reads the response frame; it returns the
// response body (after the correlation id and, for flexible requests, the tag byte).
func (c *benchConn) roundTrip(b *testing.B, frame []byte, flexible bool) []byte {
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(frame); err != nil {
		b.Fatal(err)
	}
	var err error
	c.buf, err = wire.ReadFrame(c.br, c.buf, 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	body := c.buf[4:]
	if flexible {
		body = body[1:]
	}
	return body
}

// BenchmarkServerProduce sends ~1 MiB produce requests (one partition, acks=1 to a
// topic with Kafka's page-cache durability: the request path without the fsync wait)
// over loopback, one at a time, and waits for each response: frame read, decode,
// validate, append, respond.
func BenchmarkServerProduce(b *testing.B) {
	for _, rs := range []int{100, 1024} {
		b.Run(fmt.Sprintf("rec=%dB", rs), func(b *testing.B) {
			s := servertest.StartBroker(b, "", nil)
			createPageCacheTopic(b, s, "bench")
			c := dialBench(b, s)
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			req.Acks, req.TimeoutMillis = 1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = testutil.SizedBatch(900<<10, rs, time.Now().UnixMilli())
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			frame := wire.AppendRequest(nil, 1, "bench", req)
			resp := kmsg.NewPtrProduceResponse()
			resp.Version = req.Version
			b.SetBytes(int64(len(rp.Records)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				body := c.roundTrip(b, frame, req.IsFlexible())
				if err := resp.ReadFrom(body); err != nil {
					b.Fatal(err)
				}
				if ec := resp.Topics[0].Partitions[0].ErrorCode; ec != 0 {
					b.Fatalf("produce error %d", ec)
				}
			}
		})
	}
}

// BenchmarkServerProduceDurable sends small acks=all produce requests (one batch of one
// 1 KiB record, one partition) over loopback with 8 requests in flight, as a pipelining
// client does: the per-request cost of the durable path (decode, append, group commit,
// the wait for the fsync, response) rather than the per-byte cost. One op is one request.
func BenchmarkServerProduceDurable(b *testing.B) {
	benchProducePipelined(b, -1, testutil.SizedBatch(1024, 1024, time.Now().UnixMilli()))
}

// BenchmarkServerProduceSmall sends small acks=1 produce requests (one batch of one
// 100-byte record, one partition) over loopback with 8 requests in flight: the fixed cost
// of one request through the connection, the pipeline (dispatch, metrics) and the produce
// handler, without the fsync wait (a topic with Kafka's page-cache durability). One op is
// one request.
func BenchmarkServerProduceSmall(b *testing.B) {
	benchProducePipelined(b, 1, testutil.Batch(testutil.BatchOptions{ValueSize: 100, Timestamp: time.Now().UnixMilli()}))
}

// createPageCacheTopic creates a topic of one partition with flush.messages at Kafka's
// default (Long.MAX_VALUE): acks=1 and acks=all are answered without an fsync wait.
func createPageCacheTopic(b *testing.B, s *server.Server, name string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	never := strconv.FormatInt(math.MaxInt64, 10)
	resp, err := kadm.NewClient(newClientTB(b, s)).CreateTopic(ctx, 1, 1, map[string]*string{"flush.messages": &never}, name)
	if err != nil || resp.Err != nil {
		b.Fatalf("create topic %s: %v, %v", name, err, resp.Err)
	}
}

// benchProducePipelined sends produce requests of records to partition 0 of a new topic
// with acks, keeping 8 requests in flight; one op is one request. acks=1 goes to a topic
// with page-cache durability (the request path), acks=-1 to a durable one (the fsync).
func benchProducePipelined(b *testing.B, acks int16, records []byte) {
	const window = 8
	s := servertest.StartBroker(b, "", nil)
	if acks == 1 {
		createPageCacheTopic(b, s, "bench")
	} else {
		createTopicTB(b, s, newClientTB(b, s), "bench")
	}
	c := dialBench(b, s)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks, req.TimeoutMillis = acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := wire.AppendRequest(nil, 1, "bench", req)
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = req.Version
	read := func() {
		var err error
		c.buf, err = wire.ReadFrame(c.br, c.buf, 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		if err := resp.ReadFrom(c.buf[4+1:]); err != nil {
			b.Fatal(err)
		}
		if ec := resp.Topics[0].Partitions[0].ErrorCode; ec != 0 {
			b.Fatalf("produce error %d", ec)
		}
	}
	c.nc.SetDeadline(time.Now().Add(5 * time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	sent, recv := 0, 0
	for b.Loop() {
		for sent-recv < window {
			if _, err := c.nc.Write(frame); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		read()
		recv++
	}
	b.StopTimer()
	for ; recv < sent; recv++ {
		read()
	}
}

// fillBench produces records n times to partition 0 of topic "bench" with acks=-1, so
// that everything is below the high watermark.
func fillBench(b *testing.B, c *benchConn, records []byte, n int) {
	b.Helper()
	preq := kmsg.NewPtrProduceRequest()
	preq.Version = 9
	preq.Acks, preq.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	preq.Topics = append(preq.Topics, rt)
	frame := wire.AppendRequest(nil, 1, "bench", preq)
	for range n {
		c.roundTrip(b, frame, preq.IsFlexible())
	}
}

// benchFetch is the frame of a Fetch of partition 0 of topic "bench" from offset 0, with
// no wait and maxBytes as both the response and the partition limit.
func benchFetch(version int16, maxBytes int32) (*kmsg.FetchRequest, []byte) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, maxBytes
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "bench"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = maxBytes
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req, wire.AppendRequest(nil, 2, "bench", req)
}

// BenchmarkServerFetch fetches 1 MiB (one partition, warm page cache) over loopback
// from a filled log, one fetch at a time, reading every response whole: the fetch handler,
// the response encoding and the write of the stored bytes to the socket.
func BenchmarkServerFetch(b *testing.B) {
	for _, version := range []int16{11, 12} {
		b.Run(fmt.Sprintf("v%d", version), func(b *testing.B) {
			s := servertest.StartBroker(b, "", nil)
			createTopicTB(b, s, newClientTB(b, s), "bench")
			c := dialBench(b, s)
			// Fill 8 MiB of 1 KiB records.
			fillBench(b, c, testutil.SizedBatch(256<<10, 1024, time.Now().UnixMilli()), 32)
			req, frame := benchFetch(version, 1<<20)
			body := c.roundTrip(b, frame, req.IsFlexible())
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = version
			if err := resp.ReadFrom(body); err != nil {
				b.Fatal(err)
			}
			n := len(resp.Topics[0].Partitions[0].RecordBatches)
			if n < 512<<10 {
				b.Fatalf("fetched %d bytes", n)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if got := len(c.roundTrip(b, frame, req.IsFlexible())); got < n {
					b.Fatalf("response of %d bytes", got)
				}
			}
		})
	}
}

// BenchmarkServerFetchDownConvert is BenchmarkServerFetch for an old client: Fetch v3
// (message format 1, down-converted batch by batch as the response is written) against
// v4 (the stored RecordBatch v2 sent as they are), of 1 MiB of 256 KiB batches of 1 KiB
// records, uncompressed and lz4. Bytes (MB/s, cpu-ns/B) are those of the records served,
// uncompressed: cpu-ns/B is the CPU the whole process (broker and the raw client) spent
// per byte of records, and cpu-ns/B x 1.07 the CPU seconds per GiB of records.
func BenchmarkServerFetchDownConvert(b *testing.B) {
	for _, codec := range []int{batch.CodecNone, batch.CodecLZ4} {
		for _, version := range []int16{3, 4} {
			b.Run(fmt.Sprintf("%s/v%d", records.CodecName(codec), version), func(b *testing.B) {
				s := servertest.StartBroker(b, "", nil)
				createTopicTB(b, s, newClientTB(b, s), "bench")
				c := dialBench(b, s)
				raw := testutil.SizedBatch(256<<10, 1024, time.Now().UnixMilli())
				bt, err := records.Recompress(raw, codec)
				if err != nil {
					b.Fatal(err)
				}
				fillBench(b, c, bt, 32)
				served := min(32, max(1, (1<<20)/len(bt))) * len(raw) // the batches a fetch reads
				req, frame := benchFetch(version, 1<<20)
				resp := kmsg.NewPtrFetchResponse()
				resp.Version = version
				if err := resp.ReadFrom(c.roundTrip(b, frame, false)); err != nil {
					b.Fatal(err)
				}
				n := len(resp.Topics[0].Partitions[0].RecordBatches)
				if n < len(bt) {
					b.Fatalf("fetched %d bytes (error %d)", n, resp.Topics[0].Partitions[0].ErrorCode)
				}
				b.SetBytes(int64(served))
				b.ReportAllocs()
				cpu0 := cpuTime(b)
				b.ResetTimer()
				for b.Loop() {
					c.roundTrip(b, frame, req.IsFlexible())
				}
				b.StopTimer()
				cpu := cpuTime(b) - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(int64(b.N)*int64(served)), "cpu-ns/B")
			})
		}
	}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServerFetchFixedOffset is one client hammering Fetch: the same fetch of a
// fixed offset in a loop (as a client does that keeps failing on what it gets), for
// responses of one 16 KiB batch to 1 MiB of stored batches, and for the batch a compaction of
// earlier versions left empty but flagged snappy (served repaired, header-only). It
// reports the CPU the whole process (broker and the raw client, which only reads the
// frames) spent per byte of records sent (cpu-ns/B) and per fetch (cpu-us/op): the cost
// must follow the bytes sent, plus a fixed cost per request.
func BenchmarkServerFetchFixedOffset(b *testing.B) {
	cases := []struct {
		name  string
		bytes int32 // PartitionMaxBytes; 0: the planted empty batch
	}{{"16KiB", 16 << 10}, {"256KiB", 256 << 10}, {"1MiB", 1 << 20}, {"repaired-empty", 0}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			s := servertest.StartBroker(b, dir, nil)
			createTopicTB(b, s, newClientTB(b, s), "bench")
			c := dialBench(b, s)
			if tc.bytes == 0 {
				// The broken batch, then records after it: planted with the broker stopped.
				if err := s.Shutdown(b.Context()); err != nil {
					b.Fatal(err)
				}
				l, err := log.Open(filepath.Join(dir, "bench-0"), nil)
				if err != nil {
					b.Fatal(err)
				}
				bad, err := records.Encode(nil, &records.Batch{Header: batch.Header{Magic: 2, LastOffsetDelta: 2, MaxTimestamp: 1,
					ProducerID: 7, BaseSequence: 0, LeaderEpoch: -1}}, batch.CodecSnappy)
				if err == nil {
					_, err = l.Append(bad, 0)
				}
				if err == nil {
					err = l.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
				s = servertest.StartBroker(b, dir, nil)
				c = dialBench(b, s)
			}
			fillBench(b, c, testutil.SizedBatch(16<<10, 1024, time.Now().UnixMilli()), 128) // 2 MiB
			req, frame := benchFetch(12, max(tc.bytes, 1))
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = req.Version
			if err := resp.ReadFrom(c.roundTrip(b, frame, true)); err != nil {
				b.Fatal(err)
			}
			p := resp.Topics[0].Partitions[0]
			n := len(p.RecordBatches)
			if h, err := batch.Validate(p.RecordBatches[:min(n, batch.HeaderSize)]); tc.bytes == 0 && (err != nil || n != batch.HeaderSize || h.Codec() != batch.CodecNone) {
				b.Fatalf("repaired batch: %d bytes, %+v, %v", n, h, err)
			}
			if n == 0 || (tc.bytes > 16<<10 && n < int(tc.bytes)/2) {
				b.Fatalf("fetched %d bytes for %d (error %d, hw %d)", n, tc.bytes, p.ErrorCode, p.HighWatermark)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				c.roundTrip(b, frame, true)
			}
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(int64(b.N)*int64(n)), "cpu-ns/B")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// BenchmarkServerMetadata asks for the metadata of every topic (Metadata v12) of a broker
// holding one topic of n partitions, over loopback: the response is built and encoded in
// time linear in n (ns/partition stays flat as n grows).
func BenchmarkServerMetadata(b *testing.B) {
	for _, n := range []int32{500, 2000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			s := servertest.StartBroker(b, "", nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if resp, err := kadm.NewClient(newClientTB(b, s)).CreateTopic(ctx, n, 1, nil, "many"); err != nil || resp.Err != nil {
				b.Fatalf("create topic: %v, %v", err, resp.Err)
			}
			c := dialBench(b, s)
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			frame := wire.AppendRequest(nil, 1, "bench", req)
			resp := kmsg.NewPtrMetadataResponse()
			resp.Version = req.Version
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := resp.ReadFrom(c.roundTrip(b, frame, req.IsFlexible())); err != nil {
					b.Fatal(err)
				}
				if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != int(n) {
					b.Fatalf("metadata: %d topics", len(resp.Topics))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/partition")
		})
	}
}

// BenchmarkServerTLS compares a PLAINTEXT and an SSL listener (TLS 1.3, ECDSA P-256,
// AES-GCM) of one broker: ~900 KiB produce requests (acks=1) and 1 MiB fetches of 1 KiB
// records, one at a time over loopback. Besides MB/s it reports the CPU the whole process
// (broker and the raw client: both ends encrypt and decrypt) spent per byte of records
// (cpu-ns/B). A fetch on TLS copies the stored bytes through the encryption where
// plaintext sends them with sendfile.
func BenchmarkServerTLS(b *testing.B) {
	ca := testcerts.NewCA(b, "bench CA")
	s := servertest.Start(b, &server.Options{
		Listeners: []server.Listener{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}, {Name: "SSL", Addr: "127.0.0.1:0"}},
		Settings:  map[string]string{"ssl.keystore.location": ca.Server(b).File},
	})
	createTopicTB(b, s, newClientTB(b, s), "bench")
	fillBench(b, dialBench(b, s), testutil.SizedBatch(256<<10, 1024, time.Now().UnixMilli()), 32)
	dial := func(b *testing.B, listener string) *benchConn {
		var nc net.Conn
		var err error
		if addr := s.ListenerAddr(listener).String(); listener == "SSL" {
			nc, err = tls.Dial("tcp", addr, ca.ClientTLS(nil))
		} else {
			nc, err = net.Dial("tcp", addr)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { nc.Close() })
		return &benchConn{nc: nc, br: bufio.NewReaderSize(nc, 1<<20)}
	}
	for _, listener := range []string{"PLAINTEXT", "SSL"} {
		b.Run("produce/"+listener, func(b *testing.B) {
			c := dial(b, listener)
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			req.Acks, req.TimeoutMillis = 1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = testutil.SizedBatch(900<<10, 1024, time.Now().UnixMilli())
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			frame := wire.AppendRequest(nil, 1, "bench", req)
			b.SetBytes(int64(len(rp.Records)))
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				c.roundTrip(b, frame, req.IsFlexible())
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/float64(len(rp.Records)), "cpu-ns/B")
		})
		b.Run("fetch/"+listener, func(b *testing.B) {
			c := dial(b, listener)
			req, frame := benchFetch(12, 1<<20)
			n := len(c.roundTrip(b, frame, req.IsFlexible()))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				if got := len(c.roundTrip(b, frame, req.IsFlexible())); got < n {
					b.Fatalf("response of %d bytes", got)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/float64(n), "cpu-ns/B")
		})
	}
}
