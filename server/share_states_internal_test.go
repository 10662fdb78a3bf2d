package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/share"
)

// TestShareStatesShutdownStopsRetries: a read of a share-partition state whose share
// coordinator has no leader is retried (the coordinator moves) for up to
// shareStateTimeout, but not once the broker shuts down: its in-flight ShareFetch would
// otherwise hold the shutdown that long.
func TestShareStatesShutdownStopsRetries(t *testing.T) {
	s := newGroupTestServer(t)
	if s.data.shares == nil {
		t.Fatal("share groups are not served")
	}
	im := s.image().Edit().PutTopic(&metadata.Topic{Name: metadata.ShareGroupStateTopic, ID: metadata.TopicID{7},
		Partitions: []metadata.PartitionState{{Replicas: []int32{2}, Leader: metadata.NoLeader}}}).Build()
	s.data.store = imageStore{s.data.store, im}
	s.opts.Cluster = &ClusterOptions{} // route by the image: the partition has no leader
	st := &shareStates{s: s, local: s.data.shares.store}

	done := make(chan error, 1)
	go func() {
		_, _, err := st.ReadAt(share.Key{Group: "g", TopicID: [16]byte{1}}, -1)
		done <- err
	}()
	s.cancel()
	select {
	case err := <-done:
		if !errors.Is(err, coord.ErrNotAvailable) || !strings.Contains(err.Error(), "shutting down") {
			t.Fatalf("read at shutdown: %v", err)
		}
	case <-time.After(shareStateTimeout / 2):
		t.Fatalf("the read was still retrying %v after the shutdown began", shareStateTimeout/2)
	}
	s.opts.Cluster = nil
}
