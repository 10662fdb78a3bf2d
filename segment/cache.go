package segment

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Cache bounds the number of sealed segments whose files are open, across every segment
// that shares it (one per broker: strata.log.open.segments.max). A sealed segment's files
// are opened on first use and counted here; when more than the limit are open, the
// least recently used ones are closed (the CLOCK algorithm: a segment used since the
// hand last passed it gets a second chance), and reopened on their next use. A segment
// not yet synced, or busy, is passed over; files in use stay open until their readers
// release them, so the limit is a target that readers may exceed for a while.
//
// A nil *Cache keeps every file open. Safe for concurrent use. Lock order: the Cache's
// mutex, then a segment's (taken with TryLock only); a segment never calls into the Cache
// holding its own lock.
type Cache struct {
	max       int
	opens     atomic.Int64
	evictions atomic.Int64
	mu        struct {
		sync.Mutex
		ring []*Segment
		hand int
	}
}

// NewCache returns a Cache keeping at most limit sealed segments open (at least 1).
func NewCache(limit int) *Cache { return &Cache{max: max(limit, 1)} }

// CacheStats are a Cache's counters.
type CacheStats struct {
	Open      int   // sealed segments with open files
	Opens     int64 // sealed segments opened (first use, reopen after eviction, seal)
	Evictions int64 // sealed segments whose files the Cache closed
}

// Stats returns the Cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Open: len(c.mu.ring), Opens: c.opens.Load(), Evictions: c.evictions.Load()}
}

// opened counts s, a sealed segment whose files were just opened, and closes the files
// of others while more than max are open.
func (c *Cache) opened(s *Segment) {
	if c == nil {
		return
	}
	c.opens.Add(1)
	c.mu.Lock()
	if !s.cached {
		s.cached = true
		c.mu.ring = append(c.mu.ring, s)
	}
	var closing []*files
	for tries := 2 * len(c.mu.ring); len(c.mu.ring) > c.max && tries > 0; tries-- {
		if c.mu.hand >= len(c.mu.ring) {
			c.mu.hand = 0
		}
		v := c.mu.ring[c.mu.hand]
		if v == s || v.used.Swap(false) {
			c.mu.hand++
			continue
		}
		f, ok := v.evict()
		if !ok {
			c.mu.hand++
			continue
		}
		if f != nil {
			closing = append(closing, f)
			c.evictions.Add(1)
		}
		c.removeLocked(c.mu.hand)
	}
	c.mu.Unlock()
	for _, f := range closing {
		f.release()
	}
}

// remove forgets s (its files were closed, or it is active again).
func (c *Cache) remove(s *Segment) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.cached {
		c.removeLocked(slices.Index(c.mu.ring, s))
	}
}

func (c *Cache) removeLocked(i int) {
	r := c.mu.ring
	r[i].cached = false
	r[i] = r[len(r)-1]
	r[len(r)-1] = nil
	c.mu.ring = r[:len(r)-1]
}
