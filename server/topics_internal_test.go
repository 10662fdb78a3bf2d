package server

import (
	"context"
	"errors"
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

// existsElsewhere is a metadata store whose controller already has every topic it is
// asked to create, while this broker's image has not applied them yet.
type existsElsewhere struct{ metadata.Store }

func (existsElsewhere) CreateTopic(context.Context, metadata.CreateTopic) (*metadata.Topic, error) {
	return nil, metadata.ErrTopicExists
}

// TestTopicsAutoCreateNotAppliedYet: auto-creation (Produce, Metadata) of a topic that
// another broker's client created a moment ago, not in this broker's image yet, answers
// UNKNOWN_TOPIC_OR_PARTITION (retriable), not TOPIC_ALREADY_EXISTS — librdkafka's
// 0103-transactions producing right after its CreateTopics on a cluster failed on it.
func TestTopicsAutoCreateNotAppliedYet(t *testing.T) {
	s := startTest(t, nil)
	real := s.data.store
	s.data.store = existsElsewhere{real}
	defer func() { s.data.store = real }()
	_, err := s.topicOrAutoCreate(&request{ctx: t.Context()}, "fresh")
	if !errors.Is(err, metadata.ErrUnknownTopic) || errorCode(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto-create of a topic created elsewhere: %v (code %d), want UNKNOWN_TOPIC_OR_PARTITION", err, errorCode(err))
	}
}
