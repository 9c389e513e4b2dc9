package controller

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long a controller waits for the watch to
// confirm its own writes before it syncs anyway, as upstream's: a
// dropped watch event must not stall a controller forever.
const ExpectationsTimeout = 5 * time.Minute

// Expectations remember, per controller key, the creations and deletions
// a controller has sent but not yet seen come back through its
// informers (upstream's UIDTrackingControllerExpectations). While some
// are outstanding the controller must not act on its cache again, or it
// would create (or delete) twice. Deletions are tracked by pod key so
// that seeing one deletion twice (an update with deletionTimestamp, then
// the delete) counts once. Safe for concurrent use.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool
	at        time.Time
}

// NewExpectations makes empty expectations; clock times their expiry
// (nil: the real clock).
func NewExpectations(c clock.PassiveClock) *Expectations {
	if c == nil {
		c = clock.RealClock{}
	}
	return &Expectations{clock: c, m: map[string]*expectation{}}
}

// Satisfied reports whether key may sync: nothing outstanding, nothing
// recorded, or what was recorded is older than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.clock.Since(x.at) > ExpectationsTimeout
}

// ExpectCreations records that key is about to create n objects,
// replacing whatever was recorded.
func (e *Expectations) ExpectCreations(key string, n int) { e.Expect(key, n, nil) }

// ExpectDeletions records that key is about to delete the objects named
// by objKeys, replacing whatever was recorded.
func (e *Expectations) ExpectDeletions(key string, objKeys []string) { e.Expect(key, 0, objKeys) }

// CreationObserved counts one creation of key as seen (or as abandoned,
// when the create failed or was skipped).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved counts the deletion of objKey by key as seen (or
// abandoned); an objKey not expected is ignored.
func (e *Expectations) DeletionObserved(key, objKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletions, objKey)
	}
}

// Delete forgets key (its object is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// Expect records that key is about to create adds objects and delete
// the objects named by objKeys in the same sync (the DaemonSet
// controller does both), replacing whatever was recorded.
func (e *Expectations) Expect(key string, adds int, objKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := make(map[string]bool, len(objKeys))
	for _, k := range objKeys {
		d[k] = true
	}
	e.m[key] = &expectation{adds: adds, deletions: d, at: e.clock.Now()}
}
