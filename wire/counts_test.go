package wire_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/internal/testutil/kfill"
	"github.com/stratalog/strata/wire"
)

// hostileValues are counts and lengths far beyond any frame, in each encoding a request
// uses: uvarint (compact lengths and counts, tag counts and sizes), int32 (arrays,
// bytes) and int16 (strings), and the nulls.
var hostileValues = [][]byte{
	{0xff, 0xff, 0xff, 0xff, 0x0f},              // uvarint 2^32-1
	{0x80, 0x80, 0x80, 0x80, 0x08},              // uvarint 2^31
	{0xff, 0xff, 0x7f},                          // uvarint 2^21-1
	{0x7f, 0xff, 0xff, 0xff},                    // int32 2^31-1
	binary.BigEndian.AppendUint32(nil, 1<<24),   // int32 2^24
	{0xff, 0xff, 0xff, 0xfe},                    // int32 -2
	{0x7f, 0xff},                                // int16 32767
	{0xff, 0xff},                                // int16 -1, or part of a uvarint
	{0x00},                                      // compact null
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},  // bad uvarint
	binary.AppendUvarint(nil, 10_001),           // tag count above the cap
	binary.BigEndian.AppendUint32(nil, 0x10000), // int32 65536
}

// allRequests lists every API key and version kmsg knows.
func allRequests() [][2]int16 {
	var all [][2]int16
	kfill.Each(func(k, v int16) { all = append(all, [2]int16{k, v}) })
	return all
}

// spliced returns a copy of frame with value written at off: over the bytes there, or
// inserted before them.
func spliced(frame []byte, off int, value []byte, insert bool) []byte {
	out := append([]byte(nil), frame[:off]...)
	out = append(out, value...)
	if !insert {
		off = min(len(frame), off+len(value))
	}
	return append(out, frame[off:]...)
}

// FuzzDecodeCounts aims mutations at counts and lengths: a sound request of one API and
// version (which), its fields random (seed), gets a hostile count or length (kind) written
// over or inserted at an offset of its frame (off). Invariant: decoding it stays within
// the CPU and allocation budget of its size (checkCost), whether it decodes or fails.
// The corpus holds every API and version kmsg knows.
func FuzzDecodeCounts(f *testing.F) {
	all := allRequests()
	for i := range all {
		f.Add(uint16(i), uint16(12+i%32), uint8(i), uint64(i))
	}
	f.Fuzz(func(t *testing.T, which, off uint16, kind uint8, seed uint64) {
		kv := all[int(which)%len(all)]
		req := kfill.Request(rand.New(rand.NewPCG(seed, seed)), kv[0], kv[1])
		frame := wire.AppendRequest(nil, 1, "fuzz", req)[4:]
		v := hostileValues[int(kind>>1)%len(hostileValues)]
		checkCost(t, spliced(frame, int(off)%len(frame), v, kind&1 == 1))
	})
}

// TestWireDecodeCountsEverywhere writes the first six hostile values over every offset of the body
// of a sound request of every API kmsg knows, at its first and last version and its
// first flexible one. Each request's frames must decode or fail within the CPU budget
// of one frame each.
func TestWireDecodeCountsEverywhere(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	frames := 0
	for _, kv := range allRequests() {
		req := kfill.Request(r, kv[0], kv[1])
		flexible := req.IsFlexible()
		if kv[1] > 0 && kv[1] < req.MaxVersion() && (!flexible || kfill.Request(r, kv[0], kv[1]-1).IsFlexible()) {
			continue
		}
		frame := wire.AppendRequest(nil, 1, "", req)[4:]
		start, n := cpuTime(), 1
		for off := 10; off < len(frame); off++ { // the body, after a 10-byte header
			for _, v := range hostileValues[:6] {
				_, _, _ = wire.Decode(spliced(frame, off, v, false))
				n++
			}
		}
		if cpu := cpuTime() - start; cpu > time.Duration(n)*cpuBudgetPerKiB/100 {
			t.Fatalf("%s v%d: %d hostile frames took %v of CPU", kmsg.NameForKey(kv[0]), kv[1], n, cpu)
		}
		frames += n
	}
	t.Logf("%d hostile frames", frames)
}
