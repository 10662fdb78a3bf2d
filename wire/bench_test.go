package wire_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
	"github.com/stratalog/strata/wire/schema"
)

// BenchmarkWireReadFrame reads one frame of each size from memory: the allocation
// strategy of the request buffer is what it measures.
func BenchmarkWireReadFrame(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			in := sized(bytes.Repeat([]byte{7}, size))
			r := bytes.NewReader(in)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Reset(in)
				if _, err := wire.ReadFrame(r, nil, wire.DefaultMaxRequestSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWireDecodeHostile decodes the 93-byte Metadata v12 frame of issue 11, whose
// body ends in a tagged-field count of 0xffffffff: before bodies were checked, one
// decode cost kmsg ~46 s of CPU.
func BenchmarkWireDecodeHostile(b *testing.B) {
	frame := metadataV12Frame()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := wire.Decode(frame); err == nil {
			b.Fatal("hostile frame decoded")
		}
	}
}

// produceFrame returns a Produce v11 frame (no size prefix) of one topic with parts
// partitions, each a record batch of batch bytes.
func produceFrame(parts, batch int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks, req.TimeoutMillis = -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	for i := range parts {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(i)
		rp.Records = bytes.Repeat([]byte{byte(i)}, batch)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return wire.AppendRequest(nil, 1, "bench", req)[4:]
}

// BenchmarkWireDecodeProduce measures what checking a produce body costs next to
// decoding it: check is schema.Check alone, kmsg is kmsg's ReadFrom alone (the decode
// before bodies were checked), decode is wire.Decode (header, check and kmsg). The records are one length check each, so the check's cost follows the number
// of partitions, not the bytes.
func BenchmarkWireDecodeProduce(b *testing.B) {
	for _, c := range []struct{ parts, batch int }{{1, 16 << 10}, {1, 1 << 20}, {64, 16 << 10}, {1000, 1 << 10}} {
		frame := produceFrame(c.parts, c.batch)
		name := fmt.Sprintf("parts=%d/batch=%d", c.parts, c.batch)
		b.Run(name+"/check", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			body := frame[10+len("bench")+1:] // header v2: prefix, client id, tags
			for b.Loop() {
				if err := schema.Check(0, 11, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/kmsg", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			body := frame[10+len("bench")+1:]
			for b.Loop() {
				req := kmsg.NewPtrProduceRequest()
				req.Version = 11
				if err := req.ReadFrom(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := wire.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
