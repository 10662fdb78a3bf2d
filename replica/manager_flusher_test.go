package replica

import (
	"testing"

	"github.com/stratalog/strata/internal/testutil"
	"github.com/stratalog/strata/internal/vfs"
)

// TestManagerSharedFlusher: the partitions share one flusher by default, and each runs
// its own with strata.log.flusher.shared false; a durable produce works either way.
func TestManagerSharedFlusher(t *testing.T) {
	for _, c := range []struct {
		setting string
		shared  bool
	}{{"", true}, {"true", true}, {"false", false}} {
		t.Run("shared="+c.setting, func(t *testing.T) {
			var broker map[string]string
			if c.setting != "" {
				broker = map[string]string{"strata.log.flusher.shared": c.setting}
			}
			n := openTestManager(t, vfs.NewMem(), broker)
			defer closeManager(t, n)
			if got := n.flusher != nil; got != c.shared {
				t.Fatalf("shared flusher %v, want %v", got, c.shared)
			}
			tt, err := n.CreateTopic("t", 2, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.Partitions() {
				appendDurable(t, p, testutil.Batch(testutil.BatchOptions{Records: 2, ValueSize: 100, Seed: 1}))
			}
		})
	}
}
