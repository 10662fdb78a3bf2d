package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

type hostile struct {
	name  string
	frame []byte // without the size prefix
}

// metadataV12Frame is the frame of issue 11: a Metadata v12 request of 93 bytes in all
// (size prefix included) whose body ends in a tagged-field count of 0xffffffff. kmsg
// looped over that count for 46 s of CPU before failing.
func metadataV12Frame() []byte {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	name := "topic"
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	frame := wire.AppendRequest(nil, 7, "", req)
	clientID := strings.Repeat("c", 93-len(frame)-4) // the five bytes of the count: 93
	frame = wire.AppendRequest(nil, 7, clientID, req)[4:]
	return append(frame[:len(frame)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
}

// hostileFrames returns request frames whose counts or lengths are far beyond their
// size, each of which kmsg alone would loop over or allocate for.
func hostileFrames() []hostile {
	header := func(key, v int16, flexible bool) []byte {
		h := binary.BigEndian.AppendUint16(nil, uint16(key))
		h = binary.BigEndian.AppendUint16(h, uint16(v))
		h = append(h, 0, 0, 0, 1, 0xff, 0xff) // correlation id, null client id
		if flexible {
			h = append(h, 0)
		}
		return h
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	maxU32 := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	return []hostile{
		{"metadata v12 body tag count 0xffffffff", metadataV12Frame()},
		{"metadata v12 topic tag count 0xffffffff", cat(header(3, 12, true), []byte{2}, make([]byte, 16), []byte{0}, maxU32, []byte{1, 0, 0})},
		{"api versions v3 body tag count 0xffffffff", cat(header(18, 3, true), []byte{2, 'x', 2, '1'}, maxU32)},
		{"header tag count 0xffffffff", cat(header(18, 3, false), maxU32)},
		{"produce v3 topics 2^31-1", cat(header(0, 3, false), []byte{0xff, 0xff, 0, 1, 0, 0, 0, 100, 0x7f, 0xff, 0xff, 0xff})},
		{"produce v9 compact topics 2^32-2", cat(header(0, 9, true), []byte{0, 0, 1, 0, 0, 0, 100}, maxU32)},
		{"produce v3 records 2^31-1", cat(header(0, 3, false), []byte{0xff, 0xff, 0, 1, 0, 0, 0, 100, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})},
		{"fetch v12 partitions 2^32-2 in a topic", cat(header(1, 12, true), make([]byte, 25), []byte{2, 2, 't'}, maxU32)},
		{"fetch v4 partitions 2^31-1 in a topic", cat(header(1, 4, false), make([]byte, 17), []byte{0, 0, 0, 1, 0, 1, 't', 0x7f, 0xff, 0xff, 0xff})},
		{"create topics v5 string of 32767", cat(header(19, 5, true), []byte{2, 0xff, 0xff, 0x01, 'x'})},
		{"describe configs v4 nested tag count", cat(header(32, 4, true), []byte{2, 2, 2, 't', 0}, maxU32)},
	}
}

// TestWireDecodeHostile: frames with hostile counts and lengths fail with ErrMalformed,
// each within the CPU and allocation budget of a frame of its size.
func TestWireDecodeHostile(t *testing.T) {
	if n := len(metadataV12Frame()) + 4; n != 93 {
		t.Fatalf("issue frame of %d bytes, want 93", n)
	}
	// The header's tagged fields are capped like the body's: 10,000 pass, 10,001 do not.
	for _, n := range []int{10_000, 10_001} {
		frame := []byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff} // ApiVersions v3, null client id
		frame = binary.AppendUvarint(frame, uint64(n))
		frame = append(frame, bytes.Repeat([]byte{100, 0}, n)...)
		frame = append(frame, 1, 1, 0) // empty software name and version, no tags
		if _, _, err := wire.Decode(frame); (err != nil) != (n > 10_000) {
			t.Fatalf("%d header tags: %v", n, err)
		}
	}
	for _, h := range hostileFrames() {
		t.Run(h.name, func(t *testing.T) {
			if err := checkCost(t, h.frame); !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			} else {
				t.Log(err)
			}
		})
	}
}
