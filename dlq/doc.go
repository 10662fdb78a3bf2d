// Package dlq writes share groups' dead letters (KIP-1191): for each record a share group
// gives up on — rejected by a consumer, or delivered share.delivery.count.limit times —
// one record on the group's dead-letter topic (the group setting
// errors.deadletterqueue.topic.name), with Kafka's headers:
//
//	__dlq.errors.topic           the source topic
//	__dlq.errors.partition       the source partition (decimal)
//	__dlq.errors.offset          the source offset (decimal)
//	__dlq.errors.group           the share group
//	__dlq.errors.delivery.count  how many times it was delivered (decimal)
//	__dlq.errors.message         "Offset rejected by client." or
//	                             "Offset delivery count exceeded the threshold."
//
// and the source record's key and value only when the group sets
// errors.deadletterqueue.copy.record.enable (otherwise both null): given by the caller, or
// read from the source partition on this broker (a record that cannot be read goes with
// headers only, as Kafka's). The record goes to
// partition source partition mod the dead-letter topic's partition count; the records of
// one call that go to one partition are written as uncompressed batches no larger than
// the topic's max.message.bytes (a single record larger than that is sent alone and
// refused by the partition, as Kafka's writer does), stamped with the wall clock.
//
// The package knows nothing of storage or metadata: a Cluster (the server) resolves a
// group's dead-letter topic (checking KIP-1191's rules at write time, as Kafka does, and
// creating the topic when errors.deadletterqueue.auto.create.topics.enable allows), reads
// source records, and appends a batch to a partition through its leader (on this broker,
// or with Produce to the leader of a cluster). The share-group coordinator calls
// Writer.Write once it has archived the records; the write is not atomic with the
// archiving (neither is Kafka's).
//
// It must not import metadata, replica, partition, log, coord, group, txn or server.
//
// # Concurrency
//
// A Writer is safe for concurrent use; it keeps no state between calls.
package dlq
