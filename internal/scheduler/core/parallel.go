package core

import (
	"sync"
	"sync/atomic"
)

// parallelize calls fn(i) for every i in [0, n) on up to workers
// goroutines, handing out small pieces so uneven work balances. Small jobs
// run on the caller's goroutine: spawning costs more than it saves.
func parallelize(workers, n int, fn func(i int)) {
	const minPerWorker = 16
	if workers > n/minPerWorker {
		workers = n / minPerWorker
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	const piece = 8
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		defer wg.Done()
		for {
			lo := int(next.Add(piece)) - piece
			if lo >= n {
				return
			}
			for i := lo; i < min(lo+piece, n); i++ {
				fn(i)
			}
		}
	}
	wg.Add(workers)
	for w := 1; w < workers; w++ {
		go work()
	}
	work()
	wg.Wait()
}
