package share

import "time"

// Config is a share group's settings: the group settings share.* (IncrementalAlterConfigs
// on resource type GROUP) over the broker's group.share.* defaults.
type Config struct {
	// AutoOffsetReset is share.auto.offset.reset: "latest" (default), "earliest" or
	// "by_duration:<ISO-8601 duration>": where a share-partition starts when the group
	// first reads it.
	AutoOffsetReset string
	// ReadCommitted is share.isolation.level=read_committed (default read_uncommitted).
	ReadCommitted bool
	// RecordLockDuration is share.record.lock.duration.ms (broker default
	// group.share.record.lock.duration.ms, 30000).
	RecordLockDuration time.Duration
	// DeliveryCountLimit is share.delivery.count.limit (broker default
	// group.share.delivery.count.limit, 5).
	DeliveryCountLimit int16
	// PartitionMaxRecordLocks is group.share.partition.max.record.locks (2000).
	PartitionMaxRecordLocks int
	// SessionTimeout is share.session.timeout.ms (45000).
	SessionTimeout time.Duration
	// HeartbeatInterval is share.heartbeat.interval.ms (5000).
	HeartbeatInterval time.Duration
	// DeadLetterTopic is errors.deadletterqueue.topic.name (KIP-1191): when not empty,
	// rejected records and records archived at the delivery limit are written there
	// (ManagerOptions.DeadLetters).
	DeadLetterTopic string
	// NoRenew is share.renew.acknowledge.enable=false: members may not extend their
	// locks (acknowledge type Renew, KIP-1222); the server refuses such acknowledgements.
	NoRenew bool
}

// DefaultConfig is Kafka 4.2's defaults.
func DefaultConfig() Config {
	return Config{
		AutoOffsetReset:         "latest",
		RecordLockDuration:      30 * time.Second,
		DeliveryCountLimit:      5,
		PartitionMaxRecordLocks: 2000,
		SessionTimeout:          45 * time.Second,
		HeartbeatInterval:       5 * time.Second,
	}
}

// Limits are the settings PartitionState's operations obey.
func (c Config) Limits() Limits {
	return Limits{LockDuration: c.RecordLockDuration, DeliveryLimit: c.DeliveryCountLimit, MaxRecordLocks: c.PartitionMaxRecordLocks}
}

// GroupConfigs gives each share group's settings. The metadata store's group configs
// (resource type GROUP) implement it; StaticConfigs gives one Config to every group.
// Implementations are safe for concurrent use; the manager asks on every operation, so
// a change applies to the next one.
type GroupConfigs interface {
	ShareConfig(group string) Config
}

// StaticConfigs gives the same settings to every group (the broker's defaults until
// group settings are stored).
type StaticConfigs Config

// ShareConfig returns c (GroupConfigs).
func (c StaticConfigs) ShareConfig(string) Config { return Config(c) }
