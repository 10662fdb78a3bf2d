package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Headers the dead-letter helper adds to a record it gives up on.
const (
	HeaderDLQError     = "strata.dlq.error"     // the handler's last error text
	HeaderDLQAttempts  = "strata.dlq.attempts"  // how many times the handler ran
	HeaderDLQTopic     = "strata.dlq.topic"     // where the record was read
	HeaderDLQPartition = "strata.dlq.partition" // its partition, decimal
	HeaderDLQOffset    = "strata.dlq.offset"    // its offset, decimal
	HeaderDLQTime      = "strata.dlq.time"      // when it was dead-lettered, RFC 3339
)

// Retry wraps h so that a failing record is retried with exponential backoff and,
// after MaxAttempts failures (or at once if h's error is Permanent), written to
// the dead-letter topic (DeadLetterTopic, by default "<topic>.dlq") through p, with
// the original key, value and headers plus the HeaderDLQ* headers, and then
// skipped: a poison message never blocks its partition. The wrapped handler fails
// only if ctx is done or the dead-letter write fails, so the record is not
// committed and comes back.
//
// Retry is the classic mode of a RetryConsumer, which uses a share group and the
// broker's dead-letter topic instead where the broker has them; use Retry directly
// to wrap a handler of a Consumer you run yourself.
//
// Options: MaxAttempts, Backoff, DeadLetterTopic.
func Retry(p *Producer, h Handler, opts ...Option) Handler {
	cfg := newConfig(opts)
	attempts := max(cfg.maxAttempts, 1)
	return func(ctx context.Context, r *Record) error {
		wait := cfg.backoffMin
		var err error
		for n := 1; ; n++ {
			if err = h(ctx, r); err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if n >= attempts || errors.Is(err, ErrPermanent) {
				return deadLetter(ctx, p, cfg.dlqTopic(r.Topic), r, n, err)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, cfg.backoffMax)
		}
	}
}

// ErrPermanent marks a handler's error as permanent: retrying cannot help (a record
// that does not parse, a request the downstream refuses for good), so Retry and
// RetryConsumer dead-letter the record at once. Wrap an error with Permanent.
var ErrPermanent = errors.New("client: permanent failure")

// Permanent marks err as permanent (errors.Is(Permanent(err), ErrPermanent)); its
// text is err's. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

func deadLetter(ctx context.Context, p *Producer, topic string, r *Record, attempts int, cause error) error {
	dl := &Record{
		Topic:   topic,
		Key:     r.Key,
		Value:   r.Value,
		Headers: append([]Header(nil), r.Headers...),
	}
	dl.Headers = append(dl.Headers,
		Header{HeaderDLQError, []byte(cause.Error())},
		Header{HeaderDLQAttempts, []byte(strconv.Itoa(attempts))},
		Header{HeaderDLQTopic, []byte(r.Topic)},
		Header{HeaderDLQPartition, []byte(strconv.FormatInt(int64(r.Partition), 10))},
		Header{HeaderDLQOffset, []byte(strconv.FormatInt(r.Offset, 10))},
		Header{HeaderDLQTime, []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	if err := p.Send(ctx, dl); err != nil {
		return fmt.Errorf("client: dead-letter %s to %q after %d attempts (%v): %w", r, topic, attempts, cause, err)
	}
	return nil
}

// A Predicate selects records.
type Predicate func(r *Record) bool

// Filter wraps h so that it sees only the records keep accepts; the others are
// skipped (and, in a group, committed like handled ones).
func Filter(keep Predicate, h Handler) Handler {
	return func(ctx context.Context, r *Record) error {
		if !keep(r) {
			return nil
		}
		return h(ctx, r)
	}
}

// KeyEquals accepts records whose key is key.
func KeyEquals(key string) Predicate {
	return func(r *Record) bool { return string(r.Key) == key }
}

// KeyPrefix accepts records whose key starts with prefix.
func KeyPrefix(prefix string) Predicate {
	return func(r *Record) bool {
		return len(r.Key) >= len(prefix) && string(r.Key[:len(prefix)]) == prefix
	}
}

// HasHeader accepts records that carry a header named key.
func HasHeader(key string) Predicate {
	return func(r *Record) bool { _, ok := r.Header(key); return ok }
}

// HeaderEquals accepts records whose header key has the value value.
func HeaderEquals(key, value string) Predicate {
	return func(r *Record) bool { v, ok := r.Header(key); return ok && string(v) == value }
}

// All accepts records every one of ps accepts.
func All(ps ...Predicate) Predicate {
	return func(r *Record) bool {
		for _, p := range ps {
			if !p(r) {
				return false
			}
		}
		return true
	}
}

// Any accepts records at least one of ps accepts.
func Any(ps ...Predicate) Predicate {
	return func(r *Record) bool {
		for _, p := range ps {
			if p(r) {
				return true
			}
		}
		return false
	}
}

// Not accepts the records p rejects.
func Not(p Predicate) Predicate { return func(r *Record) bool { return !p(r) } }
