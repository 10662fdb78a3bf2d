package server

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/wire"
)

// testKey is an API no handler file will ever register (AllocateProducerIDs is broker to
// controller): the tests here install handlers of their own on it.
const testKey = 67

// withTestAPI registers h on testKey for the length of the test. Tests that use it are
// not parallel, so nothing else reads the table meanwhile.
func withTestAPI(t *testing.T, h handlerFunc) {
	t.Helper()
	if _, dup := apis[testKey]; dup {
		t.Fatalf("api key %d is registered: pick another test key", testKey)
	}
	register(testKey, 0, 0, h)
	t.Cleanup(func() { delete(apis, testKey) })
}

func startTest(t *testing.T, mod func(*Options)) *Server {
	t.Helper()
	o := &Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(o)
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dialTest(t *testing.T, s *Server) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func sendTest(t *testing.T, nc net.Conn, corr int32, req kmsg.Request) {
	t.Helper()
	if _, err := nc.Write(wire.AppendRequest(nil, corr, "t", req)); err != nil {
		t.Fatal(err)
	}
}

// readCorr reads one response and returns its correlation id.
func readCorr(nc net.Conn, timeout time.Duration) (int32, error) {
	nc.SetReadDeadline(time.Now().Add(timeout))
	var sz [4]byte
	if _, err := io.ReadFull(nc, sz[:]); err != nil {
		return 0, err
	}
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

func testRequest() kmsg.Request {
	req := kmsg.RequestForKey(testKey)
	req.SetVersion(0)
	return req
}

// TestServerShutdownFinishesInFlight: a graceful Shutdown lets a request already read
// finish and delivers its response before closing.
func TestServerShutdownFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	withTestAPI(t, func(s *Server, r *request) reply {
		return later(func() kmsg.Response {
			started <- struct{}{}
			<-release
			return r.body.ResponseKind()
		})
	})
	s := startTest(t, nil)
	nc := dialTest(t, s)
	sendTest(t, nc, 7, testRequest())
	<-started
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned before the in-flight request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if corr, err := readCorr(nc, 5*time.Second); err != nil || corr != 7 {
		t.Fatalf("in-flight response: corr %d, %v", corr, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := readCorr(nc, 5*time.Second); err == nil {
		t.Fatal("connection still open after Shutdown")
	}
}

// TestServerShutdownDeadline: when the Shutdown context ends first, waiting handlers see
// their request context cancelled and Shutdown returns.
func TestServerShutdownDeadline(t *testing.T) {
	withTestAPI(t, func(s *Server, r *request) reply {
		return later(func() kmsg.Response {
			<-r.ctx.Done()
			return r.body.ResponseKind()
		})
	})
	s := startTest(t, nil)
	nc := dialTest(t, s)
	sendTest(t, nc, 1, testRequest())
	time.Sleep(50 * time.Millisecond) // let the request be read
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
}

// TestServerHandlerPanic: a handler that panics (now or later) costs its connection,
// not the broker.
func TestServerHandlerPanic(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		t.Run(map[bool]string{false: "now", true: "later"}[deferred], func(t *testing.T) {
			withTestAPI(t, func(s *Server, r *request) reply {
				if deferred {
					return later(func() kmsg.Response { panic("boom") })
				}
				panic("boom")
			})
			s := startTest(t, nil)
			nc := dialTest(t, s)
			sendTest(t, nc, 1, kmsg.NewPtrApiVersionsRequest())
			sendTest(t, nc, 2, testRequest())
			sendTest(t, nc, 3, kmsg.NewPtrApiVersionsRequest())
			if corr, err := readCorr(nc, 5*time.Second); err != nil || corr != 1 {
				t.Fatalf("first response: corr %d, %v", corr, err)
			}
			if corr, err := readCorr(nc, 5*time.Second); err == nil {
				t.Fatalf("response %d after a panicked request; want the connection closed", corr)
			}
			other := dialTest(t, s)
			sendTest(t, other, 9, kmsg.NewPtrApiVersionsRequest())
			if corr, err := readCorr(other, 5*time.Second); err != nil || corr != 9 {
				t.Fatalf("other client: corr %d, %v", corr, err)
			}
		})
	}
}

// TestServerFlushBeforeSlowReply: a quick response queued before a slow one is written
// at once, not held back until the slow one is ready.
func TestServerFlushBeforeSlowReply(t *testing.T) {
	release := make(chan struct{})
	withTestAPI(t, func(s *Server, r *request) reply {
		return later(func() kmsg.Response {
			<-release
			return r.body.ResponseKind()
		})
	})
	s := startTest(t, nil)
	nc := dialTest(t, s)
	sendTest(t, nc, 1, kmsg.NewPtrApiVersionsRequest())
	sendTest(t, nc, 2, testRequest())
	sendTest(t, nc, 3, kmsg.NewPtrApiVersionsRequest())
	if corr, err := readCorr(nc, 5*time.Second); err != nil || corr != 1 {
		t.Fatalf("quick response: corr %d, %v", corr, err)
	}
	close(release)
	for _, want := range []int32{2, 3} {
		if corr, err := readCorr(nc, 5*time.Second); err != nil || corr != want {
			t.Fatalf("response %d: corr %d, %v", want, corr, err)
		}
	}
}
