package apiserver

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/skiff-sh/skiff/internal/storage"
)

// watchHub fans one etcd watch per resource out to every client watching
// that resource, as upstream's watch cache does: a hundred informers on pods
// cost etcd one watch, not a hundred. Each feed keeps its recent events so a
// client that re-watches from a resourceVersion it saw a moment ago is
// served from memory. A watch the hub cannot serve (older than what it
// holds) goes to etcd directly, so no event is ever skipped.
type watchHub struct {
	store  *storage.Store
	logger *slog.Logger
	// ctx bounds every feed: the server's lifetime.
	ctx context.Context

	mu    sync.Mutex
	feeds map[string]*feed
}

const (
	// feedHistory is how many recent events a feed keeps for re-watches.
	feedHistory = 1024
	// subscriberBuffer is how far a client may lag before it is dropped
	// (its watch ends; it watches again from its last resourceVersion).
	subscriberBuffer = 1024
)

func newWatchHub(ctx context.Context, store *storage.Store, logger *slog.Logger) *watchHub {
	return &watchHub{store: store, logger: logger, ctx: ctx, feeds: map[string]*feed{}}
}

// feed is one etcd watch on a resource prefix and its subscribers.
type feed struct {
	mu sync.Mutex
	// from is the revision the etcd watch started after; truncated is the
	// revision of the newest event dropped from history. Events after
	// max(from, truncated) are all in history.
	from, truncated int64
	// history is a ring of the last feedHistory events, oldest at head.
	history []storage.Event
	head    int
	subs    map[*subscriber]struct{}
	dead    bool
}

type subscriber struct {
	prefix string
	// after is the revision the client has seen: the feed may still be
	// behind it, and must not send it anything older.
	after int64
	ch    chan storage.Event
	errc  chan error
}

// watch streams events under prefix (within resource prefix resPrefix)
// after revision after, with the same contract as storage.Store.Watch.
func (h *watchHub) watch(ctx context.Context, resPrefix, prefix string, after int64) (<-chan storage.Event, <-chan error) {
	f, err := h.feed(resPrefix)
	if err != nil {
		return h.store.Watch(ctx, prefix, after)
	}
	sub := &subscriber{prefix: prefix, after: after, ch: make(chan storage.Event, subscriberBuffer), errc: make(chan error, 1)}
	f.mu.Lock()
	if f.dead || after < f.from || after < f.truncated {
		f.mu.Unlock()
		return h.store.Watch(ctx, prefix, after)
	}
	for i := range f.history {
		ev := f.history[(f.head+i)%len(f.history)]
		if ev.Revision > after && strings.HasPrefix(ev.Key, prefix) {
			sub.ch <- ev // history is never longer than the buffer
		}
	}
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		f.drop(sub)
		f.mu.Unlock()
	}()
	return sub.ch, sub.errc
}

// drop ends a subscriber's stream; f.mu is held.
func (f *feed) drop(sub *subscriber) {
	if _, ok := f.subs[sub]; ok {
		delete(f.subs, sub)
		close(sub.ch)
	}
}

// feed returns the running feed of a resource prefix, starting it at the
// current revision if there is none.
func (h *watchHub) feed(resPrefix string) (*feed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.feeds[resPrefix]; ok {
		return f, nil
	}
	rev, err := h.store.Revision(h.ctx)
	if err != nil {
		return nil, err
	}
	f := &feed{from: rev, subs: map[*subscriber]struct{}{}}
	h.feeds[resPrefix] = f
	go h.run(resPrefix, f)
	return f, nil
}

// run relays the feed's etcd watch until it ends; then the feed is removed
// and its subscribers' streams end (their clients watch again).
func (h *watchHub) run(resPrefix string, f *feed) {
	events, errc := h.store.Watch(h.ctx, resPrefix, f.from)
	for ev := range events {
		f.mu.Lock()
		if ev.Type != storage.Progress {
			if len(f.history) < feedHistory {
				f.history = append(f.history, ev)
			} else {
				f.truncated = f.history[f.head].Revision
				f.history[f.head] = ev
				f.head = (f.head + 1) % feedHistory
			}
		}
		for sub := range f.subs {
			if ev.Revision <= sub.after || (ev.Type != storage.Progress && !strings.HasPrefix(ev.Key, sub.prefix)) {
				continue
			}
			select {
			case sub.ch <- ev:
			default:
				f.drop(sub) // too slow: it re-watches from where it is
			}
		}
		f.mu.Unlock()
	}
	var err error
	select {
	case err = <-errc:
	default:
	}
	if h.ctx.Err() == nil {
		h.logger.Info("watch feed ended; clients will watch again", "prefix", resPrefix, "err", err)
	}
	h.mu.Lock()
	if h.feeds[resPrefix] == f {
		delete(h.feeds, resPrefix)
	}
	h.mu.Unlock()
	f.mu.Lock()
	f.dead = true
	for sub := range f.subs {
		f.drop(sub)
	}
	f.mu.Unlock()
}
