package server

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/metadata"
)

// topicOrAutoCreate returns the topic, creating it (num.partitions, no overrides, the
// default replication factor) when auto.create.topics.enable allows, as Kafka's broker
// does for Metadata and Produce. Internal topics are never auto-created (their owners
// create them); otherwise a missing topic is metadata.ErrUnknownTopic. Creating needs
// CREATE on the cluster or the topic (TOPIC_AUTHORIZATION_FAILED), as Kafka's Metadata.
// On a cluster node the topic may exist already without this broker having applied its
// creation yet (a client produces right after CreateTopics through another broker):
// that is metadata.ErrUnknownTopic too (UNKNOWN_TOPIC_OR_PARTITION, which clients
// retry), never TOPIC_ALREADY_EXISTS, which a Produce or Metadata answer cannot carry.
func (s *Server) topicOrAutoCreate(r *request, name string) (*metadata.Topic, error) {
	if t, ok := s.image().Topic(name); ok {
		return t, nil
	}
	if metadata.IsInternal(name) {
		return nil, fmt.Errorf("%w: %s (internal topics are not auto-created)", metadata.ErrUnknownTopic, name)
	}
	if !s.data.broker.Bool("auto.create.topics.enable") {
		return nil, fmt.Errorf("%w: %s (auto.create.topics.enable is false)", metadata.ErrUnknownTopic, name)
	}
	if !r.mayCreateTopic(name) {
		return nil, kerr.TopicAuthorizationFailed
	}
	t, err := s.data.store.CreateTopic(r.ctx, metadata.CreateTopic{Name: name, Partitions: -1, ReplicationFactor: -1})
	if errors.Is(err, metadata.ErrTopicExists) {
		if t, ok := s.image().Topic(name); ok {
			return t, nil
		}
		return nil, fmt.Errorf("%w: %s (created, not applied on this broker yet)", metadata.ErrUnknownTopic, name)
	}
	return t, err
}
