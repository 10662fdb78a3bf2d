// Package txn is the transaction coordinator (KIP-98, KIP-447; KIP-890 later): it owns
// the transactional ids whose __transaction_state partition this broker leads, on the
// coordinator runtime (package coord), as package group owns consumer groups. It knows
// nothing of the server: the server wires its requests (InitProducerId with a
// transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, DescribeTransactions,
// ListTransactions) to it, and gives it a MarkerWriter (the replica manager's partitions'
// AppendMarker) and the broker's producer-id allocator.
//
// # State
//
// Each transactional id has a Txn: its producer id and epoch, transaction timeout, State
// (Kafka's numbering: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
// CompleteAbort; Dead and PrepareEpochFence are not stored) and the partitions of its
// open transaction. Every change is one record of __transaction_state (50 partitions,
// compacted; the id hashes to its partition as Kafka's partitionFor): key Kafka's
// TransactionLogKey (version 0: the id), value TransactionLogValue (version 1, read back
// in versions 0 and 1), written with kmsg's TxnMetadataKey/Value; an expired id is a
// tombstone. Loading a partition replays its records; the last one of an id is its state.
//
//	InitProducerId      Empty/Complete* → Empty, epoch+1 (new id at epoch 0; a new producer
//	                    id once the epoch is exhausted). Ongoing → PrepareAbort with epoch+1
//	                    (fences the old producer), answer CONCURRENT_TRANSACTIONS.
//	AddPartitions       Empty/Complete*/Ongoing → Ongoing, partitions added (none new: no write)
//	EndTxn              Ongoing → PrepareCommit/PrepareAbort, answered once written; then the
//	                    markers in the background, then CompleteCommit/CompleteAbort
//	EndTxnV2            likewise with epoch+1 (and Empty/Complete* → PrepareAbort, an empty
//	                    abort); Complete* moves to NextProducerID at epoch 0 if set
//	timeout             Ongoing past transaction.timeout.ms → PrepareAbort with epoch+1
//	                    (transaction.abort.timed.out.transaction.cleanup.interval.ms)
//	expiration          Empty/Complete* unused for transactional.id.expiration.ms → tombstone
//
// While a state change of an id is being written, or its markers are, its requests get
// ErrConcurrentTransactions (CONCURRENT_TRANSACTIONS: clients retry), except that
// InitProducerId and AddPartitions first wait up to Options.EndWait for the markers (a
// deliberate difference from Kafka, which answers at once: the client's backoff would
// cost more than the wait). A coordinator that
// loads a partition resumes the markers of the transactions left in Prepare* (a restart
// or a failover mid-commit), so a transaction whose end was acknowledged always
// completes. Markers carry the coordinator epoch: the leader epoch of the
// __transaction_state partition, which partitions check (a deposed coordinator's markers
// are refused).
//
// Transactions v2 (KIP-890 part 2): EndTxnV2 (EndTxn v5) bumps the epoch at every end
// (NextProducerID past an exhausted epoch); Produce v12 and TxnOffsetCommit v5 add their
// partitions with AddPartitions. Verify is KIP-890 part 1's check of a transactional
// produce (the partition is in the ongoing transaction).
//
// # Concurrency
//
// Every method of Coordinator is safe for concurrent use. A shard (one partition) has one
// mutex over its ids, released while a record is written (the id's pending flag keeps
// other changes of it out meanwhile). Marker writing, retries (Options.RetryBackoff) and
// the timeout and expiration checks run in goroutines owned by the shard's coord.Partition
// handle: an unload stops them (a marker write in progress sees its context cancelled)
// and waits for them.
package txn
