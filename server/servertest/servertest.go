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
	if dir == "" {
		dir = t.TempDir()
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := server.Start(&server.Options{
		Listen:   "127.0.0.1:0",
		DataDir:  dir,
		Settings: settings,
		Logger:   logger,
	})
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
