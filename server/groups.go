package server

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/internal/config"
)

// Wiring of the consumer-group coordinator (package group) into the Server.
//
// A data hook opens the coordinator once the topics are open: it replays
// __consumer_offsets (partitions of the partition manager, groups_partition.go) to
// rebuild every group and committed offset. closeData calls closeGroups before the
// topics close. The coordinator is kept in a registry keyed by *Server.

func init() {
	registerDataHook(func(s *Server) (func() error, error) {
		if _, err := s.openGroups(); err != nil {
			return nil, fmt.Errorf("server: open group coordinator: %w", err)
		}
		return nil, nil // closeData calls closeGroups itself
	})
}

type serverGroups struct {
	once sync.Once
	c    *group.Coordinator
	err  error
}

var groupRegistry sync.Map // *Server -> *serverGroups

// groupOptions derives the coordinator's options from the broker settings.
func (s *Server) groupOptions() *group.Options {
	r := s.data.broker
	if r == nil {
		r = config.ResolveBroker(s.opts.Settings)
	}
	o := &group.Options{
		NumPartitions:          s.offsetsPartitions(int32(r.Int64("offsets.topic.num.partitions"))),
		InitialRebalanceDelay:  r.Millis("group.initial.rebalance.delay.ms"),
		MinSessionTimeout:      r.Millis("group.min.session.timeout.ms"),
		MaxSessionTimeout:      r.Millis("group.max.session.timeout.ms"),
		OffsetsRetention:       time.Duration(r.Int64("offsets.retention.minutes")) * time.Minute,
		RetentionCheckInterval: r.Millis("offsets.retention.check.interval.ms"),
		Logger:                 s.log,
	}
	if o.InitialRebalanceDelay == 0 {
		o.InitialRebalanceDelay = -1 // explicit 0: no delay (group.Options treats 0 as unset)
	}
	if md := r.Int64("offset.metadata.max.bytes"); md > 0 {
		o.MaxMetadataBytes = int(md)
	}
	o.OpenLog = s.offsetsLog
	return o
}

// groups returns the server's group coordinator.
func (s *Server) groups() (*group.Coordinator, error) { return s.openGroups() }

// openGroups returns the server's group coordinator, creating it (and replaying
// __consumer_offsets) on first use.
func (s *Server) openGroups() (*group.Coordinator, error) {
	v, _ := groupRegistry.LoadOrStore(s, &serverGroups{})
	sg := v.(*serverGroups)
	sg.once.Do(func() {
		if s.closing() {
			sg.err = group.ErrCoordinatorNotAvailable
			return
		}
		sg.c, sg.err = group.New(s.groupOptions())
		if sg.err != nil {
			s.log.Error("group coordinator failed to start", "err", sg.err)
		}
	})
	if sg.err != nil {
		return nil, fmt.Errorf("%w: %v", group.ErrCoordinatorNotAvailable, sg.err)
	}
	return sg.c, nil
}

// closeGroups closes the coordinator (waiting for its timers) and forgets it.
func (s *Server) closeGroups() error {
	v, ok := groupRegistry.LoadAndDelete(s)
	if !ok {
		return nil
	}
	sg := v.(*serverGroups)
	sg.once.Do(func() { sg.err = group.ErrCoordinatorNotAvailable })
	if sg.c != nil {
		return sg.c.Close()
	}
	return nil
}

// clientHost is the member's host as Kafka reports it ("/127.0.0.1").
func clientHost(r *request) string {
	if r.conn == nil || r.conn.nc == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(r.conn.nc.RemoteAddr().String())
	if err != nil {
		return "/" + r.conn.nc.RemoteAddr().String()
	}
	return "/" + host
}
