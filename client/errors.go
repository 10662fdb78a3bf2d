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
// sentinels above, with what (for example `topic "orders"`) as context.
func (c *config) wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) || errors.Is(err, ErrUnreachable) ||
		errors.Is(err, ErrGroupNotEmpty) || errors.Is(err, ErrInvalid) {
		return err
	}
	prefix := "client: "
	if what != "" {
		prefix += what + ": "
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.GroupIDNotFound),
		errors.Is(err, kerr.UnknownTopicID):
		return &kindError{kind: ErrNotFound, msg: prefix + "not found", err: err}
	case errors.Is(err, kerr.TopicAlreadyExists):
		return &kindError{kind: ErrExists, msg: prefix + "already exists", err: err}
	case errors.Is(err, kerr.NonEmptyGroup):
		return &kindError{kind: ErrGroupNotEmpty, msg: prefix + "group has active members", err: err}
	case errors.Is(err, kerr.InvalidPartitions), errors.Is(err, kerr.InvalidReplicationFactor),
		errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidTopicException),
		errors.Is(err, kerr.InvalidRequest):
		return &kindError{kind: ErrInvalid, msg: prefix + "invalid", err: err}
	case isDialErr(err):
		return &UnreachableError{Brokers: c.brokers, Err: err}
	}
	if what == "" {
		return err
	}
	return fmt.Errorf("%s%w", prefix, err)
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

// kindError is an error of one of the sentinel kinds, wrapping its cause.
type kindError struct {
	kind error  // the sentinel: errors.Is(e, kind)
	msg  string // what failed and how, without the cause
	err  error  // the cause, usually a kerr.Error
}

func (e *kindError) Error() string        { return e.msg + ": " + e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }
