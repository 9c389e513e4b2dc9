package podgc

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func pod(name, node string, phase v1.PodPhase, age time.Duration) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0.Add(-age))},
		Spec:       v1.PodSpec{NodeName: node},
		Status:     v1.PodStatus{Phase: phase},
	}
}

func names(pods []*v1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestDecide(t *testing.T) {
	exists := func(n string) bool { return n == "n1" }
	deleting := pod("deleting", "", v1.PodPending, time.Minute)
	deleting.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	pods := []*v1.Pod{
		pod("old-done", "n1", v1.PodSucceeded, 3*time.Hour),
		pod("mid-failed", "n1", v1.PodFailed, 2*time.Hour),
		pod("new-done", "n1", v1.PodSucceeded, time.Hour),
		pod("running", "n1", v1.PodRunning, time.Hour),
		pod("on-ghost", "ghost", v1.PodRunning, time.Hour),
		pod("pending", "", v1.PodPending, time.Hour),
		deleting,
	}
	missing := map[string]time.Time{"came-back": t0.Add(-time.Hour)}
	first := Decide(Input{Pods: pods, NodeExists: exists, MissingSince: missing, Threshold: 1, Now: t0})
	got := [][]string{names(first.Terminated), names(first.Orphaned), names(first.UnscheduledTerminating)}
	want := [][]string{{"mid-failed", "old-done"}, {}, {"deleting"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first pass = %v, want %v", got, want)
	}
	if _, ok := missing["came-back"]; ok || !missing["ghost"].Equal(t0) {
		t.Errorf("missing = %v", missing)
	}
	// Still in quarantine, then past it.
	if p := Decide(Input{Pods: pods, NodeExists: exists, MissingSince: missing, Now: t0.Add(Quarantine - time.Second)}); len(p.Orphaned) != 0 {
		t.Errorf("collected during quarantine: %v", names(p.Orphaned))
	}
	if p := Decide(Input{Pods: pods, NodeExists: exists, MissingSince: missing, Now: t0.Add(Quarantine)}); !reflect.DeepEqual(names(p.Orphaned), []string{"on-ghost"}) {
		t.Errorf("orphaned = %v", names(p.Orphaned))
	}
	if p := Decide(Input{Pods: pods, NodeExists: exists, MissingSince: map[string]time.Time{}, Threshold: 0, Now: t0}); len(p.Terminated) != 0 {
		t.Error("threshold 0 must keep every terminated pod")
	}
}

func TestSyncCollectsPodsOfAGoneNodeAfterQuarantine(t *testing.T) {
	objs := []runtime.Object{pod("on-ghost", "ghost", v1.PodRunning, time.Hour), &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}
	client := fake.NewClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	c, err := newController(controller.Context{Client: client, Informers: inf, Clock: clk}, 10)
	if err != nil {
		t.Fatal(err)
	}
	_ = inf.Core().V1().Pods().Informer().GetIndexer().Add(objs[0])
	_ = inf.Core().V1().Nodes().Informer().GetIndexer().Add(objs[1])
	client.ClearActions()
	if err := c.sync(context.Background(), key); !isRequeue(err) || len(client.Actions()) != 0 {
		t.Fatalf("first pass: %v, actions %v", err, client.Actions())
	}
	clk.Step(Quarantine)
	if err := c.sync(context.Background(), key); !isRequeue(err) {
		t.Fatal(err)
	}
	var verbs []string
	for _, a := range client.Actions() {
		verbs = append(verbs, fmt.Sprintf("%s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource()))
	}
	want := []string{"get nodes/", "update pods/status", "delete pods/"}
	if !reflect.DeepEqual(verbs, want) {
		t.Errorf("actions = %v, want %v", verbs, want)
	}
}

func isRequeue(err error) bool {
	return err != nil && !controller.IsPermanent(err) && err.Error() == "requeue after 20s"
}
