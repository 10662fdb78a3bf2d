package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors callers branch on with errors.Is. Errors returned by this
// package wrap them, and wrap the underlying Kafka or network error too.
var (
	// ErrNotFound: the topic, partition or group does not exist.
	ErrNotFound = errors.New("client: not found")
	// ErrExists: the topic already exists.
	ErrExists = errors.New("client: already exists")
	// ErrGroupNotEmpty: the group has active members, so its offsets cannot be
	// reset nor the group deleted; stop its consumers first.
	ErrGroupNotEmpty = errors.New("client: group has active members")
	// ErrUnreachable: no seed broker accepted a connection. The error is an
	// *UnreachableError naming the brokers tried.
	ErrUnreachable = errors.New("client: no broker reachable")
	// ErrTimeout: a Requester got no reply in time.
	ErrTimeout = errors.New("client: request timed out")
	// ErrClosed: the value was used after Close.
	ErrClosed = errors.New("client: closed")
	// ErrInvalid: an argument is invalid (bad partition count, unknown codec …).
	ErrInvalid = errors.New("client: invalid argument")
)

// UnreachableError reports that none of Brokers could be reached.
type UnreachableError struct {
	Brokers []string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("client: no broker reachable at %s: %v", strings.Join(e.Brokers, ","), e.Err)
}

// Unwrap returns the network error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is reports ErrUnreachable.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// RemoteError is what Requester.Request returns when the responder's function
// failed: the responder sends the error text back in place of a reply.
type RemoteError struct{ Message string }

func (e *RemoteError) Error() string { return "client: responder failed: " + e.Message }

// wrap classifies err: Kafka error codes and network failures become the
// sentinels above. The message names what the call was about, subject (for
// example `topic "orders"`), for the conditions that are about it (not found,
// already exists, has active members), and the operation, op (for example
// `create topic "orders"`), otherwise. The Kafka error stays in the chain for
// errors.Is and errors.As but, for those conditions, not in the text: it would
// only repeat the message.
func (c *config) wrap(err error, op, subject string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) || errors.Is(err, ErrUnreachable) ||
		errors.Is(err, ErrGroupNotEmpty) || errors.Is(err, ErrInvalid) {
		return err
	}
	about := func(what, fallback string) string {
		if subject != "" {
			return subject + " " + what
		}
		if op != "" {
			return op + ": " + fallback
		}
		return fallback
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return &kindError{kind: ErrNotFound, msg: about("does not exist", "unknown topic or partition"), err: err}
	case errors.Is(err, kerr.GroupIDNotFound), errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.VoterNotFound):
		return &kindError{kind: ErrNotFound, msg: about("does not exist", "not found"), err: err}
	case errors.Is(err, kerr.TopicAlreadyExists), errors.Is(err, kerr.DuplicateVoter):
		return &kindError{kind: ErrExists, msg: about("already exists", "already exists"), err: err}
	case errors.Is(err, kerr.NonEmptyGroup):
		return &kindError{kind: ErrGroupNotEmpty, msg: about("has active members", "group has active members"), err: err}
	case errors.Is(err, kerr.InvalidPartitions), errors.Is(err, kerr.InvalidReplicationFactor),
		errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidTopicException),
		errors.Is(err, kerr.InvalidRequest), errors.Is(err, kerr.InvalidReplicaAssignment),
		errors.Is(err, kerr.InvalidRegularExpression):
		// The broker's explanation is the useful part: say what was refused and why.
		msg := op
		if msg == "" {
			msg = subject
		}
		if msg != "" {
			msg += ": "
		}
		return &kindError{kind: ErrInvalid, msg: msg + brokerReason(err), err: err}
	case isDialErr(err):
		return &UnreachableError{Brokers: c.brokers, Err: err}
	}
	if op == "" {
		return err
	}
	return fmt.Errorf("client: %s: %w", op, err)
}

// brokerError is a Kafka error code with the broker's message, as CreateTopics,
// CreatePartitions and AlterConfigs return.
type brokerError struct {
	err error  // the kerr.Error
	msg string // the broker's message, may be empty
}

func withBrokerMessage(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return &brokerError{err: err, msg: msg}
}

func (e *brokerError) Error() string { return e.err.Error() + ": " + e.msg }
func (e *brokerError) Unwrap() error { return e.err }

// brokerReason is the broker's message for err if it sent one, or else the
// description of err's Kafka error code.
func brokerReason(err error) string {
	var be *brokerError
	if errors.As(err, &be) {
		return be.msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return strings.TrimSuffix(ke.Description, ".")
	}
	return err.Error()
}

func isDialErr(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// kindError is an error of one of the sentinel kinds. Its text is the package
// prefix and msg, which reads as a sentence (`client: topic "orders" already
// exists`) rather than ending in the sentinel's own text; errors.Is(e, kind)
// holds, and the cause, if any, is unwrapped for errors.Is and errors.As.
type kindError struct {
	kind error  // the sentinel: errors.Is(e, kind)
	msg  string // what failed and why, complete
	err  error  // the cause, usually a kerr.Error; may be nil
}

func (e *kindError) Error() string        { return "client: " + e.msg }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }

// kindf returns an error of the sentinel kind with a formatted message.
func kindf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// noPartition is the error for a partition a topic does not have.
func noPartition(topic string, partitions int, p int32) error {
	s := "s"
	if partitions == 1 {
		s = ""
	}
	return kindf(ErrNotFound, "topic %q has %d partition%s; partition %d does not exist", topic, partitions, s, p)
}
