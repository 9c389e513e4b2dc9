package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/internal/storage"
)

func freeURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func startStore(t *testing.T) *storage.Store {
	t.Helper()
	srv, err := etcd.Start(context.Background(), etcd.Config{DataDir: t.TempDir(), ClientURL: freeURL(t), PeerURL: freeURL(t),
		UnsafeNoFsync: true, ProgressNotifyInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return storage.New(srv.Client())
}

func receive(t *testing.T, ch <-chan storage.Event, n int) []storage.Event {
	t.Helper()
	var got []storage.Event
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %d of %d events", len(got), n)
			}
			if ev.Type != storage.Progress {
				got = append(got, ev)
			}
		case <-timeout:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
	return got
}

// One feed serves many watchers, from any revision it still holds, and
// watchers older than that are served by etcd: nobody misses an event.
func TestWatchHub(t *testing.T) {
	store := startStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := newWatchHub(ctx, store, slog.New(slog.DiscardHandler))
	f, err := hub.feed("/registry/things/")
	if err != nil {
		t.Fatal(err)
	}
	var revs []int64
	for i := 0; i < 3; i++ {
		rev, err := store.Create(ctx, fmt.Sprintf("/registry/things/ns%d/a%d", i%2, i), []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	all, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", f.from)
	if got := receive(t, all, 3); got[0].Revision != revs[0] || got[2].Revision != revs[2] {
		t.Errorf("events %+v", got)
	}
	later, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", revs[0])
	if got := receive(t, later, 2); got[0].Revision != revs[1] {
		t.Errorf("re-watch from %d got %+v", revs[0], got)
	}
	ns0, _ := hub.watch(ctx, "/registry/things/", "/registry/things/ns0/", f.from)
	if got := receive(t, ns0, 2); got[0].Key != "/registry/things/ns0/a0" || got[1].Revision != revs[2] {
		t.Errorf("namespace watch got %+v", got)
	}
	if n := len(f.subs); n != 3 {
		t.Errorf("feed has %d subscribers, want 3", n)
	}

	// Push the early events out of history: a watch from before them must
	// still see every one (from etcd).
	var last int64
	for i := 0; i < feedHistory; i++ {
		if last, err = store.Create(ctx, fmt.Sprintf("/registry/things/x/%d", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	// The history has wrapped around: a recent re-watch still gets its
	// events in order.
	recent, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", last-10)
	for i, ev := range receive(t, recent, 10) {
		if ev.Revision != last-9+int64(i) {
			t.Fatalf("recent re-watch event %d has revision %d, want %d", i, ev.Revision, last-9+int64(i))
		}
	}
	old, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", f.from)
	if got := receive(t, old, 3+feedHistory); got[0].Revision != revs[0] {
		t.Errorf("old watch starts at %d, want %d", got[0].Revision, revs[0])
	}
}

// A watcher that does not read is dropped rather than holding up others.
func TestWatchHubDropsSlowWatchers(t *testing.T) {
	store := startStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := newWatchHub(ctx, store, slog.New(slog.DiscardHandler))
	f, err := hub.feed("/registry/things/")
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", f.from)
	fast, _ := hub.watch(ctx, "/registry/things/", "/registry/things/", f.from)
	done := make(chan int)
	go func() {
		n := 0
		for range fast {
			n++
			if n == subscriberBuffer+10 {
				break
			}
		}
		done <- n
	}()
	for i := 0; i < subscriberBuffer+10; i++ {
		if _, err := store.Create(ctx, fmt.Sprintf("/registry/things/x/%d", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the fast watcher was held up")
	}
	n := 0
	for range slow {
		n++
	}
	if n >= subscriberBuffer+10 {
		t.Errorf("the slow watcher got all %d events; it should have been dropped", n)
	}
}
