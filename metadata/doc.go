// Package metadata is the one source of cluster metadata: which brokers exist and how to
// reach them, which broker is the controller, which topics exist (name, id, config
// overrides) and, for every partition, its replicas, in-sync replicas, leader and epochs.
//
// # What it owns
//
//   - Image: an immutable, consistent snapshot of that metadata; a change makes a new
//     image (Edit … Build) that shares what did not change, so readers never lock.
//   - Delta (Diff): what changed between two images, by topic id, for the watchers that
//     act on it (the replica manager opens, reconfigures and deletes partitions).
//   - Store: the interface every implementation provides: Image, Watch, and commands
//     (RegisterBroker, CreateTopic, DeleteTopic, CreatePartitions, AlterTopicConfigs,
//     AllocateProducerIDs, AlterPartition, ElectLeaders, AlterReassignments,
//     AlterScramCredentials, CreateACLs, DeleteACLs, AlterClientQuotas, AlterGroupConfigs,
//     AlterBrokerConfigs;
//     ListReassignments reads the ongoing reassignments of an image). Commands are
//     plain data, so a replicated store can put them in a log. metadata/local is the single-node store; storetest is the conformance
//     suite every implementation passes.
//   - Rules: the checks and replica placement every store applies to commands.
//   - Topic names (ValidateTopicName), ids (TopicID, Kafka's base64url Uuid form), the
//     internal topic names, the partition directory names and Kafka's partition.metadata
//     file (the last two shared by metadata/local and replica).
//   - The sentinel errors of metadata (ErrUnknownTopic, ErrTopicExists, …), which the
//     server maps to Kafka error codes.
//
// # What it must not import
//
// Nothing of partitions, logs, the network or the server: metadata imports internal/*
// only (internal/config for topic settings, internal/sasl for SCRAM credentials,
// internal/acl for ACL bindings). The layers above (replica, server) depend on it, never
// the reverse.
//
// # Concurrency
//
// Images, Topics and Deltas are immutable once published and may be shared by any number
// of goroutines; never modify what they return. Builder and Rules values are not for
// concurrent use (a store applies one command at a time). Store implementations document
// their own contract (see Store).
package metadata
