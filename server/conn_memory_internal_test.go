package server

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// discardConn is a connection whose writes succeed and go nowhere.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// TestConnWriterIdleHoldsNoBuffers: once a connection writer has flushed and nothing is
// queued, it holds neither a buffered writer nor scratch buffers above idleScratch (an
// idle connection costs no write buffer, issue 20); the next response takes them again.
func TestConnWriterIdleHoldsNoBuffers(t *testing.T) {
	w := &connWriter{nc: discardConn{}}
	resp := kmsg.NewPtrMetadataResponse()
	for i := range 200 { // a response of several KiB, so that the scratch buffer grows
		tp := kmsg.NewMetadataResponseTopic()
		tp.Topic = kmsg.StringPtr(strings.Repeat("t", 40) + string(rune('a'+i%26)))
		resp.Topics = append(resp.Topics, tp)
	}
	h := wire.RequestHeader{APIKey: 3, APIVersion: 1, CorrelationID: 1}
	for round := range 2 {
		n, err := w.write(h, resp)
		if err != nil || n <= idleScratch {
			t.Fatalf("round %d: write: %d bytes, %v; want more than %d", round, n, err, idleScratch)
		}
		if w.bw == nil {
			t.Fatalf("round %d: no buffered writer while writing", round)
		}
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		w.idle()
		if w.bw != nil || cap(w.buf) > idleScratch {
			t.Fatalf("round %d: idle writer holds a buffered writer (%v) or %d bytes of scratch", round, w.bw != nil, cap(w.buf))
		}
	}
}

// TestIdleConnectionsHeap: connections that bootstrapped (ApiVersions) and went idle hold
// little heap each: a small read buffer and no write buffer. With 64 KiB read and write
// buffers per connection this was over 128 KiB each.
func TestIdleConnectionsHeap(t *testing.T) {
	s := startTest(t, nil)
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC() // and what the first left in sync.Pools' victim caches
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	const conns = 200
	before := heap()
	for i := range conns {
		nc := dialTest(t, s)
		req := kmsg.NewPtrApiVersionsRequest()
		sendTest(t, nc, int32(i), req)
		if corr, err := readCorr(nc, 10*time.Second); err != nil || corr != int32(i) {
			t.Fatalf("connection %d: correlation %d, %v", i, corr, err)
		}
	}
	after := heap()
	per := (int64(after) - int64(before)) / conns
	t.Logf("heap in use: %d KiB before, %d KiB with %d idle connections: %d bytes each", before>>10, after>>10, conns, per)
	if per > 32<<10 {
		t.Fatalf("%d bytes of heap per idle connection; want at most 32 KiB", per)
	}
}
