package controller

import (
	"errors"
	"sync"
)

// SlowStartInitialBatchSize is the first batch of a slow start; each
// batch that fully succeeds doubles the next (upstream's slowStartBatch),
// so that a failing template costs one request, not hundreds.
const SlowStartInitialBatchSize = 1

// SlowStartBatches splits n calls into upstream's slow-start batches: 1,
// 2, 4, ... and the rest.
func SlowStartBatches(n int) []int {
	var out []int
	for size := SlowStartInitialBatchSize; n > 0; size *= 2 {
		b := min(size, n)
		out = append(out, b)
		n -= b
	}
	return out
}

// SlowStart calls fn(0) .. fn(n-1), each batch of SlowStartBatches(n)
// concurrently, and stops after the first batch in which a call failed.
// It returns how many calls it made and their errors, joined.
func SlowStart(n int, fn func(i int) error) (int, error) {
	sent := 0
	for _, batch := range SlowStartBatches(n) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for j := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = fn(sent + j)
			}()
		}
		wg.Wait()
		sent += batch
		if err := errors.Join(errs...); err != nil {
			return sent, err
		}
	}
	return sent, nil
}
