package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// seedRequests returns a request frame (without the size prefix) for every API key and
// version that kmsg knows, each with its default field values.
func seedRequests() [][]byte {
	var out [][]byte
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req := kmsg.RequestForKey(k)
			if d, ok := req.(interface{ Default() }); ok {
				d.Default()
			}
			req.SetVersion(v)
			frame := wire.AppendRequest(nil, int32(k)<<16|int32(v), "seed-client", req)
			out = append(out, frame[4:])
		}
	}
	return out
}

func sized(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestWireReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte{7}, wire.ExactFrameSize+5) // above the chunked-read threshold
	tests := []struct {
		name    string
		in      []byte
		limit   int32
		want    []byte
		wantErr error
	}{
		{"ok", sized([]byte("12345678")), 1024, []byte("12345678"), nil},
		{"big ok", sized(big), 16 << 20, big, nil},
		{"empty", nil, 1024, nil, io.EOF},
		{"short size", []byte{0, 0}, 1024, nil, io.ErrUnexpectedEOF},
		{"below header", sized([]byte("1234567")), 1024, nil, wire.ErrMalformed},
		{"negative", []byte{0x80, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 1024, nil, wire.ErrMalformed},
		{"2 GiB", []byte{0x7f, 0xff, 0xff, 0xff}, wire.DefaultMaxRequestSize, nil, wire.ErrFrameTooLarge},
		{"over limit", sized(make([]byte, 1025)), 1024, nil, wire.ErrFrameTooLarge},
		{"truncated", sized([]byte("12345678"))[:8], 1024, nil, io.ErrUnexpectedEOF},
		{"big truncated", sized(big)[:2<<20], 16 << 20, nil, io.ErrUnexpectedEOF},
		{"big truncated past exact", sized(big)[:wire.ExactFrameSize+2], 16 << 20, nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wire.ReadFrame(bytes.NewReader(tt.in), nil, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}

func TestWireFramePool(t *testing.T) {
	var p wire.FramePool
	for _, n := range []int{8, 600, 1 << 10, 1<<10 + 1, 3000, 40 << 10, 64 << 10, 64<<10 + 1, 1 << 20, 3<<20 + 7, wire.ExactFrameSize, wire.ExactFrameSize + 1} {
		for range 3 {
			b := p.Get(n)
			if len(b) != n {
				t.Fatalf("Get(%d): len %d", n, len(b))
			}
			got, err := wire.ReadFrameAlloc(bytes.NewReader(sized(bytes.Repeat([]byte{1}, n+8))), 1<<30, p.Get)
			if err != nil || len(got) != n+8 {
				t.Fatalf("ReadFrameAlloc %d: %d bytes, %v", n+8, len(got), err)
			}
			p.Put(b)
			p.Put(got)
		}
	}
	p.Put(make([]byte, 100)) // not pooled: dropped
	p.Put(nil)
}

func TestWireDecodeEveryRequest(t *testing.T) {
	for _, frame := range seedRequests() {
		prefix, err := wire.ParseHeaderPrefix(frame)
		if err != nil {
			t.Fatal(err)
		}
		h, req, err := wire.Decode(frame)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(prefix.APIKey), prefix.APIVersion, err)
		}
		if h.APIKey != prefix.APIKey || h.APIVersion != prefix.APIVersion || h.CorrelationID != prefix.CorrelationID ||
			h.ClientID != "seed-client" || h.Flexible != req.IsFlexible() || req.GetVersion() != h.APIVersion {
			t.Fatalf("%s v%d: header %+v", kmsg.NameForKey(prefix.APIKey), prefix.APIVersion, h)
		}
		again := wire.AppendRequest(nil, h.CorrelationID, h.ClientID, req)
		if !bytes.Equal(again[4:], frame) {
			t.Fatalf("%s v%d: re-encoding differs", kmsg.NameForKey(h.APIKey), h.APIVersion)
		}
	}
}

func TestWireAppendResponseHeader(t *testing.T) {
	for _, tc := range []struct {
		key      int16
		flexible bool
		wantTag  bool
	}{
		{3, false, false}, {3, true, true}, {18, true, false}, {18, false, false},
	} {
		resp := kmsg.ResponseForKey(tc.key)
		h := wire.RequestHeader{APIKey: tc.key, CorrelationID: 77, Flexible: tc.flexible}
		out := wire.AppendResponse([]byte("xx"), h, resp)
		body := resp.AppendTo(nil)
		want := 4 + 4 + len(body)
		if tc.wantTag {
			want++
		}
		if len(out)-2 != want || int(binary.BigEndian.Uint32(out[2:])) != want-4 || binary.BigEndian.Uint32(out[6:]) != 77 {
			t.Errorf("key %d flexible %v: bad frame % x", tc.key, tc.flexible, out)
		}
	}
}
