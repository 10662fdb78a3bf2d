package server

import (
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metadata"
)

// TestTopicsDeleteDisabledVersions: with delete.topic.enable=false, DeleteTopics before v3
// answers INVALID_REQUEST and from v3 TOPIC_DELETION_DISABLED, as Kafka's controller does.
func TestTopicsDeleteDisabledVersions(t *testing.T) {
	s, err := New(&Options{
		DataDir:  t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settings: map[string]string{"delete.topic.enable": "false", "offsets.topic.num.partitions": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.data.store.CreateTopic(t.Context(), metadata.CreateTopic{Name: "kept", Partitions: 1, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version int16
		want    *kerr.Error
	}{{1, kerr.InvalidRequest}, {2, kerr.InvalidRequest}, {3, kerr.TopicDeletionDisabled}, {6, kerr.TopicDeletionDisabled}} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version = tc.version
		if tc.version < 6 {
			req.TopicNames = []string{"kept"}
		} else {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr("kept")
			req.Topics = append(req.Topics, rt)
		}
		resp := call[*kmsg.DeleteTopicsResponse](t, s, req)
		if len(resp.Topics) != 1 {
			t.Fatalf("v%d: %+v", tc.version, resp.Topics)
		}
		wantCode(t, "delete", resp.Topics[0].ErrorCode, tc.want)
	}
	if _, ok := s.image().Topic("kept"); !ok {
		t.Fatal("topic deleted")
	}
}
