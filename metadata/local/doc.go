// Package local is the single-node metadata.Store: the broker's metadata persisted in its
// data directory, in the same files and formats as before the metadata seam existed
// (docs/storage.md, "Topic metadata"):
//
//	<data.dir>/.lock                       exclusive lock: a second broker on the dir fails
//	                                       (LockDataDir; a cluster node takes it too)
//	<data.dir>/meta.properties             version=1, node.id, cluster.id (generated once;
//	                                       Read/WriteMetaProperties for a cluster node)
//	<data.dir>/producer-ids                end of the last reserved block of producer ids
//	<data.dir>/.topics/<topic>.properties  one per topic: id, partition count, overrides
//
// The image has one broker, this node (registered by the server with its listeners),
// which is the controller and leads every partition at leader epoch 0, replicas = ISR =
// [node]. Every change is written (atomically: tmp, fsync, rename, directory fsync)
// before it is applied and the watchers are called; a topic's metadata file is the
// commit point of its creation and, rewritten with deleted=true, of its deletion. Open
// finishes interrupted deletions (removing the partition directories, by their names,
// <topic>-<n>) and adopts partition directories that have a partition.metadata but no
// topic metadata file, so no data is ever dropped for want of metadata.
//
// The partition logs themselves, and the clean-shutdown marker that stands for them, are
// the replica manager's (package replica).
//
// # What it must not import
//
// metadata and internal/* only: nothing of partitions, logs, the network or the server.
//
// # Concurrency
//
// A Store is safe for concurrent use: Image is a lock-free read; commands, Watch and
// Close are serialised by one mutex held across their disk I/O and the watcher calls.
// Watchers are called synchronously, in registration order, before the command returns,
// so a CreateTopic that returns has its partitions open; they must not call commands.
package local
