package observe

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errNotAttached is the answer of the JSON API before the broker is open.
var errNotAttached = errors.New("the broker is starting: its data directory is not open yet")

// kafkaClient is the console's Kafka client: franz-go over in-process connections to the
// attached broker (Server.ServeConn on one end of a net.Pipe), so every console action is
// a Kafka request through the broker's pipeline. Created on first use.
type kafkaClient struct {
	h  *Handler
	mu sync.Mutex
	cl *kgo.Client
	ad *kadm.Client
}

// get returns the client, creating it on first use.
func (k *kafkaClient) get() (*kgo.Client, *kadm.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl != nil {
		return k.cl, k.ad, nil
	}
	s := k.h.server()
	if s == nil {
		return nil, nil, errNotAttached
	}
	cl, err := kgo.NewClient(
		// Any address: the dialer connects every broker of this single node in process.
		kgo.SeedBrokers("strata-console.invalid:9092"),
		kgo.Dialer(func(context.Context, string, string) (net.Conn, error) {
			c, b := net.Pipe()
			if err := s.ServeConn(b); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}),
		kgo.ClientID("strata-console"),
		kgo.RecordPartitioner(consolePartitioner{}),
		kgo.ProducerLinger(0),
		kgo.RequestRetries(2),
		kgo.RetryTimeout(consoleTimeout),
		// The console shows the broker as it is now: kadm's cached metadata (5 s by
		// default) would list a topic just deleted, or miss one just created.
		kgo.MetadataMinAge(10*time.Millisecond),
	)
	if err != nil {
		return nil, nil, err
	}
	k.cl, k.ad = cl, kadm.NewClient(cl)
	return k.cl, k.ad, nil
}

func (k *kafkaClient) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl != nil {
		k.cl.Close()
		k.cl, k.ad = nil, nil
	}
}

// consolePartitioner sends a record to the partition it names (Partition >= 0), else by
// its key's hash as Kafka's default partitioner does, else to a random partition.
type consolePartitioner struct{}

func (consolePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return consoleTopicPartitioner{keyed: kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

type consoleTopicPartitioner struct{ keyed kgo.TopicPartitioner }

func (consoleTopicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p consoleTopicPartitioner) Partition(r *kgo.Record, n int) int {
	switch {
	case r.Partition >= 0 && int(r.Partition) < n:
		return int(r.Partition)
	case r.Key != nil:
		return p.keyed.Partition(r, n)
	default:
		return rand.IntN(n)
	}
}
