package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/server"
	"github.com/stratalog/strata/wire"
)

// robustStart starts a broker with Options adjusted by mod and shuts it down at the end.
func robustStart(t *testing.T, mod func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(o)
	}
	s, err := server.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// robustConn is a raw client connection speaking the wire format by hand.
type robustConn struct {
	t  *testing.T
	nc net.Conn
}

func robustDial(t *testing.T, s *server.Server) *robustConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &robustConn{t: t, nc: nc}
}

func (c *robustConn) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *robustConn) send(corr int32, req kmsg.Request) {
	c.t.Helper()
	c.write(wire.AppendRequest(nil, corr, "robust", req))
}

// readResponse reads one response frame and returns its correlation id and the rest.
func (c *robustConn) readResponse() (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sz [4]byte
	if _, err := io.ReadFull(c.nc, sz[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(sz[:])
	if n < 4 || n > 64<<20 {
		return 0, nil, errors.New("bad response size")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.nc, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// expectClosed asserts that the broker closes the connection (reads reach EOF or a reset)
// without sending anything more than skipping responses.
func (c *robustConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c.nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatal("connection not closed by the broker")
	}
}

// apiVersions sends ApiVersions at version v and decodes the answer.
func (c *robustConn) apiVersions(corr int32, v int16) *kmsg.ApiVersionsResponse {
	c.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName, req.ClientSoftwareVersion = "robust", "1"
	c.send(corr, req)
	return c.readApiVersions(corr, v)
}

func (c *robustConn) readApiVersions(corr int32, v int16) *kmsg.ApiVersionsResponse {
	c.t.Helper()
	got, body, err := c.readResponse()
	if err != nil {
		c.t.Fatalf("ApiVersions v%d: %v", v, err)
	}
	if got != corr {
		c.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = v
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("ApiVersions v%d response: %v", v, err)
	}
	return resp
}

// robustServes asserts that the broker answers a new client.
func robustServes(t *testing.T, s *server.Server) {
	t.Helper()
	c := robustDial(t, s)
	if resp := c.apiVersions(1, 3); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	c.nc.Close()
}

// rawFrame builds a request frame with the given header fields and body bytes.
func rawFrame(key, version int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 6)
	b = append(b, "robust"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func TestServerRobustBadInput(t *testing.T) {
	s := robustStart(t, nil)
	// A registered API other than ApiVersions, for the unsupported-version case.
	otherKey, otherMax := int16(3), int16(kmsg.NewPtrMetadataRequest().MaxVersion())
	for _, k := range robustDial(t, s).apiVersions(1, 3).ApiKeys {
		if k.ApiKey != 18 {
			otherKey, otherMax = k.ApiKey, k.MaxVersion
			break
		}
	}
	tests := []struct {
		name      string
		in        []byte
		closeSend bool // half-close after writing: the broker sees EOF
	}{
		{"frame below header size", []byte{0, 0, 0, 3, 1, 2, 3}, false},
		{"negative size", []byte{0x80, 0, 0, 0, 0, 0}, false},
		{"frame claiming 2 GiB", []byte{0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 3}, false},
		{"frame above socket.request.max.bytes", []byte{0x06, 0x40, 0, 1}, false},
		{"truncated frame", rawFrame(18, 3, 1, []byte{0, 0, 0})[:12], true},
		{"truncated size", []byte{0, 0}, true},
		{"unknown api key", rawFrame(30000, 0, 1, nil), false},
		{"api key kmsg knows but not registered", rawFrame(67, 0, 1, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), false},
		{"unsupported version", rawFrame(otherKey, otherMax+1, 1, make([]byte, 64)), false},
		{"negative version", rawFrame(otherKey, -1, 1, nil), false},
		{"undecodable body", rawFrame(3, 1, 1, []byte{0, 0, 0, 9}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := robustDial(t, s)
			c.write(tt.in)
			if tt.closeSend {
				c.nc.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			robustServes(t, s)
		})
	}
	t.Run("random bytes", func(t *testing.T) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, seed))
		for i := range 50 {
			b := make([]byte, 1+rng.IntN(4096))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if i%2 == 0 && len(b) >= 4 { // a plausible size, then garbage
				binary.BigEndian.PutUint32(b, uint32(len(b)-4))
			}
			c := robustDial(t, s)
			c.write(b)
			c.nc.(*net.TCPConn).CloseWrite()
			c.expectClosed()
		}
		robustServes(t, s)
	})
}

// TestServerApiVersionsFallback sends ApiVersions above what the broker supports (franz-go
// sends v5) over a raw socket: the answer is a v0 body with UNSUPPORTED_VERSION and the
// broker's ranges (KIP-511), on a connection that stays open.
func TestServerApiVersionsFallback(t *testing.T) {
	s := robustStart(t, nil)
	c := robustDial(t, s)
	want := c.apiVersions(1, 3)
	for i, v := range []int16{5, 6, 127} {
		corr := int32(100 + i)
		// A body the broker cannot parse at this version: only the header prefix counts.
		c.write(rawFrame(18, v, corr, []byte{0xde, 0xad, 0xbe, 0xef}))
		resp := c.readApiVersions(corr, 0)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d: error %d, want UNSUPPORTED_VERSION", v, resp.ErrorCode)
		}
		if len(resp.ApiKeys) != len(want.ApiKeys) {
			t.Fatalf("v%d: %d ranges, want %d", v, len(resp.ApiKeys), len(want.ApiKeys))
		}
		for j, k := range resp.ApiKeys {
			w := want.ApiKeys[j]
			if k.ApiKey != w.ApiKey || k.MinVersion != w.MinVersion || k.MaxVersion != w.MaxVersion {
				t.Fatalf("v%d: range %+v, want %+v", v, k, w)
			}
			if k.ApiKey == 18 && (k.MinVersion != 0 || k.MaxVersion < 3) {
				t.Fatalf("ApiVersions advertised as %d-%d", k.MinVersion, k.MaxVersion)
			}
		}
	}
	// The client retries in range on the same connection.
	if resp := c.apiVersions(200, 4); resp.ErrorCode != 0 {
		t.Fatalf("v4 after fallback: error %d", resp.ErrorCode)
	}
}

// TestServerPipelined writes many requests at once and reads the answers: they come back
// in request order, each with its correlation id and at its request's version.
func TestServerPipelined(t *testing.T) {
	s := robustStart(t, nil)
	c := robustDial(t, s)
	const n = 300 // more than the per-connection in-flight limit
	var all []byte
	for i := range n {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = int16(i % 5)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "robust", "1"
		all = wire.AppendRequest(all, int32(i*7), "robust", req)
	}
	go func() { // the broker answers while we write; don't deadlock on full buffers
		c.nc.Write(all)
	}()
	for i := range n {
		if resp := c.readApiVersions(int32(i*7), int16(i%5)); resp.ErrorCode != 0 {
			t.Fatalf("request %d: error %d", i, resp.ErrorCode)
		}
	}
}

func TestServerIdleTimeout(t *testing.T) {
	// The busy connection talks ten times per timeout, so that a loaded machine (CI, -race,
	// other jobs) delaying it by most of a second still keeps it open.
	const idle = time.Second
	s := robustStart(t, func(o *server.Options) { o.IdleTimeout = idle })
	busy := robustDial(t, s)
	quiet := robustDial(t, s)
	quiet.apiVersions(1, 0)
	start := time.Now()
	// The busy connection talks more often than the timeout and stays open past it.
	for i := range 15 {
		busy.apiVersions(int32(i), 3)
		time.Sleep(idle / 10)
	}
	quiet.expectClosed()
	if d := time.Since(start); d < idle {
		t.Fatalf("idle connection closed after %v, before the %v timeout", d, idle)
	}
	busy.apiVersions(100, 3)
	robustServes(t, s)
}

func TestServerMaxConnections(t *testing.T) {
	s := robustStart(t, func(o *server.Options) { o.MaxConnections = 2 })
	a, b := robustDial(t, s), robustDial(t, s)
	a.apiVersions(1, 3)
	b.apiVersions(1, 3)
	extra := robustDial(t, s)
	extra.expectClosed()
	a.nc.Close()
	// The slot frees once the broker has seen the close.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := robustDial(t, s)
		c.send(1, kmsg.NewPtrApiVersionsRequest())
		if _, _, err := c.readResponse(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.apiVersions(2, 3)
}

func TestServerMaxRequestBytes(t *testing.T) {
	s := robustStart(t, func(o *server.Options) { o.MaxRequestBytes = 4096 })
	c := robustDial(t, s)
	c.apiVersions(1, 3)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = string(bytes.Repeat([]byte{'x'}, 5000))
	c.send(2, req)
	c.expectClosed()
	robustServes(t, s)
}

// TestServerShutdownRefuses checks that Shutdown closes idle connections, refuses new
// ones and that Serve reports ErrServerClosed.
func TestServerShutdownRefuses(t *testing.T) {
	o := &server.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &robustConn{t: t, nc: nc}
	c.apiVersions(1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := s.Serve(ln); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if nc, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		nc.Close()
		t.Fatal("listener still accepting after Shutdown")
	}
}

// logLines is a slog handler that keeps the message and attributes of every record.
type logLines struct {
	mu    *sync.Mutex
	lines *[]string
}

func (h logLines) Enabled(context.Context, slog.Level) bool { return true }
func (h logLines) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logLines) WithGroup(string) slog.Handler            { return h }
func (h logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

// TestServerHostileFrame sends the frame of issue 11: Metadata v12, 93 bytes, whose body
// ends in a tagged-field count of 0xffffffff (kmsg alone looped over it for 46 s of CPU).
// The broker closes the connection at once with one log line and serves the next client.
func TestServerHostileFrame(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	s := robustStart(t, func(o *server.Options) { o.Logger = slog.New(logLines{&mu, &lines}) })
	frame := issue11Frame()
	if len(frame) != 93 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	c := robustDial(t, s)
	c.write(frame)
	c.expectClosed()
	robustServes(t, s)
	mu.Lock()
	defer mu.Unlock()
	var closes []string
	for _, l := range lines {
		if strings.Contains(l, "closing connection") {
			closes = append(closes, l)
		}
	}
	if len(closes) != 1 || !strings.Contains(closes[0], "tagged fields") {
		t.Fatalf("log lines about the close: %q", closes)
	}
	t.Log(closes[0])
}

// issue11Frame returns the frame (size prefix included) of TestServerHostileFrame.
func issue11Frame() []byte {
	body := []byte{0}                               // header tags
	body = append(body, 2)                          // one topic
	body = append(body, make([]byte, 16)...)        // topic id
	body = append(body, 6, 't', 'o', 'p', 'i', 'c') // topic name
	body = append(body, 0, 0, 0)                    // topic tags, two bools
	body = append(body, 0xff, 0xff, 0xff, 0xff, 0x0f)
	clientID := strings.Repeat("c", 47) // 93 bytes in all
	frame := binary.BigEndian.AppendUint32(nil, uint32(8+2+len(clientID)+len(body)))
	frame = append(frame, 0, 3, 0, 12, 0, 0, 0, 1, 0, byte(len(clientID)))
	frame = append(append(frame, clientID...), body...)
	return frame
}
