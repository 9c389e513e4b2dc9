package kubelet

import (
	"sync"
	"time"
)

// backoff is a per-key exponential back-off: the crash-loop back-off of
// containers and the image pull back-off. It holds no clock: every call
// says what "now" is, so the rules are pure and table-tested.
//
// Its semantics are upstream's (client-go flowcontrol.Backoff as the
// kubelet uses it): the first failure costs nothing, each later one
// waits twice as long as the one before, up to max; a key that saw no
// failure for twice max starts again from initial.
type backoff struct {
	initial, max time.Duration

	mu      sync.Mutex
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, entries: map[string]backoffEntry{}}
}

func (b *backoff) expired(e backoffEntry, eventTime time.Time) bool {
	return eventTime.Sub(e.lastUpdate) > 2*b.max
}

// InBackOffSince reports whether an event (a container's end) at
// eventTime is still within its key's back-off at now, and the delay.
func (b *backoff) InBackOffSince(key string, eventTime, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		return false, 0
	}
	return now.Sub(eventTime) < e.delay, e.delay
}

// InBackOffSinceUpdate reports whether now is within the back-off that
// began at the key's last Next (used for image pulls, which have no
// event time of their own).
func (b *backoff) InBackOffSinceUpdate(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, now) {
		return false, 0
	}
	return now.Sub(e.lastUpdate) < e.delay, e.delay
}

// Next records a failure at eventTime, seen at now: the key's delay
// starts at initial or doubles up to max.
func (b *backoff) Next(key string, eventTime, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		e.delay = b.initial
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.lastUpdate = now
	b.entries[key] = e
	return e.delay
}

// Forget drops keys with the prefix (a pod's, when it is gone).
func (b *backoff) Forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
