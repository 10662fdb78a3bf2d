package client

import (
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultBrokers is the seed broker list used when no Brokers option is given:
// a broker started with `strata serve` and no flags.
const DefaultBrokers = "127.0.0.1:9092"

// An Option configures a Producer, Consumer, Admin or Requester, or one of the
// handler helpers (Retry). Options that do not concern the value being built are
// ignored, so one option list can be shared by every value an application creates.
type Option interface {
	apply(*config)
}

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

// Acks is how many acknowledgements a produce request waits for.
type Acks int8

const (
	// AcksAll waits for every in-sync replica; on a single Strata node it means
	// the records are on disk. This is the default.
	AcksAll Acks = -1
	// AcksLeader waits for the leader only.
	AcksLeader Acks = 1
	// AcksNone does not wait for any acknowledgement (fire and forget).
	AcksNone Acks = 0
)

type config struct {
	brokers  []string
	clientID string
	logger   *slog.Logger
	timeout  time.Duration
	extra    []kgo.Opt

	// producer
	acks        Acks
	compression string
	linger      time.Duration
	manualPart  bool

	// consumer
	group       string
	topics      []string
	start       Position
	startSet    bool
	atMostOnce  bool
	stopAtEnd   bool
	partitions  []int32
	maxPoll     int
	maxRecords  int
	autoCreate  bool
	sessTimeout time.Duration

	// retry and dead letter
	maxAttempts int
	backoffMin  time.Duration
	backoffMax  time.Duration
	dlqTopic    func(topic string) string
	dlqNamed    bool // DeadLetterTopic was given
	createDLQ   bool
	retryMode   RetryMode

	// request-reply
	requestTimeout time.Duration
}

func newConfig(opts []Option) *config {
	c := &config{
		brokers:        []string{DefaultBrokers},
		clientID:       "strata-client",
		timeout:        30 * time.Second,
		acks:           AcksAll,
		start:          Earliest,
		maxAttempts:    3,
		backoffMin:     100 * time.Millisecond,
		backoffMax:     5 * time.Second,
		dlqTopic:       func(t string) string { return t + ".dlq" },
		requestTimeout: 30 * time.Second,
		maxPoll:        500,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// Brokers sets the seed brokers, as host:port. Each argument may itself be a
// comma-separated list. The default is DefaultBrokers.
func Brokers(addrs ...string) Option {
	return optFunc(func(c *config) {
		var bs []string
		for _, a := range addrs {
			for _, b := range strings.Split(a, ",") {
				if b = strings.TrimSpace(b); b != "" {
					bs = append(bs, b)
				}
			}
		}
		if len(bs) > 0 {
			c.brokers = bs
		}
	})
}

// ClientID sets the client id sent to brokers (default "strata-client").
func ClientID(id string) Option { return optFunc(func(c *config) { c.clientID = id }) }

// Logger makes the underlying kgo client log to l, at l's level.
func Logger(l *slog.Logger) Option { return optFunc(func(c *config) { c.logger = l }) }

// Timeout bounds how long a request is retried before it fails, for example while
// no broker is reachable (default 30s).
func Timeout(d time.Duration) Option { return optFunc(func(c *config) { c.timeout = d }) }

// KgoOptions passes raw franz-go options to the underlying kgo.Client, after the
// options this package derives. It is the escape hatch for TLS, SASL and tuning.
func KgoOptions(opts ...kgo.Opt) Option {
	return optFunc(func(c *config) { c.extra = append(c.extra, opts...) })
}

// RequiredAcks sets the producer's acknowledgement level (default AcksAll).
// AcksLeader and AcksNone disable idempotent writes, which require AcksAll.
func RequiredAcks(a Acks) Option { return optFunc(func(c *config) { c.acks = a }) }

// Compression sets the producer's batch compression: "none", "gzip", "snappy",
// "lz4" or "zstd" (default none). Unknown names make NewProducer fail.
func Compression(codec string) Option {
	return optFunc(func(c *config) { c.compression = strings.ToLower(codec) })
}

// Linger makes the producer wait up to d for more records before sending a batch,
// trading latency for throughput (default 0: send as soon as possible).
func Linger(d time.Duration) Option { return optFunc(func(c *config) { c.linger = d }) }

// ManualPartitioning makes the producer send each record to Record.Partition
// instead of choosing a partition from the key (hash) or spreading keyless records.
// A partition the topic does not have fails the send with ErrNotFound.
func ManualPartitioning() Option { return optFunc(func(c *config) { c.manualPart = true }) }

// AutoCreateTopics lets producing or consuming create missing topics, when the
// broker allows it (off by default: a typo in a topic name is an error).
func AutoCreateTopics() Option { return optFunc(func(c *config) { c.autoCreate = true }) }

// StartAt sets where a consumer starts when it has no committed offset (with a
// group) or always (without a group). The default is Earliest.
func StartAt(p Position) Option {
	return optFunc(func(c *config) { c.start, c.startSet = p, true })
}

// AtMostOnce makes a group consumer commit each batch of polled records before the
// handler sees them: a crash loses the batch rather than redelivering it. The
// default is at-least-once: offsets are committed only after the handler returns nil.
func AtMostOnce() Option { return optFunc(func(c *config) { c.atMostOnce = true }) }

// StopAtEnd makes Consumer.Run return nil once it has consumed every partition up
// to the end offsets it saw when it started, instead of waiting for new records.
func StopAtEnd() Option { return optFunc(func(c *config) { c.stopAtEnd = true }) }

// Partitions restricts a consumer without a group to the given partitions.
func Partitions(ps ...int32) Option {
	return optFunc(func(c *config) { c.partitions = append(c.partitions, ps...) })
}

// SessionTimeout sets the group session timeout: how long the coordinator waits
// for a silent member before rebalancing its partitions away (default 45s).
func SessionTimeout(d time.Duration) Option {
	return optFunc(func(c *config) { c.sessTimeout = d })
}

// MaxAttempts sets how many times Retry calls a failing handler before the record
// goes to the dead-letter topic (default 3; values below 1 mean 1).
func MaxAttempts(n int) Option { return optFunc(func(c *config) { c.maxAttempts = n }) }

// Backoff sets Retry's exponential backoff between attempts: min doubles after
// every failure, capped at max (default 100ms to 5s).
func Backoff(minWait, maxWait time.Duration) Option {
	return optFunc(func(c *config) { c.backoffMin, c.backoffMax = minWait, maxWait })
}

// DeadLetterTopic names the dead-letter topic for records read from a topic
// (default topic + ".dlq"; in a RetryConsumer's share mode "dlq." + topic, or
// "dlq." + group when it reads several topics). In share mode every topic must map
// to the same name, starting with the broker's errors.deadletterqueue.topic.name.prefix.
func DeadLetterTopic(name func(topic string) string) Option {
	return optFunc(func(c *config) {
		if name != nil {
			c.dlqTopic, c.dlqNamed = name, true
		}
	})
}

// CreateDeadLetterTopic makes a RetryConsumer create its dead-letter topics when
// they do not exist, with the broker's default partitions and replication factor
// (in share mode with errors.deadletterqueue.group.enable=true). By default they
// must exist (or, in share mode, the broker must create them:
// errors.deadletterqueue.auto.create.topics.enable).
func CreateDeadLetterTopic() Option { return optFunc(func(c *config) { c.createDLQ = true }) }

// RetryWith chooses a RetryConsumer's mode: RetryAuto (the default), RetryClassic
// or RetryShare.
func RetryWith(m RetryMode) Option { return optFunc(func(c *config) { c.retryMode = m }) }

// RequestTimeout bounds how long Requester.Request waits for a reply when ctx has
// no earlier deadline (default 30s).
func RequestTimeout(d time.Duration) Option {
	return optFunc(func(c *config) { c.requestTimeout = d })
}

// kgoOpts returns the options every kgo client of this package shares.
func (c *config) kgoOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.ClientID(c.clientID),
		kgo.RetryTimeout(c.timeout),
	}
	if c.logger != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{c.logger}))
	}
	if c.autoCreate {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	return opts
}
