package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Producer writes records to topics. It is safe for concurrent use; one
// Producer per process is usually right, since it batches records from all
// goroutines per partition.
type Producer struct {
	cfg *config
	cl  *kgo.Client

	mu         sync.Mutex
	partitions map[string]int32 // partition counts seen, with ManualPartitioning

	closeOnce sync.Once
}

// NewProducer returns a producer. It does not connect until the first send;
// call Ping to check the brokers are reachable.
//
// Options: Brokers, ClientID, Logger, Timeout, RequiredAcks, Compression, Linger,
// ManualPartitioning, AutoCreateTopics, KgoOptions.
func NewProducer(opts ...Option) (*Producer, error) {
	cfg := newConfig(opts)
	kopts, err := cfg.producerOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(kopts, cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("client: new producer: %w", err)
	}
	return &Producer{cfg: cfg, cl: cl, partitions: make(map[string]int32)}, nil
}

func (c *config) producerOpts() ([]kgo.Opt, error) {
	opts := c.kgoOpts()
	switch c.acks {
	case AcksAll:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("%w: acks %d (want -1, 0 or 1)", ErrInvalid, c.acks)
	}
	codec, err := ParseCompression(c.compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if c.linger > 0 {
		opts = append(opts, kgo.ProducerLinger(c.linger))
	}
	if c.manualPart {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	return opts, nil
}

// Codecs lists the compression codec names Compression accepts.
var Codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// ParseCompression returns the kgo codec for a name of Codecs ("" means none); other
// names are an error wrapping ErrInvalid.
func ParseCompression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("%w: compression %q (want one of none, gzip, snappy, lz4, zstd)", ErrInvalid, name)
}

// Send writes r and waits until the broker acknowledged it (per RequiredAcks).
// On success r.Partition, r.Offset and r.Timestamp are set from the broker's answer.
//
// With ManualPartitioning, a partition the topic does not have fails with
// ErrNotFound, and a negative one with ErrInvalid.
func (p *Producer) Send(ctx context.Context, r *Record) error {
	if err := p.checkPartition(ctx, r); err != nil {
		return err
	}
	kr := r.toKgo(ctx)
	err := p.cl.ProduceSync(ctx, kr).FirstErr()
	if err != nil {
		return p.wrap(err, r)
	}
	r.Partition, r.Offset, r.Timestamp = kr.Partition, kr.Offset, kr.Timestamp
	return nil
}

// SendAsync queues r and returns at once, unless the producer's buffer is full, in
// which case it blocks until there is room or ctx is done. done, if not nil, is
// called exactly once, from the producer's goroutine, with r updated as by Send
// and the send's error. Calls to done for one partition happen in offset order.
// Flush waits for every queued record.
//
// With ManualPartitioning, the first record to each topic waits for the topic's
// metadata, and a record to a partition the topic does not have is refused as by
// Send: done is then called before SendAsync returns, from the calling goroutine.
func (p *Producer) SendAsync(ctx context.Context, r *Record, done func(*Record, error)) {
	if err := p.checkPartition(ctx, r); err != nil {
		if done != nil {
			done(r, err)
		}
		return
	}
	kr := r.toKgo(ctx)
	p.cl.Produce(ctx, kr, func(kr *kgo.Record, err error) {
		if err != nil {
			err = p.wrap(err, r)
		} else {
			r.Partition, r.Offset, r.Timestamp = kr.Partition, kr.Offset, kr.Timestamp
		}
		if done != nil {
			done(r, err)
		}
	})
}

func (p *Producer) wrap(err error, r *Record) error {
	return p.cfg.wrap(err, fmt.Sprintf("produce to %q", r.Topic), fmt.Sprintf("topic %q", r.Topic))
}

// checkPartition refuses, with ManualPartitioning, a record to a partition its
// topic does not have: franz-go would fail it with an error callers cannot tell
// apart from others. The partition counts are cached; a count too small for a
// record is looked up again, since partitions can be added. A topic missing
// from the metadata is left to the send, which may create it (AutoCreateTopics).
//
// The lookup is a metadata request of its own: kadm would answer from franz-go's
// metadata cache, which can be seconds old.
func (p *Producer) checkPartition(ctx context.Context, r *Record) error {
	if !p.cfg.manualPart {
		return nil
	}
	if r.Partition < 0 {
		return kindf(ErrInvalid, "produce to %q: partition %d is negative", r.Topic, r.Partition)
	}
	p.mu.Lock()
	n := p.partitions[r.Topic]
	p.mu.Unlock()
	if r.Partition < n {
		return nil
	}
	n, err := p.partitionCount(ctx, r.Topic)
	if err != nil || n <= 0 {
		return err
	}
	p.mu.Lock()
	p.partitions[r.Topic] = max(p.partitions[r.Topic], n)
	p.mu.Unlock()
	if r.Partition >= n {
		return noPartition(r.Topic, int(n), r.Partition)
	}
	return nil
}

// partitionCount asks a broker how many partitions topic has: 0 if the broker
// does not know the topic.
func (p *Producer) partitionCount(ctx context.Context, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, p.cl)
	if err != nil {
		return 0, p.cfg.wrap(err, fmt.Sprintf("produce to %q", topic), fmt.Sprintf("topic %q", topic))
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic && kerr.ErrorForCode(t.ErrorCode) == nil {
			return int32(len(t.Partitions)), nil
		}
	}
	return 0, nil
}

// Flush waits until every record queued by SendAsync is acknowledged or failed.
func (p *Producer) Flush(ctx context.Context) error {
	return p.cl.Flush(ctx)
}

// Ping checks that a broker answers, failing with an *UnreachableError if none does.
func (p *Producer) Ping(ctx context.Context) error { return ping(ctx, p.cfg, p.cl) }

// Close flushes queued records (for up to the Timeout option) and releases the
// producer's connections. It is idempotent.
func (p *Producer) Close() {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.timeout)
		defer cancel()
		_ = p.cl.Flush(ctx) // best effort: callers who care call Flush themselves
		p.cl.Close()
	})
}

func ping(ctx context.Context, cfg *config, cl *kgo.Client) error {
	if err := cl.Ping(ctx); err != nil {
		if ctx.Err() == nil || isDialErr(err) {
			return &UnreachableError{Brokers: cfg.brokers, Err: err}
		}
		return cfg.wrap(err, "ping", "")
	}
	return nil
}
