package servertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stratalog/strata/server"
)

// StartBroker starts an in-process broker on a free loopback port with a temporary data
// directory and shuts it down when the test ends. settings are broker settings by Kafka
// name; dir, if not empty, is used as the data directory (to restart on the same data).
func StartBroker(t testing.TB, dir string, settings map[string]string) *server.Server {
	t.Helper()
	return Start(t, &server.Options{Listen: "127.0.0.1:0", DataDir: dir, Settings: settings})
}

// Start starts an in-process broker with opts (several listeners, an authorizer ...) and
// shuts it down when the test ends. An empty DataDir is a temporary directory, a nil
// Logger discards the logs (or, with -v, writes them to the test's log).
func Start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	o := *opts
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	s, err := server.Start(&o)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	})
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
