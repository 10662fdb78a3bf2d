package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

const maxLong = "9223372036854775807"

// settings is the registry. Keep it sorted by scope, then name; docs/configuration.md is
// generated from it (go generate ./internal/config).
var settings = []Setting{
	// Broker settings carried by server.Options fields.
	{Name: "listeners", Type: String, Scope: Broker, Default: "127.0.0.1:9092", ReadOnly: true, Field: "Options.Listen (--listen) or Options.Listeners",
		Doc:  "The listeners: NAME://host:port entries, comma-separated, or a plain host:port for one PLAINTEXT listener; an empty host binds every interface, port 0 picks a free port. Listeners named in controller.listener.names are left out.",
		Note: "Every security protocol is served: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL."},
	{Name: "advertised.listeners", Type: String, Scope: Broker, Default: "", ReadOnly: true, Field: "Options.Advertised or Listener.Advertised",
		Doc: "The address of each listener that clients coming in on it are told to connect to (Metadata, FindCoordinator, DescribeCluster): NAME://host:port entries (or a plain host:port with one listener); a listener left out advertises the address it bound."},
	{Name: "listener.security.protocol.map", Type: String, Scope: Broker, Default: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", ReadOnly: true, Field: "Listener.SecurityProtocol",
		Doc: "The security protocol of each listener name, NAME:PROTOCOL pairs; every listener's name must be in it."},
	{Name: "log.dirs", Type: String, Scope: Broker, Default: "./data", ReadOnly: true, Field: "Options.DataDir (--data-dir)",
		Doc: "The data directory: meta.properties, topic metadata and one directory per partition."},
	{Name: "node.id", Type: Int, Scope: Broker, Default: "0", ReadOnly: true, Field: "Options.NodeID",
		Doc: "This broker's node id; stored in meta.properties, which must agree on restart."},
	{Name: "socket.request.max.bytes", Type: Int, Scope: Broker, Default: "104857600", ReadOnly: true, Field: "Options.MaxRequestBytes",
		Doc: "The largest request frame accepted; a larger one closes the connection."},
	{Name: "max.connections", Type: Int, Scope: Broker, Default: "10000", ReadOnly: true, Field: "Options.MaxConnections",
		Doc: "The most client connections open at once; more are closed on accept."},
	{Name: "connections.max.idle.ms", Type: Long, Scope: Broker, Default: "600000", ReadOnly: true, Field: "Options.IdleTimeout",
		Doc: "Connections that send nothing for this long are closed."},

	// Cluster settings carried by server.Options.Cluster (docs/cluster.md).
	{Name: "controller.quorum.voters", Type: List, Scope: Broker, Default: "", ReadOnly: true, Field: "Options.Cluster.Voters",
		Doc: "The controller quorum, id@host:port entries (comma-separated, the same on every node): set, it makes this node a node of a cluster, node.id being its own entry, whose address is its quorum listener (Raft and the forwarding of commands to the controller). Empty: a single node."},
	{Name: "process.roles", Type: List, Scope: Broker, Default: "broker,controller", ReadOnly: true, Field: "Options.Cluster", Enum: []string{"broker", "controller"},
		Doc:  "The roles of a cluster node: broker,controller (combined mode: it hosts partitions and is a voter of the controller quorum). Read only with controller.quorum.voters.",
		Note: "Kafka has no default (KRaft requires it); Strata supports combined mode only and refuses broker or controller alone."},
	{Name: "broker.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "250", ReadOnly: true, Field: "Options.Cluster.HeartbeatInterval", Min: 1, HasMin: true,
		Doc:  "How often a cluster node's broker heartbeats to the controller.",
		Note: "Kafka's default is 2000: Strata's fences a dead broker within about a second (docs/cluster.md)."},
	{Name: "broker.session.timeout.ms", Type: Int, Scope: Broker, Default: "1500", ReadOnly: true, Field: "Options.Cluster.SessionTimeout", Min: 1, HasMin: true,
		Doc:  "How long the controller waits for a broker's heartbeat before it fences the broker (its partitions get new leaders, or go offline); a broker the controller's Raft cannot reach is fenced after two heartbeat intervals. Must exceed broker.heartbeat.interval.ms.",
		Note: "Kafka's default is 9000."},
	{Name: "strata.cluster.join", Type: Boolean, Scope: Broker, Default: "false", ReadOnly: true, Field: "Options.Cluster.Join",
		Doc:  "A cluster node without metadata (an empty data directory) joins the existing controller quorum, waiting until a voter adds it (AddRaftVoter: strata cluster add-voter), instead of bootstrapping a quorum from controller.quorum.voters, which then lists the quorum it joins, itself included. Used to replace a node with another node id or address (docs/cluster.md). Ignored by a node that has metadata.",
		Note: "Strata's own: Kafka's dynamic quorum (KIP-853) formats such a controller with --no-initial-controllers and controller.quorum.bootstrap.servers."},

	// Other broker settings (server.Options.Settings).
	{Name: "max.connections.per.ip", Type: Int, Scope: Broker, Default: "2147483647", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "The most connections open at once from one IP address (on every listener together); more are closed on accept. 0 admits only the addresses of max.connections.per.ip.overrides."},
	{Name: "max.connection.creation.rate", Type: Int, Scope: Broker, Default: "2147483647", ReadOnly: true, Min: 0, HasMin: true, PerListener: true,
		Doc: "The most connections accepted per second (KIP-612), over all listeners, and per listener as listener.name.<listener>.max.connection.creation.rate: beyond it, the listener waits before accepting the next connection (Kafka's throttle: (rate - limit) / limit × the rate's window, quota.window.num samples of quota.window.size.seconds)."},
	{Name: "max.connections.per.ip.overrides", Type: String, Scope: Broker, Default: "", ReadOnly: true, Check: perIPOverrides,
		Doc:  "Limits for particular addresses in place of max.connections.per.ip: comma-separated ADDRESS:COUNT, e.g. 10.0.0.5:200,::1:50.",
		Note: "Kafka also takes host names here; Strata takes IP addresses only."},
	{Name: "auto.create.topics.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc: "Create a topic when a client asks for metadata of an unknown topic and allows auto-creation."},
	{Name: "delete.topic.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc: "Allow DeleteTopics; false answers every topic TOPIC_DELETION_DISABLED (INVALID_REQUEST before v3), as Kafka."},
	{Name: "num.partitions", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of partitions of auto-created topics and of CreateTopics requests that leave it to the broker (-1)."},
	{Name: "default.replication.factor", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The replication factor of new topics that leave it to the broker (auto-created, or CreateTopics with -1); a factor above the number of live brokers is refused (INVALID_REPLICATION_FACTOR). A single node (no controller.quorum.voters) takes only 1."},
	{Name: "offsets.topic.replication.factor", Type: Short, Scope: Broker, Default: "3", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The replication factor of the internal __consumer_offsets topic, created on a cluster by the first FindCoordinator of a group; fixed once the topic exists. A single node creates it with 1.",
		Note: "Kafka refuses to create the topic (COORDINATOR_NOT_AVAILABLE) while fewer brokers are alive than the factor; Strata creates it with as many replicas as there are live brokers, at most the factor."},
	{Name: "transaction.state.log.replication.factor", Type: Short, Scope: Broker, Default: "3", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The replication factor of the internal __transaction_state topic, created on a cluster by the first FindCoordinator of a transactional id; fixed once the topic exists. A single node creates it with 1.",
		Note: "As offsets.topic.replication.factor: at most the number of live brokers when it is created."},
	{Name: "offsets.topic.num.partitions", Type: Int, Scope: Broker, Default: "50", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of partitions of the internal __consumer_offsets topic; fixed once the topic exists."},
	{Name: "offsets.retention.minutes", Type: Int, Scope: Broker, Default: "10080", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "Committed offsets of a group that has been empty this long are deleted."},
	{Name: "offsets.retention.check.interval.ms", Type: Long, Scope: Broker, Default: "600000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often expired committed offsets are looked for."},
	{Name: "offset.metadata.max.bytes", Type: Int, Scope: Broker, Default: "4096", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "The largest metadata string accepted with a committed offset."},
	{Name: "group.initial.rebalance.delay.ms", Type: Int, Scope: Broker, Default: "3000", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "How long the first rebalance of an empty group waits for more members to join."},
	{Name: "group.min.session.timeout.ms", Type: Int, Scope: Broker, Default: "6000", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "The smallest session timeout a group member may ask for."},
	{Name: "group.max.session.timeout.ms", Type: Int, Scope: Broker, Default: "1800000", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "The largest session timeout a group member may ask for."},
	{Name: "group.coordinator.rebalance.protocols", Type: List, Scope: Broker, Default: "classic,consumer", ReadOnly: true, Enum: []string{"classic", "consumer", "share"}, Check: withClassic,
		Doc:  "The group protocols served: classic (JoinGroup, SyncGroup, Heartbeat) and consumer (KIP-848: ConsumerGroupHeartbeat and ConsumerGroupDescribe; its APIs are advertised in ApiVersions only when listed, otherwise they answer UNSUPPORTED_VERSION). classic cannot be left out. Listing share serves share groups whatever strata.share.version says (Kafka 4.0's early-access switch).",
		Note: "Kafka 4.0 listed share here too (early access); Kafka 4.1+ enables share groups with the share.version feature instead (strata.share.version)."},
	{Name: "group.consumer.assignors", Type: List, Scope: Broker, Default: "uniform,range", ReadOnly: true, Check: consumerAssignors,
		Doc:  "The server-side assignors of consumer groups (KIP-848), by name (uniform: sticky and balanced; range: co-partitioned ranges) or by Kafka's class name; a member may name one of them (else UNSUPPORTED_ASSIGNOR), the first is the default.",
		Note: "Kafka's default lists the class names (org.apache.kafka.coordinator.group.assignor.UniformAssignor, …RangeAssignor); custom assignor classes are not supported."},
	{Name: "group.consumer.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "5000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often consumer group (KIP-848) members heartbeat; between group.consumer.min.heartbeat.interval.ms and group.consumer.max.heartbeat.interval.ms, and less than group.consumer.session.timeout.ms."},
	{Name: "group.consumer.max.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "15000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The largest group.consumer.heartbeat.interval.ms."},
	{Name: "group.consumer.max.session.timeout.ms", Type: Int, Scope: Broker, Default: "60000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The largest group.consumer.session.timeout.ms."},
	{Name: "group.consumer.max.size", Type: Int, Scope: Broker, Default: "2147483647", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The most members of a consumer group (KIP-848); a member joining a full group gets GROUP_MAX_SIZE_REACHED."},
	{Name: "group.consumer.migration.policy", Type: String, Scope: Broker, Default: "bidirectional", ReadOnly: true, Enum: []string{"disabled", "downgrade", "upgrade", "bidirectional"},
		Doc:  "Whether a classic group becomes a consumer group when a KIP-848 member joins it (upgrade) and a consumer group a classic one when a classic member joins it empty or its last KIP-848 member leaves (downgrade); otherwise the member gets GROUP_ID_NOT_FOUND (or, in a consumer group, stays a classic member of it). Offsets are kept.",
		Note: "As Kafka 4, groups with members convert too (online migration): a classic group of consumers when a KIP-848 member joins it, a consumer group when a member leaves and the others are all classic members; refused upgrades answer GROUP_ID_NOT_FOUND."},
	{Name: "group.consumer.min.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "5000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The smallest group.consumer.heartbeat.interval.ms."},
	{Name: "group.consumer.min.session.timeout.ms", Type: Int, Scope: Broker, Default: "45000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The smallest group.consumer.session.timeout.ms."},
	{Name: "group.consumer.session.timeout.ms", Type: Int, Scope: Broker, Default: "45000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How long a consumer group (KIP-848) member may go without heartbeating before it is removed and its partitions reassigned; between group.consumer.min.session.timeout.ms and group.consumer.max.session.timeout.ms."},
	{Name: "group.share.delivery.count.limit", Type: Int, Scope: Broker, Default: "5", ReadOnly: true, Min: 2, HasMin: true, Max: 10, HasMax: true,
		Doc: "How many times a record is delivered to a share group (KIP-932) before it is archived (and, with a dead-letter topic, written there); the default of the group setting share.delivery.count.limit. Between group.share.min.delivery.count.limit and group.share.max.delivery.count.limit."},
	{Name: "group.share.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "5000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often share group members heartbeat; the default of the group setting share.heartbeat.interval.ms."},
	{Name: "group.share.max.delivery.count.limit", Type: Int, Scope: Broker, Default: "10", ReadOnly: true, Min: 5, HasMin: true, Max: 25, HasMax: true,
		Doc: "The largest share.delivery.count.limit a group may set."},
	{Name: "group.share.max.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "15000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The largest share.heartbeat.interval.ms a group may set."},
	{Name: "group.share.max.partition.max.record.locks", Type: Int, Scope: Broker, Default: "4000", ReadOnly: true, Min: 100, HasMin: true,
		Doc: "The largest share.partition.max.record.locks a group may set."},
	{Name: "group.share.max.record.lock.duration.ms", Type: Int, Scope: Broker, Default: "60000", ReadOnly: true, Min: 30000, HasMin: true, Max: 3600000, HasMax: true,
		Doc: "The largest share.record.lock.duration.ms a group may set."},
	{Name: "group.share.max.session.timeout.ms", Type: Int, Scope: Broker, Default: "60000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The largest share.session.timeout.ms a group may set."},
	{Name: "group.share.max.share.sessions", Type: Int, Scope: Broker, Default: "2000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The most share sessions (KIP-932 ShareFetch sessions) a broker keeps; at least group.share.max.size."},
	{Name: "group.share.max.size", Type: Int, Scope: Broker, Default: "200", ReadOnly: true, Min: 1, HasMin: true, Max: 1000, HasMax: true,
		Doc: "The most members of a share group; a member joining a full group gets GROUP_MAX_SIZE_REACHED."},
	{Name: "group.share.min.delivery.count.limit", Type: Int, Scope: Broker, Default: "2", ReadOnly: true, Min: 2, HasMin: true, Max: 5, HasMax: true,
		Doc: "The smallest share.delivery.count.limit a group may set."},
	{Name: "group.share.min.heartbeat.interval.ms", Type: Int, Scope: Broker, Default: "5000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The smallest share.heartbeat.interval.ms a group may set."},
	{Name: "group.share.min.partition.max.record.locks", Type: Int, Scope: Broker, Default: "100", ReadOnly: true, Min: 100, HasMin: true,
		Doc: "The smallest share.partition.max.record.locks a group may set."},
	{Name: "group.share.min.record.lock.duration.ms", Type: Int, Scope: Broker, Default: "15000", ReadOnly: true, Min: 1000, HasMin: true, Max: 30000, HasMax: true,
		Doc: "The smallest share.record.lock.duration.ms a group may set."},
	{Name: "group.share.min.session.timeout.ms", Type: Int, Scope: Broker, Default: "45000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The smallest share.session.timeout.ms a group may set."},
	{Name: "group.share.partition.max.record.locks", Type: Int, Scope: Broker, Default: "2000", ReadOnly: true, Min: 100, HasMin: true, Max: 10000, HasMax: true,
		Doc: "The most records of one share-partition acquired (in flight) at once; the default of the group setting share.partition.max.record.locks."},
	{Name: "group.share.record.lock.duration.ms", Type: Int, Scope: Broker, Default: "30000", ReadOnly: true, Min: 1000, HasMin: true, Max: 3600000, HasMax: true,
		Doc: "How long a share group member holds the records it acquired before they become available to the others again; the default of the group setting share.record.lock.duration.ms."},
	{Name: "group.share.session.timeout.ms", Type: Int, Scope: Broker, Default: "45000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How long a share group member may go without heartbeating before it is removed; the default of the group setting share.session.timeout.ms."},
	{Name: "errors.deadletterqueue.auto.create.topics.enable", Type: Boolean, Scope: Broker, Default: "false", ReadOnly: true,
		Doc: "Whether a share group's dead-letter topic (KIP-1191) that does not exist is created when a record is first written there (with errors.deadletterqueue.group.enable=true); false: a group may name only a topic that exists."},
	{Name: "errors.deadletterqueue.topic.name.prefix", Type: String, Scope: Broker, Default: "dlq.", ReadOnly: true,
		Doc: "The prefix every dead-letter topic name (the group setting errors.deadletterqueue.topic.name) must start with (KIP-1191); empty: any name not starting with __."},
	{Name: "share.coordinator.state.topic.num.partitions", Type: Int, Scope: Broker, Default: "50", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The partition count of __share_group_state, the internal topic of share-partition states, when it is created (on first use)."},
	{Name: "share.coordinator.state.topic.replication.factor", Type: Short, Scope: Broker, Default: "3", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The replication factor of __share_group_state, created on a cluster on first use; fixed once the topic exists. A single node creates it with 1.",
		Note: "As offsets.topic.replication.factor: at most the number of live brokers when it is created."},
	{Name: "transaction.state.log.num.partitions", Type: Int, Scope: Broker, Default: "50", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of partitions of the internal __transaction_state topic; fixed once the topic exists."},
	{Name: "transaction.max.timeout.ms", Type: Int, Scope: Broker, Default: "900000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The longest transaction.timeout.ms a transactional producer may ask for (longer: INVALID_TRANSACTION_TIMEOUT)."},
	{Name: "transactional.id.expiration.ms", Type: Int, Scope: Broker, Default: "604800000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "A transactional id without a transaction and unused for this long is forgotten."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: Int, Scope: Broker, Default: "10000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often transactions open past their timeout are looked for and aborted."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: Int, Scope: Broker, Default: "3600000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often expired transactional ids are looked for."},
	{Name: "strata.share.version", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 0, Max: 1, HasMin: true, HasMax: true,
		Doc:  "The share.version feature (KIP-932): 1 serves share groups (ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch, ShareAcknowledge, DescribeShareGroupOffsets, AlterShareGroupOffsets, DeleteShareGroupOffsets, advertised in ApiVersions with the feature finalized at 1), 0 does not (those APIs are not advertised and answer UNSUPPORTED_VERSION). The same on a cluster node; group.coordinator.rebalance.protocols listing share also serves them.",
		Note: "Kafka 4.2 finalizes share.version=1 on a new cluster (kafka-features, kafka-storage format --feature); Strata reads this setting at start. Set it to the same value on every node."},
	{Name: "strata.transaction.version", Type: Int, Scope: Broker, Default: "2", ReadOnly: true, Min: 0, Max: 2, HasMin: true, HasMax: true,
		Doc:  "The transaction.version feature advertised in ApiVersions (KIP-890): 2 lets clients use transactions v2 (Produce v12 adds partitions to the transaction itself, EndTxn v5 bumps the producer epoch at every end, TxnOffsetCommit v5 adds the group's offsets partition); 0 or 1 keep them on transactions v1. The requests of both are served whatever it says.",
		Note: "Kafka finalizes features cluster-wide (kafka-features, kafka-storage format --feature); Strata reads this setting at start. Set it to the same value on every node."},
	{Name: "transaction.partition.verification.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc:  "Verify with the transaction coordinator that a transactional produce writes to a partition of the producer's ongoing transaction before appending it (KIP-890 part 1): a batch that would start a transaction nobody added the partition to is refused (INVALID_TXN_STATE, TRANSACTION_ABORTABLE from Produce v11), so no hanging transaction blocks read_committed consumers.",
		Note: "Kafka can change it at run time (a dynamic broker setting); Strata reads it at start."},
	{Name: "num.recovery.threads.per.data.dir", Type: Int, Scope: Broker, Default: "2", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "How many partitions are opened (and recovered after a crash) at startup, and closed (flushed) at shutdown, at once; topic creation and deletion work on this many partitions at once too.",
		Note: "Kafka uses it for recovery and shutdown only."},
	{Name: "log.retention.check.interval.ms", Type: Long, Scope: Broker, Default: "300000", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often the cleaner deletes segments under retention.ms and retention.bytes (delete policy)."},
	{Name: "log.cleaner.backoff.ms", Type: Long, Scope: Broker, Default: "15000", ReadOnly: true, Min: 0, HasMin: true,
		Doc:  "How often the cleaner looks for partitions to compact (compact policy): those where min.cleanable.dirty.ratio or max.compaction.lag.ms calls for it.",
		Note: "Kafka's cleaner sleeps this long only when it found nothing to clean; Strata's looks on this fixed schedule (0 means every millisecond)."},
	{Name: "log.cleaner.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc: "Run compaction at all; false leaves compacted topics (__consumer_offsets included) to grow. Deprecated in Kafka 4."},
	{Name: "log.cleaner.dedupe.buffer.size", Type: Long, Scope: Broker, Default: "134217728", ReadOnly: true, Min: 1 << 16, HasMin: true,
		Doc: "Memory of the compaction key map (24 bytes per distinct key: 16-byte key hash, offset); when it fills, a pass compacts only the prefix of the dirty log it covers."},
	{Name: "log.cleaner.io.max.bytes.per.second", Type: Double, Scope: Broker, Default: "1.7976931348623157E308", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "Upper bound on the bytes per second the compaction reads (the default is unlimited)."},
	{Name: "producer.id.expiration.ms", Type: Int, Scope: Broker, Default: "86400000", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "A producer id without an open transaction whose last batch or marker in a partition is older than this is expired there: its idempotence state is forgotten (a later batch of it is an unknown producer's) and compaction no longer keeps its last batch (emptied of its records).",
		Note: "Expired producers are looked for every log.retention.check.interval.ms (Kafka: producer.id.expiration.check.interval.ms, 600000)."},
	{Name: "replica.lag.time.max.ms", Type: Long, Scope: Broker, Default: "30000", ReadOnly: true, Field: "Options.Cluster.ReplicaLagTimeMax", Min: 0, HasMin: true,
		Doc: "How long a follower of a cluster node's partition may stay behind its leader's log end before the leader removes it from the ISR (a fenced broker leaves at once)."},
	{Name: "auto.leader.rebalance.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc:  "Let the controller move partition leadership back to the preferred replica (a partition's first) every leader.imbalance.check.interval.seconds, for every partition whose preferred replica is live and in sync but does not lead (after a failover and the broker's return), as a preferred ElectLeaders would.",
		Note: "As Kafka's KRaft controller, with no imbalance threshold: leader.imbalance.per.broker.percentage (ZooKeeper mode only, gone in Kafka 4) is accepted and ignored."},
	{Name: "leader.imbalance.check.interval.seconds", Type: Long, Scope: Broker, Default: "300", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "How often the controller looks for partitions to give back to their preferred replica (auto.leader.rebalance.enable)."},
	{Name: "replica.fetch.wait.max.ms", Type: Int, Scope: Broker, Default: "500", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "How long the leader holds a follower's fetch (long poll) when fewer than replica.fetch.min.bytes are there; at most replica.lag.time.max.ms, so that a caught-up follower fetches often enough to stay in the ISR.",
		Note: "Kafka has no lower bound; Strata refuses 0, which makes idle followers fetch in a busy loop."},
	{Name: "replica.fetch.min.bytes", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "How many bytes the leader waits for (up to replica.fetch.wait.max.ms) before it answers a follower's fetch.",
		Note: "Kafka has no lower bound; Strata refuses 0, which makes idle followers fetch in a busy loop."},
	{Name: "replica.fetch.max.bytes", Type: Int, Scope: Broker, Default: "1048576", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The most bytes a follower fetches from one partition in one fetch; the first batch comes whole whatever its size (KIP-74), so this is not a limit on batch size.",
		Note: "Kafka accepts 0, which behaves as 1."},
	{Name: "replica.fetch.response.max.bytes", Type: Int, Scope: Broker, Default: "10485760", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The most bytes a follower fetches in one fetch over every partition it follows on one leader; the first batch comes whole whatever its size (KIP-74).",
		Note: "Kafka accepts 0, which behaves as 1."},
	{Name: "replica.fetch.backoff.ms", Type: Int, Scope: Broker, Default: "1000", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "How long a follower waits before it retries after a failed fetch request; a partition the leader refused (a leader that moved, an epoch not known yet) is retried after 25 ms, then twice as long after each further refusal, up to this.",
		Note: "Kafka waits this long after every error and accepts 0; Strata refuses 0 (a busy loop against a failing leader) and retries a refused partition sooner at first: a new leader that has not applied its leadership yet refuses for milliseconds only."},
	{Name: "strata.replica.page.cache.keep", Type: Boolean, Scope: Broker, Default: "false", ReadOnly: true,
		Doc:  "Keep a follower's replicated records in the OS page cache. By default (false) a follower drops them from the cache once they are on disk (posix_fadvise DONTNEED): nothing reads a follower's copy until it leads, and its writes reuse the freed pages instead of the kernel finding fresh ones, which halved the nodes' CPU per replicated GiB on the development machine (docs/benchmarks.md). true: keep them, as Kafka does; a follower that becomes leader then serves consumers reading behind the log end from the cache rather than the disk.",
		Note: "Strata only: Kafka's followers leave their writes in the page cache."},
	{Name: "leader.replication.throttled.rate", Type: Long, Scope: Broker, Default: "9223372036854775807", Min: 0, HasMin: true,
		Doc: "A dynamic broker setting (IncrementalAlterConfigs on this broker, or on every broker with the resource name \"\"): the bytes per second this broker, as leader, sends to the followers of the replicas listed in their topic's leader.replication.throttled.replicas that are not in the ISR, measured over replication.quota.window.num windows of replication.quota.window.size.seconds; a throttled follower's fetch gets nothing while the rate is above it. strata topic reassign --throttle sets it."},
	{Name: "follower.replication.throttled.rate", Type: Long, Scope: Broker, Default: "9223372036854775807", Min: 0, HasMin: true,
		Doc: "A dynamic broker setting (as leader.replication.throttled.rate): the bytes per second this broker, as follower, fetches for its replicas listed in their topic's follower.replication.throttled.replicas while they are behind the leader's high watermark; they are left out of its fetches while the rate is above it."},
	{Name: "replication.quota.window.num", Type: Int, Scope: Broker, Default: "11", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of samples the replication throttles (leader.replication.throttled.rate, follower.replication.throttled.rate) measure their rate over."},
	{Name: "replication.quota.window.size.seconds", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The span of each sample of the replication throttles."},
	{Name: "http.listener", Type: String, Scope: Broker, Default: "127.0.0.1:9644", ReadOnly: true, Field: "strata serve --http (package observe)",
		Doc:  "The HTTP listener: host:port of Prometheus metrics (/metrics), health (/healthz, /readyz), the web console (/) with its JSON API (/api/v1/) and Go's profiles (/debug/pprof/, unless --pprof gives them their own listener); off disables it. See docs/metrics.md and docs/console.md.",
		Note: "Strata only: Kafka exports JMX. Without http.authentication anyone who reaches the listener may use it, hence its loopback default."},
	{Name: "http.authentication", Type: String, Scope: Broker, Default: "none", ReadOnly: true, Enum: []string{"none", "basic"}, Field: "strata serve (package observe)",
		Doc:  "Authentication on the HTTP listener. basic: every endpoint but /healthz and /readyz wants HTTP basic authentication with a user's SCRAM credentials (the password SASL PLAIN accepts), and the console acts as that user (User:<name>), checked against the ACLs, whatever the first listener's protocol (SASL ones included). none: no login; the console acts as a client of the first listener, which must not be a SASL one. Put the listener behind TLS (a reverse proxy) when it is not on loopback: basic authentication sends the password in the clear.",
		Note: "Strata only: Kafka has no HTTP listener."},
	{Name: "strata.transactions.enable", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc:  "Run the transaction coordinator: transactional producers, read_committed consumers and exactly-once consume-transform-produce (docs/transactions.md). Off, transactional ids are refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, transactional batches with INVALID_RECORD, and the transaction APIs are not advertised.",
		Note: "Strata only: an off switch while transactions (issue 15) are being completed."},
	{Name: "strata.log.flusher.shared", Type: Boolean, Scope: Broker, Default: "true", ReadOnly: true,
		Doc:  "One group-commit flusher for all the partitions of the data directory: a round fsyncs every partition with unflushed appends (8 at once), so a produce request to many partitions waits for one round. false: each partition runs its own flusher goroutine (the behaviour before this setting; an escape hatch until the shared flusher is measured on more machines, see docs/benchmarks.md).",
		Note: "Strata only: Kafka acknowledges before fsync."},
	{Name: "strata.log.open.segments.max", Type: Int, Scope: Broker, Default: "1000", ReadOnly: true, Min: 1, HasMin: true,
		Doc:  "The most sealed segments, across all partitions, whose files (log, offset and time index: 3 descriptors) stay open; the least recently read are closed and reopened on their next read. Active segments are always open, and sealed segments of a cleanly closed log are opened on first read.",
		Note: "Strata only: Kafka keeps every segment's log file open."},
	{Name: ProtocolMinVersion, Type: String, Scope: Broker, Default: "0.8.0", ReadOnly: true, Check: protocolMinVersion,
		Doc:  "The oldest Kafka client release served: requests of a version older than that release's clients send close the connection, and ApiVersions advertises the floor. 0.8.0 serves every version Strata knows; 0.10.0 refuses the clients of 0.9 and older (Produce and Fetch v0-v1, OffsetCommit v0-v1, OffsetFetch v0); 0.11.0 refuses message formats 0 and 1 altogether (Produce v0-v2, Fetch v0-v3) and ListOffsets v0; 2.1 is Kafka 4's floor (KIP-896): also CreateTopics v0-v1, DeleteTopics v0, DescribeConfigs v0, DescribeLogDirs v0, OffsetForLeaderEpoch v0-v1. Releases from 0.8.0 to 2.1 (0.8, 0.10.0, 0.11.0.3, 1.1, 2.1 …).",
		Note: "Strata only: Kafka 4 has the 2.1 floor built in and Kafka 3 none. Like Kafka 4 (KAFKA-18659), ApiVersions keeps listing Produce from v0, since librdkafka enables compression only when v0 is listed, but Produce requests below the floor are refused."},

	// TLS of SSL listeners; each may be set for one listener as
	// listener.name.<listener>.<setting>.
	{Name: "ssl.keystore.type", Type: String, Scope: Broker, Default: "PEM", ReadOnly: true, PerListener: true, Enum: []string{"PEM"},
		Doc:  "The format of ssl.keystore.location.",
		Note: "Kafka's default is JKS; Strata reads PEM files only."},
	{Name: "ssl.keystore.location", Type: String, Scope: Broker, Default: "", ReadOnly: true, PerListener: true,
		Doc:  "The PEM file of a TLS listener (SSL): its private key (PKCS#8, PKCS#1 or SEC 1, not encrypted) and its certificate chain, leaf first. Required for every TLS listener. Each new connection uses the file as it is then: a changed file (new certificate) is read again, without a restart; a file that does not parse keeps the previous pair and logs a warning.",
		Note: "Kafka reloads a keystore only when the setting is altered (AlterConfigs); Strata watches the file. Encrypted keys (ssl.key.password) are not supported."},
	{Name: "ssl.truststore.type", Type: String, Scope: Broker, Default: "PEM", ReadOnly: true, PerListener: true, Enum: []string{"PEM"},
		Doc:  "The format of ssl.truststore.location.",
		Note: "Kafka's default is JKS; Strata reads PEM files only."},
	{Name: "ssl.truststore.location", Type: String, Scope: Broker, Default: "", ReadOnly: true, PerListener: true,
		Doc: "The PEM file of CA certificates that client certificates are verified against (ssl.client.auth); empty means the system's roots. Read again when it changes, like the keystore."},
	{Name: "ssl.client.auth", Type: String, Scope: Broker, Default: "none", ReadOnly: true, PerListener: true, Enum: []string{"none", "requested", "required"},
		Doc: "Whether a TLS listener asks clients for a certificate (mutual TLS): required refuses a client without a valid one; requested verifies one if the client sends it. A client that presented one acts as User:<the subject's common name> on an SSL listener (see ssl.principal.mapping.rules); any other as User:ANONYMOUS."},
	{Name: "ssl.enabled.protocols", Type: List, Scope: Broker, Default: "TLSv1.2,TLSv1.3", ReadOnly: true, PerListener: true, Enum: []string{"TLSv1.2", "TLSv1.3"}, Check: nonEmptyList,
		Doc:  "The TLS versions a TLS listener accepts.",
		Note: "TLS 1.0 and 1.1 are not accepted."},
	{Name: "ssl.principal.mapping.rules", Type: String, Scope: Broker, Default: `RULE:^(?:.*,)?CN=((?:\\.|[^,\\])*)(?:,.*)?$/$1/,DEFAULT`, ReadOnly: true, PerListener: true,
		Doc:  "How the subject of a client certificate (its distinguished name, RFC 2253: CN=alice,OU=eng,O=Acme) becomes the principal User:<name> on an SSL listener: comma-separated rules tried in order, DEFAULT (the whole name) or RULE:pattern/replacement/ with an optional L or U (lower or upper case) after it, which applies when pattern matches the whole name. A certificate no rule applies to is refused. Patterns are Go regular expressions (RE2): Java's syntax without look-around or back references.",
		Note: "Kafka's default is DEFAULT (User:CN=alice,OU=eng,O=Acme); Strata's takes the common name (User:alice), and the whole name when there is none."},
	{Name: "sasl.enabled.mechanisms", Type: List, Scope: Broker, Default: "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", ReadOnly: true, PerListener: true,
		Enum: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, Check: nonEmptyList,
		Doc:  "The SASL mechanisms a SASL listener (SASL_PLAINTEXT, SASL_SSL) offers in SaslHandshake. PLAIN checks the password against the user's stored SCRAM credential.",
		Note: "Kafka's default is GSSAPI, and Kafka's PLAIN checks passwords from JAAS files; Strata offers PLAIN and SCRAM, with the users of AlterUserScramCredentials and bootstrap.user."},
	{Name: "inter.broker.listener.name", Type: String, Scope: Broker, Default: "", ReadOnly: true,
		Doc:  "The listener the brokers of a cluster talk to each other on (replication, transaction markers): each broker connects to the others' endpoints of this name, with the listener's security protocol. Empty: the listener security.inter.broker.protocol names. Set only one of the two.",
		Note: "Kafka requires the name among advertised.listeners; so does Strata on a cluster node (a single node does not use it)."},
	{Name: "security.inter.broker.protocol", Type: String, Scope: Broker, Default: "PLAINTEXT", ReadOnly: true, Enum: []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
		Doc:  "With inter.broker.listener.name empty, the security protocol of the listener the brokers of a cluster talk to each other on: the listener of that name, or else the first listener with that protocol.",
		Note: "Kafka takes only the listener named as the protocol; Strata also the first listener with it (as it replicated over the first PLAINTEXT listener before the setting existed)."},
	{Name: "sasl.mechanism.inter.broker.protocol", Type: String, Scope: Broker, Default: "SCRAM-SHA-512", ReadOnly: true, Enum: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
		Doc:  "The SASL mechanism a broker logs in to the others with when the inter-broker listener is SASL_PLAINTEXT or SASL_SSL, as strata.inter.broker.sasl.user; it must be among the listener's sasl.enabled.mechanisms.",
		Note: "Kafka's default is GSSAPI, which Strata does not offer."},
	{Name: "strata.inter.broker.sasl.user", Type: String, Scope: Broker, Default: "", ReadOnly: true, Sensitive: true, Check: bootstrapUser,
		Doc:  "NAME:PASSWORD the brokers of a cluster log in to each other as on a SASL inter-broker listener (required then; the same on every node). The broker creates the user's SCRAM-SHA-256 and SCRAM-SHA-512 credentials at start when the user has none, as bootstrap.user. With ACLs the user needs CLUSTER_ACTION on the cluster: simplest, name it in super.users.",
		Note: "Strata only: Kafka takes the inter-broker login from the listener's JAAS configuration (listener.name.<listener>.<mechanism>.sasl.jaas.config)."},
	{Name: "connection.failed.authentication.delay.ms", Type: Int, Scope: Broker, Default: "100", ReadOnly: true, Min: 0, HasMin: true,
		Doc: "How long the answer to a failed SASL authentication (SASL_AUTHENTICATION_FAILED) is held back before it is sent and the connection closed; other connections are not held up."},
	{Name: "connections.max.reauth.ms", Type: Long, Scope: Broker, Default: "0", ReadOnly: true, Min: 0, HasMin: true,
		Doc:  "The lifetime of a SASL login (KIP-368): SaslAuthenticate v1+ tells the client, which logs in again on the same connection before it ends (same mechanism, same user); a request other than ApiVersions, SaslHandshake and SaslAuthenticate after it ends closes the connection. 0: a login lasts as long as the connection.",
		Note: "Kafka also takes it per listener and mechanism (listener.name.<listener>.<mechanism>.connections.max.reauth.ms); Strata takes the broker-wide setting only."},
	{Name: "bootstrap.user", Type: String, Scope: Broker, Default: "", ReadOnly: true, Sensitive: true, Check: bootstrapUser,
		Doc:  "NAME:PASSWORD of a user whose SCRAM-SHA-256 and SCRAM-SHA-512 credentials (4096 iterations) the broker creates at start when that user has none: the first admin of a new deployment. Existing credentials are left as they are.",
		Note: "Strata only; Kafka's equivalent is kafka-storage format --add-scram."},
	{Name: "authorizer.class.name", Type: String, Scope: Broker, Default: "", ReadOnly: true,
		Enum: []string{"", "org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer", "strata"},
		Doc:  "Authorization with ACLs (CreateAcls, DescribeAcls, DeleteAcls) as Kafka's StandardAuthorizer decides: every request is checked against the ACL bindings of the cluster's metadata, for its principal and client address. Empty: no authorization, every principal may do everything, and the ACL APIs answer SECURITY_DISABLED.",
		Note: "Kafka's class names select Strata's built-in authorizer (ACLs kept in the metadata, like StandardAuthorizer's); strata is its short name. Other classes cannot be loaded."},
	{Name: "super.users", Type: String, Scope: Broker, Default: "", ReadOnly: true, Check: superUsers,
		Doc: "Principals allowed everything whatever the ACLs say, separated by semicolons: User:admin;User:ops."},
	{Name: "allow.everyone.if.no.acl.found", Type: Boolean, Scope: Broker, Default: "false", ReadOnly: true,
		Doc: "With ACL authorization, whether an action on a resource that no ACL binding applies to is allowed (true) or refused (false)."},
	{Name: "quota.window.num", Type: Int, Scope: Broker, Default: "11", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of samples of a client's byte rate kept for its quota: the rate is what the samples hold over the time they cover (at least quota.window.num - 1 windows)."},
	{Name: "quota.window.size.seconds", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The time span of each sample of a client's byte rate (quota.window.num)."},
	{Name: "controller.quota.window.num", Type: Int, Scope: Broker, Default: "11", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The number of samples of a client's partition mutation rate kept for its controller_mutation_rate quota."},
	{Name: "controller.quota.window.size.seconds", Type: Int, Scope: Broker, Default: "1", ReadOnly: true, Min: 1, HasMin: true,
		Doc: "The time span of each sample of a client's partition mutation rate (controller.quota.window.num)."},
	{Name: "strata.ssl.handshake.timeout.ms", Type: Long, Scope: Broker, Default: "10000", ReadOnly: true, PerListener: true, Min: 1, HasMin: true,
		Doc:  "How long a TLS handshake may take; a client slower than that (or silent) is disconnected. Plaintext bytes sent to a TLS listener close the connection at once.",
		Note: "Strata only: Kafka has no handshake timeout of its own."},

	// Topic settings; Synonyms hold their broker-wide defaults.
	{Name: "cleanup.policy", Type: List, Scope: Topic, Default: "delete", Enum: []string{"delete", "compact"},
		Synonyms: []Synonym{{Name: "log.cleanup.policy"}},
		Doc:      "delete removes old segments under the retention settings; compact keeps the latest record of each key; both may be listed."},
	{Name: "compression.type", Type: String, Scope: Topic, Default: "producer",
		Enum:     []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"},
		Synonyms: []Synonym{{Name: "compression.type"}},
		Doc:      "The compression of stored batches; producer keeps what the producer sent."},
	{Name: "retention.ms", Type: Long, Scope: Topic, Default: "604800000", Check: minusOneOrMore,
		Synonyms: []Synonym{{Name: "log.retention.ms"}, {Name: "log.retention.minutes", Scale: 60000}, {Name: "log.retention.hours", Scale: 3600000}},
		Doc:      "Segments whose newest record is older than this are deleted (delete policy); -1: no time limit."},
	{Name: "retention.bytes", Type: Long, Scope: Topic, Default: "-1", Check: minusOneOrMore,
		Synonyms: []Synonym{{Name: "log.retention.bytes"}},
		Doc:      "Oldest segments are deleted while a partition is larger than this (delete policy); -1: no size limit."},
	{Name: "segment.bytes", Type: Int, Scope: Topic, Default: "1073741824", Min: 14, HasMin: true,
		Synonyms: []Synonym{{Name: "log.segment.bytes"}},
		Doc:      "The size at which the active segment is rolled."},
	{Name: "segment.ms", Type: Long, Scope: Topic, Default: "604800000", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "log.roll.ms"}, {Name: "log.roll.hours", Scale: 3600000}},
		Doc:      "The age at which the active segment is rolled even if not full."},
	{Name: "segment.index.bytes", Type: Int, Scope: Topic, Default: "10485760", Min: 4, HasMin: true,
		Synonyms: []Synonym{{Name: "log.index.size.max.bytes"}},
		Doc:      "The preallocated size of each offset and time index; a full index rolls the segment."},
	{Name: "index.interval.bytes", Type: Int, Scope: Topic, Default: "4096", Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.index.interval.bytes"}},
		Doc:      "Bytes of log between two sparse index entries."},
	{Name: "flush.messages", Type: Long, Scope: Topic, Default: "-1", Check: minusOneOrMore,
		Synonyms: []Synonym{{Name: "log.flush.interval.messages"}},
		Doc:      "fsync after this many messages; -1 (or 0): durable mode, every acknowledged batch is fsynced first (group commit).",
		Note:     "Kafka's default is 9223372036854775807 (leave flushing to the OS); Strata's default is durable."},
	{Name: "flush.ms", Type: Long, Scope: Topic, Default: "1000", Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.flush.interval.ms"}},
		Doc:      "With flush.messages > 0, also fsync at least this often.",
		Note:     "Kafka's default is 9223372036854775807."},
	{Name: "max.message.bytes", Type: Int, Scope: Topic, Default: "1048588", Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "message.max.bytes"}},
		Doc:      "The largest record batch accepted by Produce."},
	{Name: "message.timestamp.type", Type: String, Scope: Topic, Default: "CreateTime", Enum: []string{"CreateTime", "LogAppendTime"},
		Synonyms: []Synonym{{Name: "log.message.timestamp.type"}},
		Doc:      "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time on append."},
	{Name: "min.insync.replicas", Type: Int, Scope: Topic, Default: "1", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "min.insync.replicas"}},
		Doc:      "The in-sync replicas an acks=all produce needs; a single broker has one."},
	{Name: "min.cleanable.dirty.ratio", Type: Double, Scope: Topic, Default: "0.5", Min: 0, HasMin: true, Max: 1, HasMax: true,
		Synonyms: []Synonym{{Name: "log.cleaner.min.cleanable.ratio"}},
		Doc:      "Compaction starts when this share of the log is not yet compacted."},
	{Name: "min.compaction.lag.ms", Type: Long, Scope: Topic, Default: "0", Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.cleaner.min.compaction.lag.ms"}},
		Doc:      "Records younger than this are never compacted."},
	{Name: "max.compaction.lag.ms", Type: Long, Scope: Topic, Default: maxLong, Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "log.cleaner.max.compaction.lag.ms"}},
		Doc:      "Records older than this are compacted even below min.cleanable.dirty.ratio."},
	{Name: "delete.retention.ms", Type: Long, Scope: Topic, Default: "86400000", Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.cleaner.delete.retention.ms"}},
		Doc:      "How long tombstones stay on compacted topics."},

	// Kafka topic settings Strata accepts, stores and describes without acting on them.
	{Name: "compression.gzip.level", Type: Int, Scope: Topic, Default: "-1", NoEffect: true, Check: gzipLevel,
		Synonyms: []Synonym{{Name: "compression.gzip.level"}},
		Doc:      "The gzip level of broker-side compression (compression.type gzip): 1 to 9, or -1 for the codec's default.",
		Note:     "Strata compresses at each codec's default level."},
	{Name: "compression.lz4.level", Type: Int, Scope: Topic, Default: "9", NoEffect: true, Min: 1, HasMin: true, Max: 17, HasMax: true,
		Synonyms: []Synonym{{Name: "compression.lz4.level"}},
		Doc:      "The lz4 level of broker-side compression (compression.type lz4).",
		Note:     "Strata compresses at each codec's default level."},
	{Name: "compression.zstd.level", Type: Int, Scope: Topic, Default: "3", NoEffect: true, Min: -131072, HasMin: true, Max: 22, HasMax: true,
		Synonyms: []Synonym{{Name: "compression.zstd.level"}},
		Doc:      "The zstd level of broker-side compression (compression.type zstd).",
		Note:     "Strata compresses at each codec's default level."},
	{Name: "file.delete.delay.ms", Type: Long, Scope: Topic, Default: "60000", NoEffect: true, Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.segment.delete.delay.ms"}},
		Doc:      "How long a deleted segment's files stay on disk.",
		Note:     "Strata removes them once no reader holds them."},
	{Name: "follower.replication.throttled.replicas", Type: List, Scope: Topic, Default: "", Check: throttledReplicas,
		Doc: "The replicas whose replication the follower throttles (follower.replication.throttled.rate of the follower's broker), as partition:broker pairs naming the follower (or * for all); strata topic reassign --throttle sets it to the replicas a move adds."},
	{Name: "leader.replication.throttled.replicas", Type: List, Scope: Topic, Default: "", Check: throttledReplicas,
		Doc: "The replicas whose replication the leader throttles (leader.replication.throttled.rate of the leader's broker), as partition:broker pairs naming the leader (or * for all); strata topic reassign --throttle sets it to the replicas a move starts from."},
	{Name: "local.retention.bytes", Type: Long, Scope: Topic, Default: "-2", NoEffect: true, Min: -2, HasMin: true,
		Synonyms: []Synonym{{Name: "log.local.retention.bytes"}},
		Doc:      "Local retention of tiered storage; Strata has no tiered storage yet."},
	{Name: "local.retention.ms", Type: Long, Scope: Topic, Default: "-2", NoEffect: true, Min: -2, HasMin: true,
		Synonyms: []Synonym{{Name: "log.local.retention.ms"}},
		Doc:      "Local retention of tiered storage; Strata has no tiered storage yet."},
	{Name: "message.timestamp.after.max.ms", Type: Long, Scope: Topic, Default: "3600000", NoEffect: true, Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.message.timestamp.after.max.ms"}},
		Doc:      "How far in the future a CreateTime record timestamp may be.",
		Note:     "Strata does not reject records by timestamp."},
	{Name: "message.timestamp.before.max.ms", Type: Long, Scope: Topic, Default: maxLong, NoEffect: true, Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.message.timestamp.before.max.ms"}},
		Doc:      "How far in the past a CreateTime record timestamp may be.",
		Note:     "Strata does not reject records by timestamp."},
	{Name: "preallocate", Type: Boolean, Scope: Topic, Default: "false", NoEffect: true,
		Synonyms: []Synonym{{Name: "log.preallocate"}},
		Doc:      "Preallocate segment files on disk."},
	{Name: "remote.log.copy.disable", Type: Boolean, Scope: Topic, Default: "false", NoEffect: true,
		Doc: "Tiered storage; Strata has no tiered storage yet."},
	{Name: "remote.log.delete.on.disable", Type: Boolean, Scope: Topic, Default: "false", NoEffect: true,
		Doc: "Tiered storage; Strata has no tiered storage yet."},
	{Name: "remote.storage.enable", Type: Boolean, Scope: Topic, Default: "false", NoEffect: true,
		Doc: "Tiered storage; Strata has no tiered storage yet."},
	{Name: "segment.jitter.ms", Type: Long, Scope: Topic, Default: "0", NoEffect: true, Min: 0, HasMin: true,
		Synonyms: []Synonym{{Name: "log.roll.jitter.ms"}, {Name: "log.roll.jitter.hours", Scale: 3600000}},
		Doc:      "Random jitter subtracted from segment.ms."},
	{Name: "unclean.leader.election.enable", Type: Boolean, Scope: Topic, Default: "false",
		Synonyms: []Synonym{{Name: "unclean.leader.election.enable"}},
		Doc:      "When no in-sync replica is left, elect an out-of-sync replica as leader (records only the lost ones had are gone); a single node has no other replica."},
	{Name: "errors.deadletterqueue.group.enable", Type: Boolean, Scope: Topic, Default: "false",
		Doc:  "Whether share groups may use the topic as their dead-letter topic (the group setting errors.deadletterqueue.topic.name, KIP-1191).",
		Note: "Kafka 4.4's (KIP-1191); earlier Kafka brokers refuse it."},

	// Group settings (IncrementalAlterConfigs on resource type GROUP, group.go): a group's
	// own value, else the broker synonym, else the default; bounded by the broker settings
	// Bounds names.
	{Name: "consumer.heartbeat.interval.ms", Type: Int, Scope: Group, Default: "5000", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "group.consumer.heartbeat.interval.ms"}},
		Bounds:   [2]string{"group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms"},
		Doc:      "How often the group's consumer group (KIP-848) members heartbeat; less than its consumer.session.timeout.ms."},
	{Name: "consumer.session.timeout.ms", Type: Int, Scope: Group, Default: "45000", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "group.consumer.session.timeout.ms"}},
		Bounds:   [2]string{"group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms"},
		Doc:      "How long a member of the group (KIP-848) may go without heartbeating before it is removed and its partitions reassigned."},
	{Name: "errors.deadletterqueue.copy.record.enable", Type: Boolean, Scope: Group, Default: "false",
		Doc: "Whether a record written to the share group's dead-letter topic carries the original key and value (false: only the headers that say where it came from)."},
	{Name: "errors.deadletterqueue.topic.name", Type: String, Scope: Group, Default: "",
		Doc: "The share group's dead-letter topic (KIP-1191): records a consumer rejects and records delivered share.delivery.count.limit times are written there. Empty: none. The name must start with errors.deadletterqueue.topic.name.prefix and not with __; the topic must exist with errors.deadletterqueue.group.enable=true, unless errors.deadletterqueue.auto.create.topics.enable lets it be created."},
	{Name: "share.auto.offset.reset", Type: String, Scope: Group, Default: "latest", Check: shareAutoOffsetReset,
		Doc: "Where a share group starts reading a partition it has no state for: latest, earliest, or by_duration:<ISO-8601 duration> (PnDTnHnMn.nS, not negative: the first record at most that old)."},
	{Name: "share.delivery.count.limit", Type: Int, Scope: Group, Default: "5", Min: 2, HasMin: true,
		Synonyms: []Synonym{{Name: "group.share.delivery.count.limit"}},
		Bounds:   [2]string{"group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit"},
		Doc:      "How many times a record is delivered to the share group before it is archived (and written to the dead-letter topic)."},
	{Name: "share.heartbeat.interval.ms", Type: Int, Scope: Group, Default: "5000", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "group.share.heartbeat.interval.ms"}},
		Bounds:   [2]string{"group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms"},
		Doc:      "How often the share group's members heartbeat; less than its share.session.timeout.ms."},
	{Name: "share.isolation.level", Type: String, Scope: Group, Default: "read_uncommitted", Enum: []string{"read_committed", "read_uncommitted"},
		Doc: "Whether the share group is delivered only committed transactional records (read_committed) or every record (read_uncommitted)."},
	{Name: "share.partition.max.record.locks", Type: Int, Scope: Group, Default: "2000", Min: 100, HasMin: true,
		Synonyms: []Synonym{{Name: "group.share.partition.max.record.locks"}},
		Bounds:   [2]string{"group.share.min.partition.max.record.locks", "group.share.max.partition.max.record.locks"},
		Doc:      "The most records of one partition the share group has acquired (in flight) at once."},
	{Name: "share.record.lock.duration.ms", Type: Int, Scope: Group, Default: "30000", Min: 1000, HasMin: true,
		Synonyms: []Synonym{{Name: "group.share.record.lock.duration.ms"}},
		Bounds:   [2]string{"group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms"},
		Doc:      "How long a share group member holds the records it acquired before they are available again."},
	{Name: "share.renew.acknowledge.enable", Type: Boolean, Scope: Group, Default: "true",
		Doc: "Whether the share group's members may renew the lock of records they hold (acknowledge type RENEW, KIP-1222); when false, a partition's acknowledgements that include RENEW are refused with INVALID_RECORD_STATE (none applied), as Kafka's."},
	{Name: "share.session.timeout.ms", Type: Int, Scope: Group, Default: "45000", Min: 1, HasMin: true,
		Synonyms: []Synonym{{Name: "group.share.session.timeout.ms"}},
		Bounds:   [2]string{"group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms"},
		Doc:      "How long a share group member may go without heartbeating before it is removed."},
}

func gzipLevel(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n != -1 && (n < 1 || n > 9) {
		return errors.New("must be 1 to 9, or -1")
	}
	return nil
}

func minusOneOrMore(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < -1 {
		return errors.New("must be -1 or more")
	}
	return nil
}

func withClassic(v string) error {
	for _, p := range SplitList(v) {
		if p == "classic" {
			return nil
		}
	}
	return errors.New("disabling the classic protocol is not supported")
}

// ConsumerAssignor is the short name (uniform, range) of a group.consumer.assignors entry
// given by name or by Kafka's class name; "" if it is neither.
func ConsumerAssignor(v string) string {
	switch v {
	case "uniform", "org.apache.kafka.coordinator.group.assignor.UniformAssignor":
		return "uniform"
	case "range", "org.apache.kafka.coordinator.group.assignor.RangeAssignor":
		return "range"
	}
	return ""
}

func consumerAssignors(v string) error {
	l := SplitList(v)
	if len(l) == 0 {
		return errors.New("must not be empty")
	}
	for _, a := range l {
		if ConsumerAssignor(a) == "" {
			return fmt.Errorf("unknown assignor %q (uniform, range or their Kafka class names)", a)
		}
	}
	return nil
}

func nonEmptyList(v string) error {
	if len(SplitList(v)) == 0 {
		return errors.New("must not be empty")
	}
	return nil
}

// PerIPOverrides parses max.connections.per.ip.overrides: ADDRESS:COUNT entries.
func PerIPOverrides(v string) (map[netip.Addr]int, error) {
	out := map[netip.Addr]int{}
	for _, e := range SplitList(v) {
		i := strings.LastIndex(e, ":")
		if i < 0 {
			return nil, fmt.Errorf("%q: want ADDRESS:COUNT", e)
		}
		addr, err := netip.ParseAddr(strings.Trim(e[:i], "[]"))
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not an IP address", e, e[:i])
		}
		n, err := strconv.Atoi(e[i+1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: the count must be a number, at least 0", e)
		}
		out[addr.Unmap()] = n
	}
	return out, nil
}

func perIPOverrides(v string) error {
	_, err := PerIPOverrides(v)
	return err
}

// SuperUsers splits super.users: principals separated by semicolons.
func SuperUsers(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func superUsers(v string) error {
	for _, p := range SuperUsers(v) {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return fmt.Errorf("%q: want Type:Name, e.g. User:admin", p)
		}
	}
	return nil
}

func bootstrapUser(v string) error {
	if v == "" {
		return nil
	}
	if name, pw, ok := strings.Cut(v, ":"); !ok || name == "" || pw == "" {
		return errors.New("want NAME:PASSWORD")
	}
	return nil
}
