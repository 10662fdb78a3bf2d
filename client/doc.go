// Package client is the Go library for applications that use Strata, or any other
// Kafka-protocol broker: a Producer, a Consumer (alone or in a consumer group), an
// Admin for topics and groups, and messaging patterns built on the log —
// request-reply (Requester, Responder), retries with a dead-letter topic
// (RetryConsumer, Retry) and filtering (Filter). It is a small layer over franz-go's
// kgo and kadm with sane defaults; KgoOptions reaches everything else (TLS, SASL,
// tuning).
//
// # Connecting
//
// Every constructor takes Options; Brokers sets the seed brokers (default
// 127.0.0.1:9092, where `strata serve` listens). Constructors do not connect: the first
// call does, and Ping checks reachability up front. An unreachable broker is an
// *UnreachableError (errors.Is ErrUnreachable).
//
//	p, err := client.NewProducer(client.Brokers("127.0.0.1:9092"))
//	...
//	defer p.Close()
//	r := &client.Record{Topic: "orders", Key: []byte("alice"), Value: []byte(`{"total": 42}`)}
//	err = p.Send(ctx, r) // r.Partition and r.Offset now say where it landed
//
// # Delivery semantics
//
// Producers wait for acks=all by default (on Strata: the record is on disk) and are
// idempotent, so retries do not duplicate records. A group Consumer commits a record's
// offset only after its Handler returns nil (at-least-once); AtMostOnce commits
// before handling instead. Records of one partition reach the handler in order, one
// at a time.
//
// # Errors
//
// Conditions callers branch on are sentinels tested with errors.Is: ErrNotFound,
// ErrExists, ErrGroupNotEmpty, ErrUnreachable, ErrTimeout, ErrClosed, ErrInvalid;
// a handler marks an error that retrying cannot fix with Permanent (ErrPermanent).
// Errors wrap the underlying Kafka error (a kerr.Error) too.
//
// # Concurrency
//
// Producer, Admin and Requester are safe for concurrent use. A Consumer's Run is
// called once, from one goroutine, and calls its Handler on that goroutine; Close may
// be called from any goroutine and makes Run return ErrClosed.
//
// # Patterns
//
//   - Request-reply: a Requester sends a record with HeaderCorrelationID and
//     HeaderReplyTo and waits for the reply on its reply topic; the service runs a
//     Consumer whose handler is Responder(producer, fn).
//   - Retries and dead letters: a RetryConsumer retries a failing handler up to
//     MaxAttempts times and then parks the record in a dead-letter topic, so a poison
//     message never blocks the others. Where the broker has share groups (KIP-932)
//     and their dead-letter topics (KIP-1191), as Strata does, it is a share-group
//     member: it accepts a handled record, releases a failed one (after Backoff) and
//     rejects a Permanent failure, and the broker archives a record at the group's
//     delivery count limit and writes it to the dead-letter topic with __dlq.errors.*
//     headers. Elsewhere, or with RetryWith(RetryClassic), it is a consumer-group
//     member whose handler is wrapped with Retry: retries with exponential backoff,
//     then the record is written to "<topic>.dlq" with HeaderDLQ* headers and
//     committed. Mode says which mode runs and why.
//   - Filtering: Filter(predicate, handler) hands the handler only matching records;
//     KeyEquals, KeyPrefix, HasHeader, HeaderEquals, All, Any and Not build predicates.
//
// See docs/client.md for a guided tour and the examples in this package for runnable
// code.
package client
