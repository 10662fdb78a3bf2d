package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/config"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/local"
	"github.com/stratalog/strata/replica"
	"github.com/stratalog/strata/share"
	"github.com/stratalog/strata/txn"
)

// serverData is the broker's metadata and storage, set by openData and read-only after it
// (closeData excepted): the metadata store (metadata/local: the data directory's lock,
// meta.properties, topic metadata, producer-id blocks; or, on a cluster node,
// metadata/raft, with the lock and meta.properties taken here: cluster.go), the replica
// manager (the partitions and their clean-shutdown marker), the producer-id allocator and
// the group coordinator. The server holds no storage code of its own.
type serverData struct {
	store metadata.Store
	// lock is the data directory's lock on a cluster node (metadata/local holds it on a
	// single node); released after the store closes.
	lock     io.Closer
	replicas *replica.Manager
	// transport carries the follower fetchers' requests to other brokers (a cluster
	// node; nil on a single node): replication.go.
	transport *replicaTransport
	// broker holds the effective broker settings (Settings plus the values of Options
	// fields, and defaults) by Kafka name; read group.* and other settings from here.
	broker config.Resolved

	// pids allocates producer ids (22_init_producer_id.go).
	pids *producerIDs
	// groups is the consumer-group coordinator (groups.go).
	groups *group.Coordinator
	// txns is the transaction coordinator (txn.go), nil unless strata.transactions.enable.
	txns *txn.Coordinator
	// shares is the share-group service (shares.go), nil unless strata.share.version is 1
	// or group.coordinator.rebalance.protocols lists share (on a single node only).
	shares *shares
	// shareGroups is the share groups' membership (shares.groups), made before the group
	// coordinator, which loads it with the partitions of __consumer_offsets; sharesOpen is
	// shares once open, for its members' session timers (which may fire before).
	shareGroups *share.Groups
	sharesOpen  atomic.Pointer[shares]
	// verifyTxn: transactional produces are verified with the coordinator
	// (transaction.partition.verification.enable, txn_verify.go).
	verifyTxn bool
	// txnVersion is the transaction.version feature advertised (strata.transaction.version).
	txnVersion int16
	// interBroker is how to connect to the other brokers of a cluster (nil on a single
	// node without an inter-broker listener): interbroker.go.
	interBroker *interBroker
	// peers are the clients of the other brokers of a cluster (27_write_txn_markers.go).
	peers peerClients

	closeOnce sync.Once
	closeErr  error
	// controlledOnce: the controlled shutdown runs once (Shutdown, else closeData).
	controlledOnce sync.Once
}

// openData opens the data directory: the metadata store (lock, meta.properties, topics),
// then the partitions, then the producer-id allocator and the group coordinator.
func (s *Server) openData() (err error) {
	d := &s.data
	if err := config.ValidateBroker(s.opts.Settings); err != nil {
		return fmt.Errorf("server: invalid broker settings: %w", err)
	}
	for _, ig := range config.IgnoredBroker(s.opts.Settings) {
		s.log.Warn(ig.String(), "setting", ig.Name)
	}
	d.broker = config.ResolveBroker(s.staticSettings())
	if rf := d.broker.Int64("default.replication.factor"); s.opts.Cluster == nil && rf != 1 {
		return fmt.Errorf("server: invalid broker settings: default.replication.factor=%d: a single node (no controller.quorum.voters) takes only 1", rf)
	}

	if err := s.loadTLS(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if d.interBroker, err = s.newInterBroker(); err != nil {
		return fmt.Errorf("server: %w", err)
	}

	rules := metadata.Rules{Broker: s.opts.Settings, ValidateConfigs: replica.ValidateTopicConfig(s.opts.Settings)}
	var store metadata.Store
	var created bool
	if s.opts.Cluster != nil {
		if store, created, err = s.openClusterStore(rules); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	} else {
		ls, err := local.Open(s.opts.DataDir, &local.Options{FS: s.opts.FS, NodeID: s.opts.NodeID, Logger: s.log, Rules: rules})
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		store, created = ls, ls.Created()
		d.store = store
		s.registerBroker()
	}
	defer func() {
		if err != nil {
			if d.txns != nil {
				d.txns.Close()
			}
			if d.groups != nil {
				d.groups.Close()
			}
			if d.replicas != nil {
				d.replicas.Close()
			}
			if d.transport != nil {
				d.transport.Close()
			}
			store.Close()
			if d.lock != nil {
				d.lock.Close()
			}
		}
	}()
	if created {
		s.log.Info("created data directory", "dir", s.opts.DataDir)
	}
	ropts := &replica.Options{
		Dir:    s.opts.DataDir,
		FS:     s.opts.FS,
		NodeID: s.opts.NodeID,
		Broker: s.opts.Settings,
		Logger: s.log,

		Transactions: d.broker.Bool(txnEnableSetting),
		OnFlush:      s.metrics.fsync.observe,
	}
	if s.opts.Cluster != nil { // followers replicate from their leaders
		d.transport = newReplicaTransport(s.opts.NodeID, store.Image, d.interBroker)
		ropts.Transport = d.transport
		if ropts.Fetch, err = fetchOptions(d.broker); err != nil {
			return err
		}
	}
	d.replicas, err = replica.Open(store, ropts)
	if err != nil {
		return fmt.Errorf("server: open topics: %w", err)
	}
	d.peers.ib = d.interBroker
	d.pids = newProducerIDs(store, s.opts.NodeID, d.replicas.Hosted())
	if d.groups, err = s.openGroups(); err != nil {
		return fmt.Errorf("server: open group coordinator: %w", err)
	}
	if d.broker.Bool(txnEnableSetting) {
		if d.txns, err = s.openTxn(); err != nil {
			return fmt.Errorf("server: open transaction coordinator: %w", err)
		}
		d.verifyTxn = d.broker.Bool(txnVerificationSetting)
		d.txnVersion = int16(d.broker.Int64(txnVersionSetting))
	}
	if shareWanted(d.broker) {
		if d.shares, err = s.openShares(); err != nil {
			return fmt.Errorf("server: open share groups: %w", err)
		}
	}
	s.log.Info("data directory open", "dir", s.opts.DataDir, "cluster.id", store.Image().ClusterID(), "node.id", s.opts.NodeID,
		"topics", len(store.Image().Topics()), "clean", created || d.replicas.CleanShutdown())
	return nil
}

// image is the current metadata image.
func (s *Server) image() *metadata.Image { return s.data.store.Image() }

// registerBroker registers this broker in the metadata with an endpoint per listener:
// the address clients that come in on it are to reach it at (its advertised address, else
// the one bound, else the one configured). It runs at open and again once listeners are
// bound (their ports may have been 0). A failure (on a cluster node: no controller
// within defaultControllerTimeout) is logged.
func (s *Server) registerBroker() {
	if err := s.registerBrokerCtx(context.Background(), defaultControllerTimeout); err != nil {
		s.log.Warn("registering this broker's listeners in the metadata failed", "node.id", s.opts.NodeID, "err", err)
	}
}

// registerBrokerCtx is registerBroker bounded by ctx and timeout.
func (s *Server) registerBrokerCtx(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b := metadata.Broker{ID: s.opts.NodeID}
	for _, cfg := range s.opts.listeners() {
		var host string
		var port int32
		if l := s.listenerNamed(cfg.Name); l != nil {
			host, port = l.advertised()
		} else {
			host, port = hostPort(cmp.Or(cfg.Advertised, cfg.Addr))
		}
		b.Endpoints = append(b.Endpoints, metadata.Endpoint{Listener: cfg.Name, SecurityProtocol: string(cfg.SecurityProtocol), Host: host, Port: port})
	}
	return s.data.store.RegisterBroker(ctx, b)
}

// staticSettings returns the broker settings explicitly set: Settings plus the Options
// fields that differ from their defaults (DescribeConfigs reports them as
// STATIC_BROKER_CONFIG).
func (s *Server) staticSettings() map[string]string {
	out := maps.Clone(s.opts.Settings)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range s.optionSettings() {
		if st, ok := config.Lookup(k); !ok || st.Default != v {
			out[k] = v
		}
	}
	return out
}

// optionSettings returns the settings carried by Options fields, by Kafka name.
func (s *Server) optionSettings() map[string]string {
	listeners, adv, protocols := s.listenerSettings()
	out := map[string]string{
		"listeners":                listeners,
		"advertised.listeners":     adv,
		protocolMapSetting:         protocols,
		"log.dirs":                 s.opts.DataDir,
		"node.id":                  strconv.Itoa(int(s.opts.NodeID)),
		"socket.request.max.bytes": strconv.Itoa(int(s.opts.MaxRequestBytes)),
		"max.connections":          strconv.Itoa(s.opts.MaxConnections),
		"connections.max.idle.ms":  strconv.FormatInt(s.opts.IdleTimeout.Milliseconds(), 10),
	}
	if c := s.opts.Cluster; c != nil {
		maps.Copy(out, c.settings())
	}
	return out
}

// closeData closes the group coordinator, the partitions (the replica manager writes the
// clean-shutdown marker if all closed cleanly) and the metadata store (which releases the
// data directory's lock), after a cluster node's controlled shutdown. It is idempotent.
func (s *Server) closeData() error {
	d := &s.data
	d.closeOnce.Do(func() {
		if d.store == nil {
			return
		}
		s.controlledShutdown()
		var errs []error
		if d.txns != nil {
			if err := d.txns.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close transaction coordinator: %w", err))
			}
		}
		if d.shares != nil {
			if err := d.shares.close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close share groups: %w", err))
			}
		}
		d.peers.close() // after their users: the transaction coordinator and the share groups' dead letters
		if d.groups != nil {
			if err := d.groups.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close group coordinator: %w", err))
			}
		}
		if d.replicas != nil {
			if err := d.replicas.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: close topics: %w", err))
			}
		}
		if d.transport != nil {
			d.transport.Close() // after the fetchers stopped
		}
		if len(errs) > 0 {
			s.log.Warn("closing the data directory failed", "err", errors.Join(errs...))
		}
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: close metadata: %w", err))
		}
		if d.lock != nil {
			if err := d.lock.Close(); err != nil {
				errs = append(errs, fmt.Errorf("server: unlock data directory: %w", err))
			}
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}
