// Package informerrun is the informer plumbing that level-based node
// components (kube-proxy, the cluster DNS) share: start a shared informer
// factory, wait for it, stop it; and a handler that only says "something
// changed".
package informerrun

import (
	"context"
	"fmt"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Start starts f's informers and waits until they have synced. They run
// until stop is called (or ctx ends); stop also waits for their
// goroutines, so call it (defer it) whatever Start returned. The error is
// ctx's when ctx ended first, else it names an informer that did not sync.
func Start(ctx context.Context, f informers.SharedInformerFactory) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	stop = func() { cancel(); f.Shutdown() }
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return stop, ctx.Err()
			}
			return stop, fmt.Errorf("%v informer did not sync", typ)
		}
	}
	return stop, nil
}

// Signal is a handler that sends on ch, without blocking, for every add,
// update and delete. With a channel of capacity 1 a burst of changes
// wakes the receiver once.
func Signal(ch chan<- struct{}) cache.ResourceEventHandlerFuncs {
	send := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { send() },
		UpdateFunc: func(any, any) { send() },
		DeleteFunc: func(any) { send() },
	}
}
