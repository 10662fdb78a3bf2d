package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/testutil/kbatch"
	"github.com/stratalog/strata/server"
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

// BenchmarkServerProduce sends ~1 MiB produce requests (one partition, acks=1: the
// request path without the fsync wait) over loopback, one at a time, and waits for each
// response: frame read, decode, validate, append, respond.
func BenchmarkServerProduce(b *testing.B) {
	for _, rs := range []int{100, 1024} {
		b.Run(fmt.Sprintf("rec=%dB", rs), func(b *testing.B) {
			s := testutil.StartBroker(b, "", nil)
			createTopicTB(b, s, newClientTB(b, s), "bench")
			c := dialBench(b, s)
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			req.Acks, req.TimeoutMillis = 1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = kbatch.SizedBatch(900<<10, rs, time.Now().UnixMilli())
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
	const window = 8
	s := testutil.StartBroker(b, "", nil)
	createTopicTB(b, s, newClientTB(b, s), "bench")
	c := dialBench(b, s)
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = kbatch.SizedBatch(1024, 1024, time.Now().UnixMilli())
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

// BenchmarkServerFetch fetches 1 MiB (one partition, warm page cache) over loopback
// from a filled log, one fetch at a time, reading every response whole: the fetch handler,
// the response encoding and the write of the stored bytes to the socket.
func BenchmarkServerFetch(b *testing.B) {
	for _, version := range []int16{11, 12} {
		b.Run(fmt.Sprintf("v%d", version), func(b *testing.B) {
			s := testutil.StartBroker(b, "", nil)
			createTopicTB(b, s, newClientTB(b, s), "bench")
			c := dialBench(b, s)
			// Fill 8 MiB of 1 KiB records, acks=-1 so that everything is below the HW.
			preq := kmsg.NewPtrProduceRequest()
			preq.Version = 9
			preq.Acks, preq.TimeoutMillis = -1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = kbatch.SizedBatch(256<<10, 1024, time.Now().UnixMilli())
			rt.Partitions = append(rt.Partitions, rp)
			preq.Topics = append(preq.Topics, rt)
			pframe := wire.AppendRequest(nil, 1, "bench", preq)
			for range 32 {
				c.roundTrip(b, pframe, preq.IsFlexible())
			}
			req := kmsg.NewPtrFetchRequest()
			req.Version = version
			req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, 1<<20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = "bench"
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.PartitionMaxBytes = 1 << 20
			ft.Partitions = append(ft.Partitions, fp)
			req.Topics = append(req.Topics, ft)
			frame := wire.AppendRequest(nil, 2, "bench", req)
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

// BenchmarkServerMetadata asks for the metadata of every topic (Metadata v12) of a broker
// holding one topic of n partitions, over loopback: the response is built and encoded in
// time linear in n (ns/partition stays flat as n grows).
func BenchmarkServerMetadata(b *testing.B) {
	for _, n := range []int32{500, 2000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			s := testutil.StartBroker(b, "", nil)
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
