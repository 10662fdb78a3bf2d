package wire_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stratalog/strata/wire"
)

// FuzzDecode feeds arbitrary request frames (what ReadFrame returns: header and body, no
// size prefix) to the header and body decoders. Invariants:
//
//   - no panic, whatever the bytes;
//   - ParseHeaderPrefix succeeds exactly when the frame holds 8 bytes, and Decode's
//     header agrees with it (also when Decode fails past the prefix);
//   - a frame that decodes re-encodes (AppendRequest) to a frame that decodes to the
//     same header and to the same bytes again: encode(decode(x)) is a fixed point;
//   - ReadFrame of the frame with its size prefix returns the frame itself;
//   - the cost is bounded by the frame's size: CPU time and bytes allocated within the
//     budgets of checkCost (hostile counts and lengths included: testdata holds a tagged-
//     field count of 0xffffffff, which once cost seconds per frame).
//
// The corpus is seeded with a request of every API key and version kmsg knows, and with
// hostile counts and lengths (hostileFrames).
func FuzzDecode(f *testing.F) {
	for _, frame := range seedRequests() {
		f.Add(frame)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1})                    // ApiVersions v99, nothing else
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0x80})   // null client id, bad tags
	f.Add([]byte{0x7f, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}) // unknown key
	for _, h := range hostileFrames() {
		f.Add(h.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		prefix, perr := wire.ParseHeaderPrefix(frame)
		if (perr == nil) != (len(frame) >= 8) {
			t.Fatalf("ParseHeaderPrefix of %d bytes: %v", len(frame), perr)
		}
		checkCost(t, frame)
		h, req, err := wire.Decode(frame)
		if perr == nil && (h.APIKey != prefix.APIKey || h.APIVersion != prefix.APIVersion || h.CorrelationID != prefix.CorrelationID) {
			t.Fatalf("Decode header %+v, prefix %+v", h, prefix)
		}
		got, rerr := wire.ReadFrame(bytes.NewReader(append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...)), nil, 1<<30)
		if perr == nil && (rerr != nil || !bytes.Equal(got, frame)) {
			t.Fatalf("ReadFrame: %v", rerr)
		}
		if err != nil {
			return
		}
		if req.Key() != h.APIKey || req.GetVersion() != h.APIVersion || req.IsFlexible() != h.Flexible {
			t.Fatalf("request %d v%d flexible %v, header %+v", req.Key(), req.GetVersion(), req.IsFlexible(), h)
		}
		once := wire.AppendRequest(nil, h.CorrelationID, h.ClientID, req)
		h2, req2, err := wire.Decode(once[4:])
		if err != nil {
			t.Fatalf("re-encoded %d v%d does not decode: %v", req.Key(), h.APIVersion, err)
		}
		if h2 != h {
			t.Fatalf("re-decoded header %+v, want %+v", h2, h)
		}
		twice := wire.AppendRequest(nil, h2.CorrelationID, h2.ClientID, req2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("encode(decode(x)) is not stable for key %d v%d", h.APIKey, h.APIVersion)
		}
	})
}
