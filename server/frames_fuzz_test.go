package server_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/wire"
)

// panicCatcher is a slog handler that counts the broker's "handler panic" logs, which
// the connection writes when it recovers from a handler that panicked.
type panicCatcher struct {
	slog.Handler
	panics *atomic.Int64
	last   *atomic.Value
}

func (h panicCatcher) Enabled(context.Context, slog.Level) bool { return true }

func (h panicCatcher) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.panics.Add(1)
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { b.WriteString(a.String() + "\n"); return true })
		h.last.Store(b.String())
	}
	return nil
}

func (h panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicCatcher) WithGroup(string) slog.Handler      { return h }

// FuzzServerFrames writes arbitrary bytes to a connection of an in-process broker, as one
// request frame (framed: a size prefix is added) or as a raw byte stream, then closes its
// sending side. Invariants: no handler panics (recovered panics are logged and counted),
// the broker closes or answers the connection within a few seconds, and it still serves
// a new client afterwards. The corpus is seeded with a default request of every API and
// version the broker advertises, and the hostile frame of issue 11. No input is
// skipped: a count or length beyond the frame is refused before kmsg decodes the body
// (wire/schema), so no frame keeps the broker busy.
func FuzzServerFrames(f *testing.F) {
	var panics atomic.Int64
	var last atomic.Value
	s, err := server.Start(&server.Options{
		Listen:  "127.0.0.1:0",
		DataDir: f.TempDir(),
		Logger:  slog.New(panicCatcher{panics: &panics, last: &last}),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	addr := s.Addr().String()

	for _, k := range fuzzAdvertised(f, addr) {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			if d, ok := req.(interface{ Default() }); ok {
				d.Default()
			}
			req.SetVersion(v)
			f.Add(wire.AppendRequest(nil, 1, "fuzz", req)[4:], true)
		}
	}
	f.Add([]byte{0, 18, 0, 9, 0, 0, 0, 1, 0, 0}, true)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, false)
	f.Add([]byte{0, 0, 0, 8, 0, 18, 0, 3}, false)
	f.Add(issue11Frame()[4:], true) // tagged-field count 0xffffffff in the body
	f.Add(issue11Frame(), false)

	f.Fuzz(func(t *testing.T, data []byte, framed bool) {
		if framed {
			data = append(binary.BigEndian.AppendUint32(nil, uint32(len(data))), data...)
		}
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(data); err != nil && !isConnReset(err) {
			t.Fatal(err)
		}
		nc.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, nc); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("broker neither answered nor closed the connection")
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("%d handler panics; last:\n%v", n, last.Load())
		}
		if len(fuzzAdvertised(t, addr)) == 0 {
			t.Fatal("broker advertises nothing")
		}
	})
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// fuzzAdvertised asks the broker at addr for its API ranges (and so checks it is up).
func fuzzAdvertised(tb testing.TB, addr string) []kmsg.ApiVersionsResponseApiKey {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "fuzz", "1"
	if _, err := nc.Write(wire.AppendRequest(nil, 1, "fuzz", req)); err != nil {
		tb.Fatal(err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, b); err != nil || len(b) < 4 {
		tb.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(b[4:]); err != nil {
		tb.Fatal(err)
	}
	return resp.ApiKeys
}
