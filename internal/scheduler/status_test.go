package scheduler

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetPodCondition(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	unsched := func(msg string, at metav1.Time) v1.PodCondition {
		return v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable, Message: msg, LastTransitionTime: at}
	}
	tests := []struct {
		name        string
		before      []v1.PodCondition
		set         v1.PodCondition
		wantChanged bool
		want        v1.PodCondition
	}{
		{"new condition", nil, unsched("a", metav1.Time{}), true, unsched("a", t1)},
		{"same condition: nothing to write", []v1.PodCondition{unsched("a", t0)}, unsched("a", metav1.Time{}), false, unsched("a", t0)},
		{"new message keeps the transition time", []v1.PodCondition{unsched("a", t0)}, unsched("b", metav1.Time{}), true, unsched("b", t0)},
		{"status change moves it",
			[]v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: t0}},
			unsched("a", metav1.Time{}), true, unsched("a", t1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &v1.PodStatus{Conditions: append([]v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionFalse}}, tt.before...)}
			if got := setPodCondition(st, tt.set, t1); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			if len(st.Conditions) != 2 || st.Conditions[0].Type != v1.PodReady {
				t.Fatalf("conditions = %+v", st.Conditions)
			}
			if got := st.Conditions[1]; got.Message != tt.want.Message || got.Status != tt.want.Status || !got.LastTransitionTime.Equal(&tt.want.LastTransitionTime) {
				t.Errorf("condition = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short"); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
	long := strings.Repeat("x", 2000)
	got := truncate(long)
	if len(got) != noteLengthLimit || !strings.HasSuffix(got, " ...") {
		t.Errorf("truncate(2000 x) has length %d and ends %q", len(got), got[len(got)-5:])
	}
}

// fakeSink counts the writes in flight.
type fakeSink struct {
	inFlight, peak atomic.Int32
}

func (f *fakeSink) write() (*eventsv1.Event, error) {
	n := f.inFlight.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	f.inFlight.Add(-1)
	return &eventsv1.Event{}, nil
}

func (f *fakeSink) Create(context.Context, *eventsv1.Event) (*eventsv1.Event, error) {
	return f.write()
}
func (f *fakeSink) Update(context.Context, *eventsv1.Event) (*eventsv1.Event, error) {
	return f.write()
}
func (f *fakeSink) Patch(context.Context, *eventsv1.Event, []byte) (*eventsv1.Event, error) {
	return f.write()
}

func TestBoundedEventSink(t *testing.T) {
	f := &fakeSink{}
	b := &boundedEventSink{sink: f, slots: make(chan struct{}, maxEventWrites)}
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				_, _ = b.Create(context.Background(), &eventsv1.Event{})
			case 1:
				_, _ = b.Update(context.Background(), &eventsv1.Event{})
			default:
				_, _ = b.Patch(context.Background(), &eventsv1.Event{}, nil)
			}
		})
	}
	wg.Wait()
	if p := f.peak.Load(); p > maxEventWrites || p < 2 {
		t.Errorf("peak writes in flight = %d, want 2..%d", p, maxEventWrites)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	full := &boundedEventSink{sink: f, slots: make(chan struct{})}
	if _, err := full.Create(ctx, &eventsv1.Event{}); err == nil {
		t.Error("a write waiting for a slot ignored its context")
	}
}
