// Package ttlcache is a small map of values that expire. It keeps hot
// look-ups (a token's principal, a plugin's latest version) off the
// database; its entries live seconds, so changes made through another
// gateway show within that time.
package ttlcache

import (
	"sync"
	"time"
)

// Limit bounds a cache; a full cache is emptied rather than grown.
const Limit = 10000

// Cache maps keys to values that expire TTL after they were put. A TTL of
// zero or less disables it: Get finds nothing. The zero value is a
// disabled cache.
type Cache[V any] struct {
	TTL time.Duration

	mu sync.Mutex
	m  map[string]entry[V]
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a cache whose entries live ttl.
func New[V any](ttl time.Duration) *Cache[V] { return &Cache[V]{TTL: ttl} }

// Get returns the value of key unless it expired by now.
func (c *Cache[V]) Get(key string, now time.Time) (V, bool) {
	var zero V
	if c.TTL <= 0 {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.After(e.until) {
		return zero, false
	}
	return e.v, true
}

// Put stores the value of key, to expire TTL after now.
func (c *Cache[V]) Put(key string, v V, now time.Time) {
	if c.TTL <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= Limit {
		c.m = make(map[string]entry[V])
	}
	c.m[key] = entry[V]{v: v, until: now.Add(c.TTL)}
}

// Forget removes key.
func (c *Cache[V]) Forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// Clear removes every entry.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
