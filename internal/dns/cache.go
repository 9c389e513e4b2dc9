package dns

import (
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// cache holds forwarded answers until their TTL (capped) runs out. It is
// bounded: when full, an arbitrary entry goes (Go's map order), which
// costs nothing to keep and is good enough for a node's resolver; a
// library LRU would add a dependency for no measurable gain here.
type cache struct {
	mu      sync.Mutex
	max     int
	maxTTL  time.Duration
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name          string
	qtype, qclass uint16
	do            bool // DNSSEC OK: a different answer
}

type cacheEntry struct {
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
}

func newCache(max int, maxTTL time.Duration) *cache {
	return &cache{max: max, maxTTL: maxTTL, entries: map[cacheKey]cacheEntry{}}
}

// get returns a copy of the cached answer for q with its TTLs lowered by
// the time it has been cached, or nil.
func (c *cache) get(k cacheKey, now time.Time) *mdns.Msg {
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl -= min(h.Ttl, age)
			}
		}
	}
	return m
}

// put stores an answer for its lowest TTL, at most maxTTL; answers that
// are failures or truncated are not stored.
func (c *cache) put(k cacheKey, m *mdns.Msg, now time.Time) {
	if m.Truncated || (m.Rcode != mdns.RcodeSuccess && m.Rcode != mdns.RcodeNameError) {
		return
	}
	ttl := c.maxTTL
	if len(m.Answer) == 0 {
		// A negative answer is kept for its SOA's TTL and MINIMUM, and
		// not at all without an SOA (RFC 2308 5).
		var soa *mdns.SOA
		for _, rr := range m.Ns {
			if s, ok := rr.(*mdns.SOA); ok {
				soa = s
			}
		}
		if soa == nil {
			return
		}
		ttl = min(ttl, time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second)
	}
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if t := time.Duration(rr.Header().Ttl) * time.Second; t < ttl {
				ttl = t
			}
		}
	}
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{msg: m.Copy(), stored: now, expires: now.Add(ttl)}
}
