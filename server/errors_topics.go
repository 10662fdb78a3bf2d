package server

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/partition"
)

func init() {
	mapErrors(
		errMapping{partition.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
		errMapping{partition.ErrTopicExists, kerr.TopicAlreadyExists},
		errMapping{partition.ErrInvalidTopicName, kerr.InvalidTopicException},
		errMapping{partition.ErrInvalidPartitions, kerr.InvalidPartitions},
		errMapping{partition.ErrInvalidConfig, kerr.InvalidConfig},
		errMapping{partition.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
		errMapping{partition.ErrInternalTopic, kerr.InvalidRequest},
		errMapping{config.ErrUnknown, kerr.InvalidConfig},
		errMapping{config.ErrInvalid, kerr.InvalidConfig},
		errMapping{config.ErrReadOnly, kerr.InvalidRequest},
	)
}

// errMessage is the error message of a response entry: nil for no error.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}
