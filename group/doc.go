// Package group is Strata's consumer-group coordinator for the classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
// DescribeGroups, DeleteGroups, OffsetDelete) and the consumer protocol of KIP-848
// (ConsumerGroupHeartbeat, ConsumerGroupDescribe).
//
// # State machine
//
//	Empty ──join──▶ PreparingRebalance ──all rejoined / rebalance timeout──▶ CompletingRebalance
//	  ▲                    ▲   │ (no member left)                                │ leader's SyncGroup
//	  └────────────────────┼───┘                                                 ▼
//	                       └────── join with new metadata, leave, session expiry ── Stable
//	Dead: deleted (DeleteGroups, offsets expired); a Dead group is out of the map.
//
// The first rebalance of an Empty group waits InitialRebalanceDelay so that members
// starting together land in one generation. Later rebalances complete as soon as every
// known member has rejoined, or after the largest rebalance timeout, evicting the others.
// The protocol is the one every member supports, chosen by vote of each member's most
// preferred candidate; the leader gets the member list and assigns (client-side assignors).
//
// # Persistence
//
// Offsets and group metadata are records of the internal topic __consumer_offsets in
// Kafka's formats (kmsg.OffsetCommitKey/Value, kmsg.GroupMetadataKey/Value); tombstones
// (nil values) delete. A group lives in partition abs(javaStringHashCode(group)) %
// NumPartitions. The groups of one partition are a shard of the coordinator runtime
// (package coord): the server loads the partitions this broker leads (Load; on a single
// node all of them, at start), which replays them through coord's record codec (any
// batch, compressed or not); groups with members come back Stable with fresh session
// timers, so members keep their generation across a broker restart. Unload drops a
// partition's groups: their timers stop, their blocked calls and later requests get
// ErrNotCoordinator. Writes go through the shard's coord.Partition (one batch per write,
// returned once committed).
//
// KIP-848 (consumer protocol) groups: their records (Kafka's ConsumerGroup*Key/Value,
// key versions 3–8 and 16; formats848.go) are replayed into the group's consumer state
// (consumer.go: group epoch, assignment epoch, members with subscription, target and
// current assignment, resolved regular expressions). reconcile.go moves a member towards
// its target assignment the way Kafka's CurrentAssignmentBuilder does (member epochs,
// revoke before assign, and the epoch at which each partition was assigned: KIP-1251's
// assignment epochs, which let a member commit at an older epoch the partitions it held
// then, consumer.go checkCommit) and checks heartbeat epochs; group/assign computes the targets
// (uniform, range); consumer_heartbeat.go is the group's state machine (it emits the
// records and applies them with replay's functions) and consumer_coord.go runs it under
// the group's locks, writes the records, and keeps the members' session timers
// (group.consumer.session.timeout.ms, rearmed on load). consumer_api.go is what the
// server calls: ConsumerHeartbeat (Kafka's request checks, then the state machine),
// DescribeConsumerGroups and CheckFetchMember. Subscriptions (names and RE2 regular
// expressions) are resolved through Options.Topics at each heartbeat; a change of the
// subscribed topics' metadata (its hash) bumps the group epoch. A classic group without
// members becomes a consumer group when a KIP-848 member joins, and back
// (group.consumer.migration.policy). Classic members (JoinGroup …) may join a consumer
// group with members (consumer_classic.go): the state machine assigns them like the
// others, they keep their supported protocols and session timeout (ClassicMemberMetadata
// in their member record), their generation is their member epoch. Groups with members
// convert online too: a classic group when a KIP-848 member joins (upgradeLocked), a
// consumer group left with classic members only (downgrade).
//
// # Concurrency
//
// All Coordinator methods are safe for concurrent use. Each group has two mutexes: wmu
// serialises its writes to __consumer_offsets (held across the write, so the log order
// is the order of the in-memory changes) and mu guards its state (never held across a
// write). Each shard has a mutex over its group map. Lock order: group.wmu → group.mu →
// shard.mu. Join and Sync block on a channel until the rebalance answers them, ctx is
// done, or the group's shard stops (unload or Close). Timers (session, rebalance, pending
// members, offsets retention) are set through the shard's coord.Partition on
// Options.Clock; they stop with the shard, and its unload (or Close) waits for running
// callbacks.
//
// Share groups' records (key versions 9–15) are not this package's: Options.Shares gives
// each loaded partition a second coord.Shard (package share's Groups, through the server)
// that replays them and is told of the load and unload.
//
// This package must not import server, replica, metadata or partition: it stores through
// the coord.Log the server gives in Options.OpenLog.
package group
