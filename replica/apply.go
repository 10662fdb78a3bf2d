package replica

import (
	"errors"
	"fmt"
	"slices"

	"github.com/stratalog/strata/internal/parallel"
	"github.com/stratalog/strata/internal/vfs"
	"github.com/stratalog/strata/metadata"
	"github.com/stratalog/strata/partition"
)

// apply makes the hosted partitions follow delta d: it is the Manager's watcher of the
// store. New partitions placed here are created (fresh directories) and opened, those of
// deleted topics closed and deleted, changed configs applied, and every partition whose
// state changed takes its role (leader or not) with the image's epoch. Partitions that
// fail to open stay offline (Lookup answers ErrOffline) and their errors are returned.
func (m *Manager) apply(d *metadata.Delta) error {
	<-m.ready
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed || d.Empty() {
		return nil
	}
	if d.BrokerConfigsChanged {
		m.setThrottleRates(d.New)
	}
	next := m.hosted.Load().clone()
	var (
		errs    []error
		events  []leadership
		deleted []*partition.Partition
		opens   []openJob
	)
	for _, t := range d.Deleted {
		ht := next.remove(t.ID)
		if ht == nil {
			continue
		}
		for i, r := range ht.parts {
			m.unfollowLocked(tp{t.ID, int32(i)})
			if r != nil && r.p != nil {
				deleted = append(deleted, r.p)
				if r.leader {
					events = append(events, leadership{t.Name, int32(i), -1, false})
				}
			}
		}
	}
	for _, t := range d.Created {
		ht := next.put(m.newHostedTopic(t))
		for i, st := range t.Partitions {
			if st.HasReplica(m.node) {
				opens = append(opens, openJob{ht, int32(i), true})
			}
		}
	}
	type reconf struct {
		t *metadata.Topic
		i int32
		p *partition.Partition
	}
	var reconfs []reconf
	for _, c := range d.Changed {
		ht := m.newHostedTopic(c.New)
		if old, ok := next.byID[c.New.ID]; ok {
			copy(ht.parts, old.parts)
		}
		next.put(ht)
		if c.ConfigsChanged {
			for i, r := range ht.parts {
				if r != nil && r.p != nil {
					reconfs = append(reconfs, reconf{c.New, int32(i), r.p})
				}
			}
		}
		for _, i := range c.Partitions {
			st := c.New.Partitions[i]
			r := ht.parts[i]
			switch {
			case r == nil && st.HasReplica(m.node):
				// Newly placed here (a new partition, or a reassignment's adding
				// replica): created fresh, removing what a directory of that name holds —
				// a copy left by an earlier replica of the partition, or by a deleted
				// topic of the same name whose directory this broker did not remove (down
				// at the time, or a failed delete), which would otherwise keep the new
				// replica offline (another topic id). An adding replica is out of the ISR,
				// so no acknowledged record depends on such a copy; it fetches everything
				// from the leader. A replica already in the ISR keeps its directory.
				fresh := int(i) >= len(c.Old.Partitions) || !slices.Contains(st.ISR, m.node)
				opens = append(opens, openJob{ht, i, fresh})
			case r != nil && !st.HasReplica(m.node): // moved to other brokers
				ht.parts[i] = nil
				m.unfollowLocked(tp{c.New.ID, i})
				if r.p != nil {
					deleted = append(deleted, r.p)
					if r.leader {
						events = append(events, leadership{c.New.Name, i, st.LeaderEpoch, false})
					}
				}
			case r != nil:
				errs = append(errs, m.setRole(ht, i, st, &events))
			}
		}
	}
	errs = append(errs, m.open(opens)...)
	for _, j := range opens {
		if j.ht.parts[j.i].p != nil {
			st, _ := j.ht.topic.Partition(j.i)
			errs = append(errs, m.setRole(j.ht, j.i, st, &events))
		}
	}
	for _, rc := range reconfs {
		if err := rc.p.Reconfigure(m.partitionOptions(rc.t, rc.i)); err != nil {
			errs = append(errs, fmt.Errorf("replica: reconfigure %s-%d: %w", rc.t.Name, rc.i, err))
		}
	}
	m.hosted.Store(next.seal())
	// Deleted partitions go once lookups no longer find them, without a flush: the
	// store's commit point is written already.
	errs = append(errs, parallel.ForEach(len(deleted), m.workers, func(i int) error { return deleted[i].Delete() })...)
	for _, e := range events {
		for _, fn := range m.mu.leadership {
			fn(e.topic, e.index, e.epoch, e.leader)
		}
	}
	return errors.Join(errs...)
}

// openJob is a partition to open or create (fresh) in apply.
type openJob struct {
	ht    *hostedTopic
	i     int32
	fresh bool
}

// open opens the partitions of jobs, m.workers at once, into their topics' slots; one
// that fails is offline. New directories are made durable by one fsync of the data
// directory; if it fails, the fresh partitions are closed and offline too.
func (m *Manager) open(jobs []openJob) []error {
	errs := parallel.ForEach(len(jobs), m.workers, func(k int) error {
		j := jobs[k]
		p, err := m.openPartition(j.ht.topic, j.i, j.fresh, false)
		j.ht.parts[j.i] = &replica{p: p, err: err}
		return err
	})
	var fresh []*partition.Partition
	for _, j := range jobs {
		if p := j.ht.parts[j.i].p; p != nil && j.fresh {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return errs
	}
	if err := vfs.SyncDir(m.fs, m.dir); err != nil {
		m.closeParts(fresh)
		for _, j := range jobs {
			if j.fresh && j.ht.parts[j.i].p != nil {
				j.ht.parts[j.i] = &replica{err: err}
			}
		}
		errs = append(errs, err)
	}
	return errs
}

// setRole makes partition i of ht take its role in state st — leader when st names this
// broker, else follower — at st's leader epoch (partition.MakeLeader, MakeFollower), and
// records a leadership event when that changes. The role is the image's even when the
// partition refuses it (an epoch older than its own, a checkpoint it cannot write): the
// error is returned.
func (m *Manager) setRole(ht *hostedTopic, i int32, st metadata.PartitionState, events *[]leadership) error {
	r := ht.parts[i]
	nr := &replica{p: r.p, err: r.err, leader: r.p != nil && st.Leader == m.node, epoch: st.LeaderEpoch}
	ht.parts[i] = nr
	if events != nil && (nr.leader != r.leader || nr.leader && nr.epoch != r.epoch) {
		*events = append(*events, leadership{ht.topic.Name, i, nr.epoch, nr.leader})
	}
	if r.p == nil {
		return nil
	}
	k := tp{ht.topic.ID, i}
	var err error
	switch {
	case nr.leader && m.opts.Transport != nil: // the ISR bounds the high watermark
		m.unfollowLocked(k)
		if err = r.p.MakeLeader(st.LeaderEpoch); err != nil {
			break
		}
		if r.lead != nil && r.leader && r.epoch == st.LeaderEpoch {
			nr.lead = r.lead
			nr.lead.update(st, m.opts.Now())
		} else {
			nr.lead = newLeaderState(r.p, ht.topic.ID, i, st, m.opts.Now())
		}
		r.p.SetHWPolicy(partition.HWExternal)
	case nr.leader:
		err = r.p.MakeLeader(st.LeaderEpoch)
	default:
		err = r.p.MakeFollower(st.LeaderEpoch)
		if err == nil && m.opts.Transport != nil && st.Leader != metadata.NoLeader {
			r.p.SetHighWatermark(r.p.HighWatermark()) // until the leader's arrives
			r.p.SetHWPolicy(partition.HWExternal)
			m.followLocked(k, st.Leader, ht.topic.Name, r.p, st.LeaderEpoch)
		} else {
			m.unfollowLocked(k)
		}
	}
	if err != nil {
		return fmt.Errorf("replica: %s-%d: leader %v at epoch %d: %w", ht.topic.Name, i, nr.leader, st.LeaderEpoch, err)
	}
	return nil
}

// followLocked makes the fetcher of source replicate partition k (starting it if
// needed) at epoch, and no other fetcher. m.mu is held.
func (m *Manager) followLocked(k tp, source int32, topic string, p *partition.Partition, epoch int32) {
	if cur, ok := m.mu.following[k]; ok && cur != source {
		m.unfollowLocked(k)
	}
	f := m.mu.fetchers[source]
	if f == nil {
		f = newFetcher(source, m.node, m.opts.Transport, m.opts.Fetch,
			fetchThrottle{quota: m.followerQuota, throttled: m.followerThrottled, now: m.opts.Now}, m.log)
		m.mu.fetchers[source] = f
	}
	m.mu.following[k] = source
	f.set(k, topic, p, epoch)
}

// unfollowLocked stops replicating partition k, and stops its fetcher when that was its
// last partition. m.mu is held.
func (m *Manager) unfollowLocked(k tp) {
	source, ok := m.mu.following[k]
	if !ok {
		return
	}
	delete(m.mu.following, k)
	if f := m.mu.fetchers[source]; f != nil && f.remove(k) {
		delete(m.mu.fetchers, source)
		f.close()
	}
}

// stopFetchersLocked stops every fetcher. m.mu is held.
func (m *Manager) stopFetchersLocked() {
	for source, f := range m.mu.fetchers {
		f.close()
		delete(m.mu.fetchers, source)
	}
	clear(m.mu.following)
}
