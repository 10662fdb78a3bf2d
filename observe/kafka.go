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

	"github.com/stratalog/strata/server"
)

// errNotAttached is the answer of the JSON API before the broker is open.
var errNotAttached = errors.New("the broker is starting: its data directory is not open yet")

// kafkaClient is the console's Kafka clients: franz-go over in-process connections to
// the attached broker (Server.ServeConn on one end of a net.Pipe), so every console action
// is a Kafka request through the broker's pipeline. With basic authentication
// (Options.BasicAuth) each logged-in user has a client of its own whose connections are
// logged in as that user (Server.ServeConnAs), so the ACLs judge the user's actions, on a
// SASL first listener too. Created on first use; at most maxConsoleClients, the least
// recently used closed beyond.
type kafkaClient struct {
	h  *Handler
	mu sync.Mutex
	// clients by principal; the zero Principal is the client of ServeConn's connections
	// (the first listener's own principal, and no login: no basic authentication).
	clients map[server.Principal]*consoleClient
}

type consoleClient struct {
	cl   *kgo.Client
	ad   *kadm.Client
	used time.Time
}

// maxConsoleClients bounds the console's Kafka clients (one per logged-in user).
const maxConsoleClients = 32

// get returns the client of principal p (the zero Principal: no login), creating it on
// first use.
func (k *kafkaClient) get(p server.Principal) (*kgo.Client, *kadm.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.clients[p]; c != nil {
		c.used = time.Now()
		return c.cl, c.ad, nil
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
			serve := s.ServeConn
			if p != (server.Principal{}) {
				serve = func(nc net.Conn) error { return s.ServeConnAs(nc, p) }
			}
			if err := serve(b); err != nil {
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
	if len(k.clients) >= maxConsoleClients {
		var oldest server.Principal
		var at time.Time
		for q, c := range k.clients {
			if at.IsZero() || c.used.Before(at) {
				oldest, at = q, c.used
			}
		}
		k.clients[oldest].cl.Close()
		delete(k.clients, oldest)
	}
	if k.clients == nil {
		k.clients = map[server.Principal]*consoleClient{}
	}
	c := &consoleClient{cl: cl, ad: kadm.NewClient(cl), used: time.Now()}
	k.clients[p] = c
	return c.cl, c.ad, nil
}

func (k *kafkaClient) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for p, c := range k.clients {
		c.cl.Close()
		delete(k.clients, p)
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
