package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sort"

	"github.com/stratalog/strata/coord"
)

// OffsetsTopic is the name of the internal topic holding offsets and group metadata.
const OffsetsTopic = "__consumer_offsets"

// Coordinator is the consumer-group coordinator of one broker: it owns every group whose
// __consumer_offsets partition this broker leads (on a single node, all of them). The
// groups of one partition are a shard of the coordinator runtime (package coord): they
// come into memory when the server loads the partition and leave when it unloads it.
//
// Concurrency: every method is safe for concurrent use. Join and Sync block until the
// rebalance reaches them, ctx is done, the group's partition is unloaded or the
// Coordinator closed. Close stops the timers and waits for their callbacks.
type Coordinator struct {
	opts   Options
	clock  coord.Clock
	logger *slog.Logger
	rt     *coord.Runtime[*shard]
}

// New returns a Coordinator hosting no partition of __consumer_offsets yet: the server
// loads those this broker leads (Load), which replays them to rebuild their groups and
// committed offsets.
func New(opts *Options) (*Coordinator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Coordinator{opts: o, clock: o.Clock, logger: o.Logger.With("component", "group")}
	rt, err := coord.New(&coord.Options{
		Topic:         OffsetsTopic,
		NumPartitions: o.NumPartitions,
		OpenLog:       o.OpenLog,
		Logger:        o.Logger,
		Clock:         o.Clock,
	}, c.newShard)
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	c.rt = rt
	return c, nil
}

// Load makes this broker the coordinator of the groups of partition p of
// __consumer_offsets, whose leader it became at leader epoch epoch: it replays the
// partition (groups with members come back Stable with fresh session timers, so members
// keep their generation across a broker restart) and then serves them. Meanwhile their
// requests get ErrCoordinatorLoadInProgress. See coord.Runtime.Load.
func (c *Coordinator) Load(p, epoch int32) error { return c.rt.Load(p, epoch) }

// Unload drops the groups of partition p, whose leadership this broker lost at leader
// epoch epoch (negative: in any case): their timers stop, blocked Join and Sync calls
// return ErrNotCoordinator, and so do later requests. See coord.Runtime.Unload.
func (c *Coordinator) Unload(p, epoch int32) { c.rt.Unload(p, epoch) }

// Close unloads every partition: timers stop, blocked Join and Sync calls return
// ErrCoordinatorNotAvailable, and so does every later call. It waits for running timer
// callbacks and is idempotent.
func (c *Coordinator) Close() error { return c.rt.Close() }

// Partition returns the __consumer_offsets partition that stores group:
// abs(javaStringHashCode(group)) % NumPartitions, as Kafka computes it.
func (c *Coordinator) Partition(group string) int32 { return c.rt.PartitionFor(group) }

// NumPartitions is the partition count of __consumer_offsets.
func (c *Coordinator) NumPartitions() int32 { return c.rt.NumPartitions() }

// shardOf returns the shard holding group id: ErrNotCoordinator, ErrCoordinatorLoadInProgress
// or ErrCoordinatorNotAvailable when this broker cannot serve it.
func (c *Coordinator) shardOf(id string) (*shard, error) {
	return c.rt.Shard(c.rt.PartitionFor(id))
}

// closed reports whether Close has begun (checked first by every request, as Kafka does).
func (c *Coordinator) closed() bool { return c.rt.Closed() }

// groupsSnapshot returns every group of the loaded shards, sorted by ID, and
// ErrCoordinatorLoadInProgress when a partition is loading.
func (c *Coordinator) groupsSnapshot() ([]*group, error) {
	shards, err := c.rt.Shards()
	var out []*group
	for _, sh := range shards {
		out = append(out, sh.groupsSnapshot()...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, err
}

// newMemberID returns prefix-<uuid>, like Kafka.
func newMemberID(prefix string) string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// wait blocks on ch until a result, ctx, or the end of the group's shard (unload:
// ErrNotCoordinator; Close: ErrCoordinatorNotAvailable).
func wait[T any](ctx context.Context, g *group, ch <-chan T) (T, error) {
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-g.shard.part.Done():
		return zero, g.shard.part.Err()
	}
}
