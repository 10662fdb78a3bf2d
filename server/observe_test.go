package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of what the HTTP listener (package observe) reads from the server: readiness, the
// in-process connections of its client, the disks.

// closeHook is a listener that calls hook before it closes.
type closeHook struct {
	net.Listener
	hook func()
}

func (c *closeHook) Close() error {
	c.hook()
	return c.Listener.Close()
}

// TestReadyAndShutdown: a broker is ready once it accepts, and not ready from the first
// step of Shutdown, before its listener closes (/readyz turns 503 before clients are
// refused).
func TestReadyAndShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var readyAtClose atomic.Int32 // 0 not closed, 1 ready, 2 not ready
	var s *Server
	hooked := &closeHook{Listener: ln, hook: func() {
		if s.Ready() {
			readyAtClose.CompareAndSwap(0, 1)
		} else {
			readyAtClose.CompareAndSwap(0, 2)
		}
	}}
	s, err = New(&Options{Listener: hooked, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Ready() {
		t.Fatal("ready before the listener is bound")
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if s.Ready() {
		t.Fatal("ready before the listener accepts")
	}
	if _, err := s.serveBound(); err != nil {
		t.Fatal(err)
	}
	if !s.Ready() {
		t.Fatal("not ready while serving")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readyAtClose.Load(); got != 2 {
		t.Fatalf("listener closed while the broker reported ready (state %d)", got)
	}
	if s.Ready() {
		t.Fatal("ready after Shutdown")
	}
}

// TestServeConn: a connection handed over in process (one end of a net.Pipe) is served
// like one accepted on the first listener, and counted there; after Shutdown it is
// refused.
func TestServeConn(t *testing.T) {
	s := startTest(t, nil)
	client, server := net.Pipe()
	defer client.Close()
	if err := s.ServeConn(server); err != nil {
		t.Fatal(err)
	}
	resp, _ := roundTripTest[*kmsg.ApiVersionsResponse](t, client, 1, kmsg.NewPtrApiVersionsRequest())
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions over the pipe: %+v", resp)
	}
	if l := s.Metrics().Listeners; len(l) != 1 || l[0].Connections != 1 {
		t.Fatalf("listeners %+v, want the pipe counted on PLAINTEXT", l)
	}
	s.Close()
	c2, s2 := net.Pipe()
	defer c2.Close()
	if err := s.ServeConn(s2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeConn after Shutdown: %v", err)
	}
}

// TestServeConnMaxConnections: ServeConn honours max.connections.
func TestServeConnMaxConnections(t *testing.T) {
	s := startTest(t, func(o *Options) { o.MaxConnections = 1 })
	c1, s1 := net.Pipe()
	defer c1.Close()
	if err := s.ServeConn(s1); err != nil {
		t.Fatal(err)
	}
	c2, s2 := net.Pipe()
	defer c2.Close()
	if err := s.ServeConn(s2); !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("second connection over max.connections: %v", err)
	}
}

// TestMetricsDisks: the snapshot reports the data directory's file system.
func TestMetricsDisks(t *testing.T) {
	s := startTest(t, nil)
	d := s.Metrics().Disks
	if len(d) != 1 || d[0].Dir != s.opts.DataDir || d[0].TotalBytes <= 0 || d[0].FreeBytes < 0 || d[0].FreeBytes > d[0].TotalBytes {
		t.Fatalf("disks %+v", d)
	}
}
