package local

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/storetest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const testNode = 1

func openStore(t *testing.T, fs vfs.FS, rules metadata.Rules) *Store {
	t.Helper()
	s, err := Open("/data", &Options{FS: fs, NodeID: testNode, Logger: quietLogger(), Rules: rules})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// TestStoreConformance runs the metadata.Store conformance suite over the local store, on
// an in-memory file system (a restart reopens the same one).
func TestStoreConformance(t *testing.T) {
	storetest.Run(t, testNode, func(t *testing.T) storetest.Opener {
		fs := vfs.NewMem()
		return func(t *testing.T, rules metadata.Rules) metadata.Store { return openStore(t, fs, rules) }
	})
}
