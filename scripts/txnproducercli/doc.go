// Command txnproducercli stands in for TransactionProducerCli, the Kafka Java client
// program (tests/java/TransactionProducerCli.java) that librdkafka's test
// 0098-consumer-txn runs to write transactional patterns before it checks what its
// consumers see. It behaves as that program does, with franz-go's kgo as the client, so
// scripts/librdkafka-tests.sh can run 0098 where Kafka's jars cannot be had: it puts a
// kafka-run-class.sh in front of librdkafka's tests/java/run-class.sh that runs this
// command for TransactionProducerCli.
//
//	txnproducercli BOOTSTRAP COMMAND...
//
// Each COMMAND is one argument of comma-separated fields (blanks around the commas are
// ignored), run in order:
//
//	topic,NAME    records go to topic NAME from now on
//	testid,ID     producers created from now on have transactional id
//	              test-transactional-id-ID-PRODUCER ("null" for ID until one is given,
//	              as the Java program's string concatenation makes it)
//	sleep,MS      sleep MS milliseconds
//	exit,CODE     exit at once with status CODE: no producer is flushed or closed, so an
//	              open transaction stays open on the brokers until its timeout
//	PRODUCER,PARTITION,IDSTART,COUNT,TXNTYPE,FLUSH
//	              PRODUCER is a name starting with "producer"; the first command naming
//	              it creates it: idempotent, transactional unless TXNTYPE is None (its
//	              InitProducerId is sent at once, as initTransactions), client id
//	              [transactional-]producer-PRODUCER, linger 5 ms, transaction timeout
//	              60 s (the Java client's default). It then sends COUNT records, key the
//	              one byte IDSTART+i (i from 0), value 10 20 30 40 (hex), to PARTITION
//	              (-1: the key's murmur2 hash, as Kafka's default partitioner);
//	              TXNTYPE None, BeginOpen, BeginCommit, BeginAbort begin a transaction
//	              first (but None), ContinueOpen, ContinueCommit, ContinueAbort do not;
//	              FLUSH DoFlush waits for every record sent, DontFlush does not; then
//	              *Commit commits (after a flush, as commitTransaction does) and *Abort
//	              aborts (records not yet sent are dropped, as abortTransaction does).
//
// Numbers are read as Java's Integer.decode reads them (0x10, 16, -1). Each command is
// echoed on stdout as it starts. At the end every producer is closed as the Java client
// closes: its records are flushed and a transaction still open is aborted. Any error
// (a bad command, a failed commit or abort, a transactional record the broker refused)
// ends the program at once with status 1, as an exception escaping the Java program's
// main does; records of a non-transactional producer that fail are reported on stderr and
// otherwise ignored, as the Java program ignores send's futures.
//
// The producers speak Kafka 3.6's protocol versions (kversion.V3_6_0): transactions v1,
// AddPartitionsToTxn before the first record to a partition, as the Java client of the
// Kafka release librdkafka-tests.sh names as the broker version (TEST_KAFKA_VERSION).
// With TXNPRODUCERCLI_VERSIONS=latest in the environment they speak kgo's own newest
// versions instead: transactions v2 (KIP-890 part 2: Produce v12 adds a partition to the
// transaction) where the brokers advertise transaction.version 2, as Strata does.
//
// It imports kgo only (no Strata package): it is a client, as the Java program is. One
// goroutine runs the commands; kgo's delivery callbacks record a transaction's first
// failed record under the producer's mutex.
package main
