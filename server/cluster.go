package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/metadata/local"
	"github.com/stratalog/strata/metadata/raft"
	"github.com/stratalog/strata/replica"
)

// ClusterOptions make the broker a node of a cluster (combined mode: broker and
// controller): its metadata is the Raft-replicated store of metadata/raft instead of the
// single node's metadata/local. docs/cluster.md has the design.
//
// New waits (logging every 30 s) until the controller quorum has registered this broker:
// a node whose quorum never forms does not start. `strata serve` sets it from
// controller.quorum.voters, broker.heartbeat.interval.ms and broker.session.timeout.ms.
type ClusterOptions struct {
	// Voters are the controller quorum (controller.quorum.voters); NodeID must be one of
	// them, and the node's quorum listener is its own entry's address.
	Voters []raft.Voter
	// Listener, if set, is the quorum listener already bound (tests bind 127.0.0.1:0);
	// it must be reachable at this node's voters address.
	Listener net.Listener
	// Join: a node without Raft state joins the existing quorum (it waits until a voter
	// adds it: AddRaftVoter, `strata cluster add-voter`) instead of bootstrapping one
	// from Voters. Its Voters list the quorum it joins, itself included.
	Join bool
	// HeartbeatInterval (broker.heartbeat.interval.ms) and SessionTimeout
	// (broker.session.timeout.ms); zero values take metadata/raft's defaults.
	HeartbeatInterval, SessionTimeout time.Duration
	// ReplicaLagTimeMax (replica.lag.time.max.ms): how long a follower may stay behind
	// its leader's log end before it leaves the ISR; zero: 30 s (Kafka's default).
	ReplicaLagTimeMax time.Duration
}

func (c *ClusterOptions) heartbeatInterval() time.Duration {
	return cmp.Or(c.HeartbeatInterval, raft.DefaultHeartbeatInterval)
}

func (c *ClusterOptions) sessionTimeout() time.Duration {
	return cmp.Or(c.SessionTimeout, raft.DefaultSessionTimeout)
}

// settings returns the cluster settings by Kafka name, as the node runs them.
func (c *ClusterOptions) settings() map[string]string {
	voters := make([]string, len(c.Voters))
	for i, v := range c.Voters {
		voters[i] = v.String()
	}
	return map[string]string{
		"controller.quorum.voters":     strings.Join(voters, ","),
		"process.roles":                "broker,controller",
		"broker.heartbeat.interval.ms": strconv.FormatInt(c.heartbeatInterval().Milliseconds(), 10),
		"broker.session.timeout.ms":    strconv.FormatInt(c.sessionTimeout().Milliseconds(), 10),
		"strata.cluster.join":          strconv.FormatBool(c.Join),
		"replica.lag.time.max.ms":      strconv.FormatInt(cmp.Or(c.ReplicaLagTimeMax, replica.DefaultLagTimeMax).Milliseconds(), 10),
	}
}

// clusterMetadataDir is the directory of the Raft files in the data directory (Kafka's
// name; no -<n> suffix, so never taken for a partition).
const clusterMetadataDir = "__cluster_metadata"

func (c *ClusterOptions) validate(o *Options) error {
	if !slices.ContainsFunc(c.Voters, func(v raft.Voter) bool { return v.ID == o.NodeID }) {
		return fmt.Errorf("node.id %d is not in controller.quorum.voters %v (only combined mode, process.roles=broker,controller, is supported)", o.NodeID, c.Voters)
	}
	if c.HeartbeatInterval < 0 || c.SessionTimeout < 0 {
		return errors.New("broker.heartbeat.interval.ms and broker.session.timeout.ms must not be negative")
	}
	if hb, st := c.heartbeatInterval(), c.sessionTimeout(); st <= hb {
		return fmt.Errorf("broker.session.timeout.ms %d must exceed broker.heartbeat.interval.ms %d", st.Milliseconds(), hb.Milliseconds())
	}
	if o.FS != nil && o.FS != vfs.Default {
		return errors.New("a cluster node's data directory must be on the operating system's file system (Options.FS unset)")
	}
	return nil
}

// openClusterStore opens the metadata of a cluster node: it locks the data directory,
// checks meta.properties against node.id, starts the node's quorum listener and its Raft
// store, and registers this broker with the controller — retrying until it succeeds,
// which also means this node has caught up with the log — then checks meta.properties
// against the cluster id (writing it on the first start). created reports a new data
// directory.
func (s *Server) openClusterStore(rules metadata.Rules) (_ *raft.Store, created bool, err error) {
	c, d, dir := s.opts.Cluster, &s.data, s.opts.DataDir
	if err := s.opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := local.LockDataDir(s.opts.FS, dir)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	metaPath := filepath.Join(dir, "meta.properties")
	mp, found, err := local.ReadMetaProperties(s.opts.FS, dir)
	if err != nil {
		return nil, false, err
	}
	if found {
		if err := mp.Check(metaPath, s.opts.NodeID, ""); err != nil {
			return nil, false, err
		}
	}

	var self raft.Voter
	for _, v := range c.Voters {
		if v.ID == s.opts.NodeID {
			self = v
		}
	}
	nwOpts := &raft.NetworkOptions{Logger: s.log}
	var nw *raft.Network
	if c.Listener != nil {
		nw = raft.Serve(c.Listener, self.Addr, nwOpts)
	} else if nw, err = raft.Listen(self.Addr, nwOpts); err != nil {
		return nil, false, err
	}
	st, err := raft.Open(&raft.Options{
		NodeID: s.opts.NodeID, Dir: filepath.Join(dir, clusterMetadataDir), Voters: c.Voters, Join: c.Join,
		Transport: nw.Transport(), Forwarder: nw, Logger: s.log, Rules: rules,
		HeartbeatInterval: c.HeartbeatInterval, SessionTimeout: c.SessionTimeout,
	})
	if err != nil { // Open closed the transport, and with it the listener
		return nil, false, err
	}
	nw.Handle(st.ServeForward)
	d.store = st // registerBroker writes through it
	defer func() {
		if err != nil {
			st.Close()
			d.store = nil
		}
	}()
	for attempt := 0; ; attempt++ {
		if err := s.registerBrokerCtx(context.Background(), 5*time.Second); err == nil {
			break
		} else if attempt%6 == 0 {
			s.log.Warn("waiting for the controller quorum to register this broker", "node.id", s.opts.NodeID, "voters", c.Voters, "err", err)
		}
	}
	clusterID := st.Image().ClusterID()
	if found {
		if err := mp.Check(metaPath, s.opts.NodeID, clusterID); err != nil {
			return nil, false, err
		}
	} else if err := local.WriteMetaProperties(s.opts.FS, dir, local.MetaProperties{NodeID: s.opts.NodeID, ClusterID: clusterID}); err != nil {
		return nil, false, err
	}
	d.lock = lock
	return st, !found, nil
}

// controlledShutdown asks the controller to move this cluster node's leaderships away
// (and hands over the Raft leadership), once: first thing in Shutdown, else before the
// data closes.
func (s *Server) controlledShutdown() {
	s.data.controlledOnce.Do(s.controlledShutdownOnce)
}

func (s *Server) controlledShutdownOnce() {
	st, ok := s.data.store.(*raft.Store)
	if !ok {
		return
	}
	// Waiting longer than a session gains nothing: the controller fences the broker then
	// (and the last node of a quorum cannot reach a majority at all).
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Cluster.sessionTimeout())
	defer cancel()
	if err := st.ControlledShutdown(ctx); err != nil {
		s.log.Warn("controlled shutdown failed; the controller fences this broker after its session", "node.id", s.opts.NodeID, "err", err)
	}
}
