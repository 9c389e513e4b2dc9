package apiserver

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

// objectCache mirrors one cluster-scoped resource in memory from a storage
// watch, as upstream's admission plugins use informers: admission reads it
// instead of etcd on every write. It may lag a write by a moment; callers
// that must see their own writes fall back to storage on a miss.
type objectCache struct {
	s   *Server
	res *resource

	mu     sync.RWMutex
	items  map[string]runtime.Object
	synced bool
}

func newObjectCache(s *Server, res *resource) *objectCache {
	return &objectCache{s: s, res: res, items: map[string]runtime.Object{}}
}

// run keeps the cache current until ctx ends: list, then watch from the
// list's revision; relist whenever the watch fails.
func (c *objectCache) run(ctx context.Context) {
	for ctx.Err() == nil {
		rev, err := c.relist(ctx)
		if err == nil {
			err = c.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			return
		}
		c.s.cfg.Logger.Debug("admission cache relists", "resource", c.res.Plural, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (c *objectCache) relist(ctx context.Context) (int64, error) {
	page, err := c.s.store.List(ctx, storage.ListOptions{Prefix: c.res.storagePrefix()})
	if err != nil {
		return 0, err
	}
	items := make(map[string]runtime.Object, len(page.Items))
	for _, it := range page.Items {
		obj, err := decodeStored(c.res, it.Value, it.Revision)
		if err != nil {
			continue
		}
		items[strings.TrimPrefix(it.Key, c.res.storagePrefix())] = obj
	}
	c.mu.Lock()
	c.items, c.synced = items, true
	c.mu.Unlock()
	return page.Revision, nil
}

func (c *objectCache) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, errc := c.s.store.Watch(wctx, c.res.storagePrefix(), rev)
	for ev := range events {
		name := strings.TrimPrefix(ev.Key, c.res.storagePrefix())
		switch ev.Type {
		case storage.Put:
			obj, err := decodeStored(c.res, ev.Value, ev.Revision)
			if err != nil {
				continue
			}
			c.mu.Lock()
			c.items[name] = obj
			c.mu.Unlock()
		case storage.Delete:
			c.mu.Lock()
			delete(c.items, name)
			c.mu.Unlock()
		}
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// get returns the cached object; ok is false on a miss. The object is
// shared: callers must not change it.
func (c *objectCache) get(name string) (runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	obj, ok := c.items[name]
	return obj, ok
}

// list returns every cached object (shared; do not change them) and
// whether the cache has synced at least once.
func (c *objectCache) list() ([]runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]runtime.Object, 0, len(c.items))
	for _, o := range c.items {
		out = append(out, o)
	}
	return out, c.synced
}
