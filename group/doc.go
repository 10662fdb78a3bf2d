// Package group is Strata's consumer-group coordinator for the classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
// DescribeGroups, DeleteGroups, OffsetDelete).
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
// Kafka's formats (kmsg.OffsetCommitKey/Value, kmsg.GroupMetadataKey/Value) inside
// uncompressed RecordBatch v2; tombstones (nil values) delete. A group lives in partition
// abs(javaStringHashCode(group)) % NumPartitions. Each partition is a Log (the server
// adapts a partition of the partition manager; MemLog is the in-memory one). New replays
// every partition; groups with members come back Stable with fresh session timers, so
// members keep their generation across a broker restart.
//
// # Concurrency
//
// All Coordinator methods are safe for concurrent use. Each group has two mutexes: wmu
// serialises its writes to __consumer_offsets (held across Log.Append so the log order
// is the order of the in-memory changes) and mu guards its state (never held across an
// Append). Lock order: group.wmu → group.mu → Coordinator.mu. Join and Sync block on a
// channel until the rebalance answers them, ctx is done, or Close. Timers (session,
// rebalance, pending members, offsets retention) come from Options.Clock; their callbacks
// are owned by the Coordinator, and Close waits for them.
package group
