package controller

import (
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
)

func TestSlowStartBatches(t *testing.T) {
	for n, want := range map[int][]int{0: nil, 1: {1}, 3: {1, 2}, 10: {1, 2, 4, 3}, 16: {1, 2, 4, 8, 1}} {
		if got := SlowStartBatches(n); !reflect.DeepEqual(got, want) {
			t.Errorf("SlowStartBatches(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestSlowStart(t *testing.T) {
	var calls atomic.Int32
	seen := make([]atomic.Bool, 10)
	sent, err := SlowStart(10, func(i int) error { calls.Add(1); seen[i].Store(true); return nil })
	if sent != 10 || err != nil || calls.Load() != 10 {
		t.Errorf("sent %d err %v calls %d", sent, err, calls.Load())
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Errorf("fn(%d) not called", i)
		}
	}
	// A failure in the batch of 2 stops before the batch of 4.
	calls.Store(0)
	sent, err = SlowStart(10, func(i int) error {
		calls.Add(1)
		if i == 2 {
			return errors.New("no")
		}
		return nil
	})
	if sent != 3 || err == nil || calls.Load() != 3 {
		t.Errorf("sent %d err %v calls %d", sent, err, calls.Load())
	}
}
