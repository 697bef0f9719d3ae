package gateway

import (
	"sync"
	"time"

	"github.com/orc-gateway/orc"
)

// cacheLimit bounds each cache; a full cache is emptied rather than grown.
const cacheLimit = 10000

// ttlCache is a small map of values that expire. It keeps hot lookups
// (a token's principal, a plugin's latest version) off the database on the
// invoke path; its entries live seconds, so changes made through another
// gateway show within that time.
type ttlCache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	if c.ttl <= 0 {
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

func (c *ttlCache[V]) put(key string, v V, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheLimit {
		c.m = make(map[string]ttlEntry[V])
	}
	c.m[key] = ttlEntry[V]{v: v, until: now.Add(c.ttl)}
}

func (c *ttlCache[V]) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// findPlugin is FindPlugin through the plugin cache.
func (s *Server) findPlugin(name string, find func() (*orc.Plugin, error)) (*orc.Plugin, error) {
	now := s.Clock.Now()
	if p, ok := s.plugins.get(name, now); ok {
		return p, nil
	}
	p, err := find()
	if err == nil {
		s.plugins.put(name, p, now)
	}
	return p, err
}
