package group

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the name of the internal topic holding offsets and group metadata.
const OffsetsTopic = "__consumer_offsets"

// Coordinator is the consumer-group coordinator of one broker: it owns every group whose
// __consumer_offsets partition this broker leads (on a single node, all of them).
//
// Concurrency: every method is safe for concurrent use. Join and Sync block until the
// rebalance reaches them, ctx is done, or the Coordinator is closed. Close stops the
// timers and waits for their callbacks.
type Coordinator struct {
	opts   Options
	clock  Clock
	logger *slog.Logger
	logs   []Log // one per partition of __consumer_offsets
	done   chan struct{}

	life struct {
		sync.Mutex
		closed bool
		wg     sync.WaitGroup
	}

	mu struct {
		sync.Mutex
		groups      map[string]*group
		expiryTimer Timer
	}
}

// New opens every partition of __consumer_offsets through opts.OpenLog, replays it to
// rebuild groups and committed offsets, and starts the offsets-retention timer.
func New(opts *Options) (*Coordinator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Coordinator{
		opts:   o,
		clock:  o.Clock,
		logger: o.Logger.With("component", "group"),
		logs:   make([]Log, o.NumPartitions),
		done:   make(chan struct{}),
	}
	c.mu.groups = make(map[string]*group)
	for p := int32(0); p < o.NumPartitions; p++ {
		l, err := o.OpenLog(p)
		if err != nil {
			return nil, fmt.Errorf("group: open %s-%d: %w", OffsetsTopic, p, err)
		}
		c.logs[p] = l
		if err := c.replay(p, l); err != nil {
			return nil, fmt.Errorf("group: replay %s-%d: %w", OffsetsTopic, p, err)
		}
	}
	for _, g := range c.mu.groups {
		g.mu.Lock()
		if len(g.members) > 0 {
			g.state = StateStable
			for _, m := range g.members {
				c.resetSessionLocked(g, m)
			}
		}
		g.mu.Unlock()
	}
	c.scheduleExpiry()
	return c, nil
}

// Close stops every timer, fails blocked Join and Sync calls with
// ErrCoordinatorNotAvailable and waits for running timer callbacks. It is idempotent.
func (c *Coordinator) Close() error {
	c.life.Lock()
	if c.life.closed {
		c.life.Unlock()
		return nil
	}
	c.life.closed = true
	close(c.done)
	c.life.Unlock()

	c.mu.Lock()
	if c.mu.expiryTimer != nil {
		c.mu.expiryTimer.Stop()
	}
	groups := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.stopTimersLocked()
		g.mu.Unlock()
	}
	c.life.wg.Wait()
	return nil
}

func (c *Coordinator) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// afterFunc runs f after d on the coordinator's clock, as a goroutine owned by the
// coordinator: Close waits for it, and f does not run once Close has begun.
func (c *Coordinator) afterFunc(d time.Duration, f func()) Timer {
	return c.clock.AfterFunc(d, func() {
		c.life.Lock()
		if c.life.closed {
			c.life.Unlock()
			return
		}
		c.life.wg.Add(1)
		c.life.Unlock()
		defer c.life.wg.Done()
		f()
	})
}

// Partition returns the __consumer_offsets partition that stores group:
// abs(javaStringHashCode(group)) % NumPartitions, as Kafka computes it.
func (c *Coordinator) Partition(group string) int32 { return PartitionFor(group, c.opts.NumPartitions) }

// NumPartitions is the partition count of __consumer_offsets.
func (c *Coordinator) NumPartitions() int32 { return c.opts.NumPartitions }

// PartitionFor is Kafka's group-to-partition mapping for n partitions.
func PartitionFor(group string, n int32) int32 {
	var h int32
	for _, r := range utf16Units(group) {
		h = 31*h + int32(r)
	}
	// Kafka's Utils.abs maps MinInt32 to 0 (h & 0x7fffffff).
	return (h & 0x7fffffff) % n
}

// utf16Units returns the UTF-16 code units of s, as Java's String.hashCode sees them.
func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// lookup returns the group, or nil.
func (c *Coordinator) lookup(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.groups[id]
}

// getOrCreate returns the group, creating it Empty if needed.
func (c *Coordinator) getOrCreate(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.mu.groups[id]
	if g == nil {
		g = newGroup(id, c.Partition(id), c.clock.Now())
		c.mu.groups[id] = g
	}
	return g
}

// removeGroupLocked marks g Dead and drops it from the map. g.mu must be held.
func (c *Coordinator) removeGroupLocked(g *group) {
	g.stopTimersLocked()
	g.state = StateDead
	c.mu.Lock()
	if c.mu.groups[g.id] == g {
		delete(c.mu.groups, g.id)
	}
	c.mu.Unlock()
}

// appendRecords writes recs to the group's partition as one batch and waits until durable.
// Its error wraps ErrStorage or ErrCoordinatorNotAvailable.
func (c *Coordinator) appendRecords(p int32, recs []kv) error {
	if len(recs) == 0 {
		return nil
	}
	if _, err := c.logs[p].Append(encodeBatch(c.clock.Now(), recs)); err != nil {
		if errors.Is(err, ErrStorage) {
			// The log reports its failed state (once, not per request).
			return fmt.Errorf("%w: %s-%d: %v", ErrStorage, OffsetsTopic, p, err)
		}
		c.logger.Error("append to __consumer_offsets failed", "partition", p, "err", err)
		return fmt.Errorf("%w: %s-%d: %v", ErrCoordinatorNotAvailable, OffsetsTopic, p, err)
	}
	return nil
}

// persistGroup writes the group's metadata record if it changed since the last write.
// It takes g.wmu, so log order equals snapshot order.
func (c *Coordinator) persistGroup(g *group) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	if !g.dirty || g.state == StateDead {
		g.mu.Unlock()
		return nil
	}
	g.dirty = false
	rec := kv{key: groupKey(g.id), value: g.metadataValueLocked()}
	p := g.partition
	g.mu.Unlock()
	err := c.appendRecords(p, []kv{rec})
	if err != nil {
		g.mu.Lock()
		g.dirty = true
		g.mu.Unlock()
	}
	return err
}

// replay rebuilds groups and offsets from one partition.
func (c *Coordinator) replay(p int32, l Log) error {
	return l.Replay(func(b []byte) error {
		return decodeBatches(b, func(key, value []byte) error {
			if err := c.replayRecord(key, value); err != nil {
				// A record we cannot read is not fatal: Kafka skips unknown key versions too.
				c.logger.Warn("skipping __consumer_offsets record", "partition", p, "err", err)
			}
			return nil
		})
	})
}

func (c *Coordinator) replayRecord(key, value []byte) error {
	if len(key) < 2 {
		return errBadRecord
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: offset key: %v", errBadRecord, err)
		}
		tp := TopicPartition{Topic: k.Topic, Partition: k.Partition}
		if value == nil {
			if g := c.lookup(k.Group); g != nil {
				delete(g.offsets, tp)
				c.dropIfUnusedReplay(g)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("%w: offset value: %v", errBadRecord, err)
		}
		le := int32(-1)
		if v.Version >= 3 {
			le = v.LeaderEpoch
		}
		g := c.getOrCreate(k.Group)
		g.offsets[tp] = committed{offset: v.Offset, leaderEpoch: le, metadata: v.Metadata,
			commitTime: time.UnixMilli(v.CommitTimestamp)}
		return nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("%w: group key: %v", errBadRecord, err)
		}
		if value == nil {
			if g := c.lookup(k.Group); g != nil {
				g.resetMetadata()
				c.dropIfUnusedReplay(g)
			}
			return nil
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("%w: group value: %v", errBadRecord, err)
		}
		g := c.getOrCreate(k.Group)
		g.loadMetadata(&v)
		return nil
	default:
		return fmt.Errorf("%w: key version %d", errBadRecord, version)
	}
}

func (c *Coordinator) dropIfUnusedReplay(g *group) {
	if len(g.offsets) == 0 && len(g.members) == 0 && g.protocolType == "" && g.generation == 0 {
		c.mu.Lock()
		delete(c.mu.groups, g.id)
		c.mu.Unlock()
	}
}

// newMemberID returns prefix-<uuid>, like Kafka.
func newMemberID(prefix string) string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// wait blocks on ch until a result, ctx or Close.
func wait[T any](ctx context.Context, c *Coordinator, ch <-chan T) (T, error) {
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-c.done:
		return zero, ErrCoordinatorNotAvailable
	}
}

// groupsSnapshot returns every group, sorted by ID.
func (c *Coordinator) groupsSnapshot() []*group {
	c.mu.Lock()
	out := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		out = append(out, g)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
