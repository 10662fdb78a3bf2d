package server

import (
	"net"
	"slices"
	"time"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/group/assign"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
)

// Wiring of the consumer-group coordinator (package group, on the coordinator runtime of
// package coord) into the Server: openData opens it once the topics are open
// (openGroups); this broker leads every partition of __consumer_offsets, so it loads them
// all, which replays them (partitions of the replica manager, groups_partition.go) to
// rebuild every group and committed offset; closeData closes it before the topics close.

// openGroups creates the group coordinator and, on a single node, loads every partition
// of __consumer_offsets as their leader (epoch 0, the single node's, whether the topic
// exists yet or not: it is created on first use), then has it follow the replica
// manager's leadership changes of the topic (none on a single node; a Load at an epoch
// already hosted changes nothing). A cluster node loads only the partitions it leads, as
// the replica manager tells it (OnLeadership calls back at once for those led already);
// FindCoordinator creates the topic there (10_find_coordinator.go).
func (s *Server) openGroups() (*group.Coordinator, error) {
	o := s.groupOptions()
	if shareWanted(s.data.broker) {
		s.data.shareGroups = s.newShareGroups(o.NumPartitions)
		o.Shares = s.data.shareGroups.OpenPartition
	}
	c, err := group.New(o)
	if err != nil {
		return nil, err
	}
	if err := s.hostCoordinator(c, metadata.ConsumerOffsetsTopic); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// hostedCoordinator is what hostCoordinator needs of a coordinator (group, txn).
type hostedCoordinator interface {
	NumPartitions() int32
	Load(p, epoch int32) error
	Unload(p, epoch int32)
}

// hostCoordinator loads every partition of c's internal topic as their leader (epoch 0,
// the single node's, whether the topic exists yet or not: it is created on first use),
// then has c follow the replica manager's leadership changes of the topic (none on a
// single node; a Load at an epoch already hosted changes nothing).
func (s *Server) hostCoordinator(c hostedCoordinator, topic string) error {
	for p := range c.NumPartitions() {
		if s.opts.Cluster != nil {
			break
		}
		if err := c.Load(p, 0); err != nil {
			return err
		}
	}
	s.data.replicas.OnLeadership(func(t string, index, epoch int32, leader bool) {
		if t != topic {
			return
		}
		if !leader {
			c.Unload(index, epoch)
		} else if err := c.Load(index, epoch); err != nil {
			s.log.Warn("loading a coordinator partition led here failed", "topic", topic, "partition", index, "epoch", epoch, "err", err)
		}
	})
	return nil
}

// groupOptions derives the coordinator's options from the broker settings.
func (s *Server) groupOptions() *group.Options {
	r := s.data.broker
	if r == nil {
		r = config.ResolveBroker(s.opts.Settings)
	}
	o := &group.Options{
		NumPartitions:          s.offsetsPartitions(int32(r.Int64("offsets.topic.num.partitions"))),
		InitialRebalanceDelay:  r.Millis("group.initial.rebalance.delay.ms"),
		MinSessionTimeout:      r.Millis("group.min.session.timeout.ms"),
		MaxSessionTimeout:      r.Millis("group.max.session.timeout.ms"),
		OffsetsRetention:       time.Duration(r.Int64("offsets.retention.minutes")) * time.Minute,
		RetentionCheckInterval: r.Millis("offsets.retention.check.interval.ms"),
		Logger:                 s.log,
	}
	o.ConsumerSessionTimeout = r.Millis("group.consumer.session.timeout.ms")
	o.ConsumerMinSessionTimeout = r.Millis("group.consumer.min.session.timeout.ms")
	o.ConsumerMaxSessionTimeout = r.Millis("group.consumer.max.session.timeout.ms")
	o.ConsumerHeartbeatInterval = r.Millis("group.consumer.heartbeat.interval.ms")
	o.ConsumerMinHeartbeatInterval = r.Millis("group.consumer.min.heartbeat.interval.ms")
	o.ConsumerMaxHeartbeatInterval = r.Millis("group.consumer.max.heartbeat.interval.ms")
	o.GroupSettings = s.consumerGroupSettings
	o.ConsumerMaxSize = int(r.Int64("group.consumer.max.size"))
	for _, a := range r.List("group.consumer.assignors") {
		o.ConsumerAssignors = append(o.ConsumerAssignors, config.ConsumerAssignor(a))
	}
	o.ConsumerMigration, _ = group.ParseMigrationPolicy(r.String("group.consumer.migration.policy")) // validated
	o.Topics = imageTopics{s}
	if o.InitialRebalanceDelay == 0 {
		o.InitialRebalanceDelay = -1 // explicit 0: no delay (group.Options treats 0 as unset)
	}
	if md := r.Int64("offset.metadata.max.bytes"); md > 0 {
		o.MaxMetadataBytes = int(md)
	}
	o.OpenLog = s.offsetsLog
	return o
}

// consumerGroupSettings returns a consumer group's own session timeout and heartbeat
// interval (its group configs, from the metadata image; zero: the broker's).
func (s *Server) consumerGroupSettings(id string) group.GroupSettings {
	own := s.image().GroupConfigs(id)
	if own == nil {
		return group.GroupSettings{}
	}
	r := config.ResolveGroup(s.opts.Settings, own)
	return group.GroupSettings{SessionTimeout: r.Millis("consumer.session.timeout.ms"), HeartbeatInterval: r.Millis("consumer.heartbeat.interval.ms")}
}

// groups returns the server's group coordinator, or ErrCoordinatorNotAvailable while
// the server shuts down.
func (s *Server) groups() (*group.Coordinator, error) {
	if s.closing() || s.data.groups == nil {
		return nil, group.ErrCoordinatorNotAvailable
	}
	return s.data.groups, nil
}

// clientHost is the member's host as Kafka reports it ("/127.0.0.1").
func clientHost(r *request) string {
	if r.conn == nil || r.conn.nc == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(r.conn.nc.RemoteAddr().String())
	if err != nil {
		return "/" + r.conn.nc.RemoteAddr().String()
	}
	return "/" + host
}

// consumerProtocol reports whether the consumer group protocol (KIP-848) is served
// (group.coordinator.rebalance.protocols lists consumer).
func (s *Server) consumerProtocol() bool {
	return slices.Contains(s.data.broker.List("group.coordinator.rebalance.protocols"), "consumer")
}

// imageTopics resolves consumer groups' subscriptions against the current metadata image.
type imageTopics struct{ s *Server }

func (t imageTopics) Topic(name string) (assign.TopicID, int32, bool) {
	if tp, ok := t.s.image().Topic(name); ok {
		return assign.TopicID(tp.ID), tp.NumPartitions(), true
	}
	return assign.TopicID{}, 0, false
}

func (t imageTopics) TopicName(id assign.TopicID) (string, bool) {
	if tp, ok := t.s.image().TopicByID(metadata.TopicID(id)); ok {
		return tp.Name, true
	}
	return "", false
}

func (t imageTopics) Names() []string {
	topics := t.s.image().Topics()
	names := make([]string, len(topics))
	for i, tp := range topics {
		names[i] = tp.Name
	}
	return names
}
