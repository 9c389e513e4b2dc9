package controller

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// drain returns the keys queued now, sorted.
func drain(q *Queue) []string {
	var out []string
	for q.Len() > 0 {
		k, _ := q.queue.Get()
		q.queue.Done(k)
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOwnedPods(t *testing.T) {
	owned := func(rv string, mods ...func(*v1.Pod)) *v1.Pod {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: rv, Labels: map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "u", Controller: ptr.To(true)}}}}
		for _, m := range mods {
			m(p)
		}
		return p
	}
	orphan := func(p *v1.Pod) { p.OwnerReferences = nil }
	relabel := func(p *v1.Pod) { p.Labels = map[string]string{"app": "db"} }
	deleting := func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
	ready := func(p *v1.Pod) {
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
	}
	for _, tc := range []struct {
		name    string
		event   func(h *OwnedPods)
		want    []string // queued at once
		later   []string // queued after minReadySeconds
		adopter string   // the orphan Adopters saw
	}{
		{name: "owned added", event: func(h *OwnedPods) { h.OnAdd(owned("1")) }, want: []string{"ns/web"}},
		{name: "orphan added", event: func(h *OwnedPods) { h.OnAdd(owned("1", orphan)) }, want: []string{"ns/adopter"}, adopter: "p"},
		{name: "orphan added being deleted", event: func(h *OwnedPods) { h.OnAdd(owned("1", orphan, deleting)) }},
		{name: "resync", event: func(h *OwnedPods) { h.OnUpdate(owned("1"), owned("1")) }},
		{name: "released", event: func(h *OwnedPods) { h.OnUpdate(owned("1"), owned("2", orphan)) }, want: []string{"ns/adopter", "ns/web"}, adopter: "p"},
		{name: "orphan relabelled", event: func(h *OwnedPods) { h.OnUpdate(owned("1", orphan), owned("2", orphan, relabel)) }, want: []string{"ns/adopter"}, adopter: "p"},
		{name: "orphan unchanged labels", event: func(h *OwnedPods) { h.OnUpdate(owned("1", orphan), owned("2", orphan)) }},
		{name: "owned relabelled while deleting", event: func(h *OwnedPods) { h.OnUpdate(owned("1"), owned("2", relabel, deleting)) }, want: []string{"ns/web"}},
		{name: "owned ready", event: func(h *OwnedPods) { h.OnUpdate(owned("1"), owned("2", ready)) }, want: []string{"ns/web"}, later: []string{"ns/web"}},
		{name: "owned deleted (tombstone)", event: func(h *OwnedPods) { h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: owned("1")}) }, want: []string{"ns/web"}},
		{name: "orphan deleted", event: func(h *OwnedPods) { h.OnDelete(owned("1", orphan)) }},
	} {
		clk := clocktesting.NewFakeClock(time.Unix(0, 0))
		q, err := New(Config{Name: "test", Sync: func(context.Context, string) error { return nil }, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		var saw string
		h := &OwnedPods{Kind: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), Queue: q,
			Adopters:        func(p *v1.Pod) []string { saw = p.Name; return []string{p.Namespace + "/adopter"} },
			MinReadySeconds: func(ns, name string) int32 { return 10 }}
		tc.event(h) // no Expectations: none counted, no panic
		if got := drain(q); !reflect.DeepEqual(got, tc.want) || saw != tc.adopter {
			t.Errorf("%s: queued %v (adopters saw %q), want %v (%q)", tc.name, got, saw, tc.want, tc.adopter)
		}
		clk.Step(11 * time.Second)
		if tc.later != nil {
			// The delayed add lands through the clock's waiter goroutine.
			for i := 0; i < 6000 && q.Len() == 0; i++ {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if got := drain(q); !reflect.DeepEqual(got, tc.later) {
			t.Errorf("%s: queued later %v, want %v", tc.name, got, tc.later)
		}
		q.ShutDown()
	}
}

func TestOwnedPodsCountsExpectations(t *testing.T) {
	q, _ := New(Config{Name: "test", Sync: func(context.Context, string) error { return nil }})
	defer q.ShutDown()
	e := NewExpectations(clocktesting.NewFakeClock(time.Unix(0, 0)))
	e.ExpectCreations("ns/web", 1)
	h := &OwnedPods{Kind: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), Queue: q, Expectations: e,
		Adopters: func(*v1.Pod) []string { return nil }, MinReadySeconds: func(string, string) int32 { return 0 }}
	h.OnAdd(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "u", Controller: ptr.To(true)}}}})
	if !e.Satisfied("ns/web") {
		t.Error("the creation was not observed")
	}
}
