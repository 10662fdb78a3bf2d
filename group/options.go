package group

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/stratalog/strata/coord"
	"github.com/stratalog/strata/group/assign"
)

// Defaults, with Kafka's names.
const (
	DefaultNumPartitions          = 50                 // offsets.topic.num.partitions
	DefaultInitialRebalanceDelay  = 3 * time.Second    // group.initial.rebalance.delay.ms
	DefaultMinSessionTimeout      = 6 * time.Second    // group.min.session.timeout.ms
	DefaultMaxSessionTimeout      = 30 * time.Minute   // group.max.session.timeout.ms
	DefaultOffsetsRetention       = 7 * 24 * time.Hour // offsets.retention.minutes (10080)
	DefaultRetentionCheckInterval = 10 * time.Minute   // offsets.retention.check.interval.ms
	DefaultMaxMetadataBytes       = 4096               // offset.metadata.max.bytes

	DefaultConsumerSessionTimeout    = 45 * time.Second // group.consumer.session.timeout.ms
	DefaultConsumerHeartbeatInterval = 5 * time.Second  // group.consumer.heartbeat.interval.ms
)

// Options configures a Coordinator. A nil *Options passed to New means defaults, which
// keep everything in memory (a coord.MemLog per partition).
type Options struct {
	// OpenLog returns partition p of __consumer_offsets, creating it if needed. Load calls
	// it and replays the returned log. nil: a coord.MemLog per partition.
	OpenLog func(p int32) (coord.Log, error)
	// NumPartitions is offsets.topic.num.partitions. Default 50.
	NumPartitions int32
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the first
	// rebalance of an empty group waits for more members. Default 3s; negative means 0.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout / MaxSessionTimeout are group.min/max.session.timeout.ms.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes. Default 7 days.
	OffsetsRetention time.Duration
	// RetentionCheckInterval is offsets.retention.check.interval.ms. Default 10 minutes.
	RetentionCheckInterval time.Duration
	// MaxMetadataBytes is offset.metadata.max.bytes. Default 4096.
	MaxMetadataBytes int
	// ConsumerSessionTimeout is group.consumer.session.timeout.ms: how long a KIP-848
	// member stays without heartbeating. Default 45s.
	ConsumerSessionTimeout time.Duration
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms: how often KIP-848
	// members are told to heartbeat. Default 5s.
	ConsumerHeartbeatInterval time.Duration
	// The bounds of ConsumerSessionTimeout and ConsumerHeartbeatInterval:
	// group.consumer.{min,max}.session.timeout.ms and
	// group.consumer.{min,max}.heartbeat.interval.ms. Zero: no bound.
	ConsumerMinSessionTimeout, ConsumerMaxSessionTimeout       time.Duration
	ConsumerMinHeartbeatInterval, ConsumerMaxHeartbeatInterval time.Duration
	// GroupSettings returns a group's own consumer.session.timeout.ms and
	// consumer.heartbeat.interval.ms (its group configs, Kafka's GroupConfig), read at
	// every heartbeat so that a change applies from the next one; a zero field (or nil
	// GroupSettings) means the broker's (ConsumerSessionTimeout, ConsumerHeartbeatInterval).
	// It must not block: it is called with a group's lock held.
	GroupSettings func(group string) GroupSettings
	// ConsumerMigration is group.consumer.migration.policy: whether an empty classic group
	// becomes a consumer group when a KIP-848 member joins (upgrade), and back (downgrade).
	// Default bidirectional.
	ConsumerMigration MigrationPolicy
	// ConsumerAssignors is group.consumer.assignors: the server-side assignors members may
	// name (assign.ByName), the first being the default. Default uniform, range.
	ConsumerAssignors []string
	// ConsumerMaxSize is group.consumer.max.size: the most members of a consumer group; a
	// member joining a full group gets ErrGroupMaxSizeReached. Default math.MaxInt32.
	ConsumerMaxSize int
	// Topics resolves the topics KIP-848 members subscribe to (by name or by regular
	// expression) against the broker's metadata. nil: no topic exists.
	Topics TopicResolver
	// Shares, if set, returns the share groups' shard of a partition being loaded (Kafka
	// keeps share groups in __consumer_offsets too; package share's Groups.OpenPartition):
	// the partition's share group records (key versions 9–15) are replayed into it, its
	// Loaded and Unloaded run with the consumer groups'. nil: those records are skipped.
	Shares func(p *coord.Partition) coord.Shard
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Clock; nil means coord.RealClock.
	Clock coord.Clock
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.NumPartitions == 0 {
		o.NumPartitions = DefaultNumPartitions
	}
	if o.InitialRebalanceDelay == 0 {
		o.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	} else if o.InitialRebalanceDelay < 0 {
		o.InitialRebalanceDelay = 0
	}
	if o.MinSessionTimeout == 0 {
		o.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if o.MaxSessionTimeout == 0 {
		o.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if o.OffsetsRetention == 0 {
		o.OffsetsRetention = DefaultOffsetsRetention
	}
	if o.RetentionCheckInterval == 0 {
		o.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	if o.ConsumerSessionTimeout == 0 {
		o.ConsumerSessionTimeout = DefaultConsumerSessionTimeout
	}
	if o.ConsumerHeartbeatInterval == 0 {
		o.ConsumerHeartbeatInterval = DefaultConsumerHeartbeatInterval
	}
	if len(o.ConsumerAssignors) == 0 {
		o.ConsumerAssignors = []string{"uniform", "range"}
	}
	if o.ConsumerMaxSize == 0 {
		o.ConsumerMaxSize = math.MaxInt32
	}
	if o.Topics == nil {
		o.Topics = noTopics{}
	}
	if o.MaxMetadataBytes == 0 {
		o.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = coord.RealClock
	}
}

// Validate reports an invalid option (call after EnsureDefaults).
func (o *Options) Validate() error {
	switch {
	case o.NumPartitions < 1:
		return fmt.Errorf("group: offsets.topic.num.partitions %d < 1", o.NumPartitions)
	case o.MinSessionTimeout < 0 || o.MaxSessionTimeout < o.MinSessionTimeout:
		return errors.New("group: group.min.session.timeout.ms must be <= group.max.session.timeout.ms")
	case o.OffsetsRetention < 0:
		return errors.New("group: offsets.retention.minutes must not be negative")
	case o.RetentionCheckInterval < 0:
		return errors.New("group: offsets.retention.check.interval.ms must not be negative")
	case o.ConsumerMaxSize < 1:
		return fmt.Errorf("group: group.consumer.max.size %d < 1", o.ConsumerMaxSize)
	case o.ConsumerSessionTimeout <= o.ConsumerHeartbeatInterval:
		return errors.New("group: group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms")
	case !within(o.ConsumerSessionTimeout, o.ConsumerMinSessionTimeout, o.ConsumerMaxSessionTimeout):
		return errors.New("group: group.consumer.session.timeout.ms must be between group.consumer.min.session.timeout.ms and group.consumer.max.session.timeout.ms")
	case !within(o.ConsumerHeartbeatInterval, o.ConsumerMinHeartbeatInterval, o.ConsumerMaxHeartbeatInterval):
		return errors.New("group: group.consumer.heartbeat.interval.ms must be between group.consumer.min.heartbeat.interval.ms and group.consumer.max.heartbeat.interval.ms")
	case o.ConsumerMigration > MigrationDowngrade || o.ConsumerMigration < 0:
		return fmt.Errorf("group: group.consumer.migration.policy %d unknown", o.ConsumerMigration)
	}
	for _, a := range o.ConsumerAssignors {
		if _, ok := assign.ByName[a]; !ok {
			return fmt.Errorf("group: group.consumer.assignors: unknown assignor %q (want uniform or range)", a)
		}
	}
	return nil
}

// GroupSettings are a consumer group's own settings (KIP-848 group configs); zero fields
// take the broker's.
type GroupSettings struct {
	SessionTimeout, HeartbeatInterval time.Duration
}

// consumerSettings returns the session timeout and heartbeat interval of consumer group
// id: its own settings (within the broker's bounds), else the broker's.
func (o *Options) consumerSettings(id string) (session, heartbeat time.Duration) {
	session, heartbeat = o.ConsumerSessionTimeout, o.ConsumerHeartbeatInterval
	if o.GroupSettings == nil {
		return session, heartbeat
	}
	gs := o.GroupSettings(id)
	if gs.SessionTimeout > 0 {
		session = clamp(gs.SessionTimeout, o.ConsumerMinSessionTimeout, o.ConsumerMaxSessionTimeout)
	}
	if gs.HeartbeatInterval > 0 {
		heartbeat = clamp(gs.HeartbeatInterval, o.ConsumerMinHeartbeatInterval, o.ConsumerMaxHeartbeatInterval)
	}
	return session, heartbeat
}

// clamp brings d within [lo, hi], a zero bound being none.
func clamp(d, lo, hi time.Duration) time.Duration {
	if lo > 0 && d < lo {
		return lo
	}
	if hi > 0 && d > hi {
		return hi
	}
	return d
}

// within reports whether min <= d <= max, a zero bound being none.
func within(d, lo, hi time.Duration) bool { return (lo == 0 || d >= lo) && (hi == 0 || d <= hi) }

// MigrationPolicy is group.consumer.migration.policy.
type MigrationPolicy int8

// The migration policies; the zero value is Kafka's default.
const (
	MigrationBidirectional MigrationPolicy = iota // default
	MigrationDisabled
	MigrationUpgrade
	MigrationDowngrade
)

// ParseMigrationPolicy reads Kafka's name of a migration policy.
func ParseMigrationPolicy(s string) (MigrationPolicy, error) {
	switch strings.ToLower(s) {
	case "bidirectional":
		return MigrationBidirectional, nil
	case "disabled":
		return MigrationDisabled, nil
	case "upgrade":
		return MigrationUpgrade, nil
	case "downgrade":
		return MigrationDowngrade, nil
	}
	return 0, fmt.Errorf("group: group.consumer.migration.policy %q unknown", s)
}

func (p MigrationPolicy) upgrade() bool { return p == MigrationBidirectional || p == MigrationUpgrade }
func (p MigrationPolicy) downgrade() bool {
	return p == MigrationBidirectional || p == MigrationDowngrade
}
